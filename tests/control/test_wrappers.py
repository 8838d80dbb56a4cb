"""Learned-reward wrappers keep the true reward; bad inputs fail loudly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rlhf_env.control.envs import make_rlhf_env
from rlhf_env.control.models import TrajectoryRewardNet
from rlhf_env.control.wrappers import LearnedRewardVecEnv, LearnedRewardWrapper
from rlhf_env.errors import RewardModelError


class ObsSum:
    """A transparent 'learned' reward: the sum of the next observation."""

    name = "obs-sum"

    def score(self, obs, act, next_obs):
        return np.asarray(next_obs, dtype=np.float32).reshape(len(obs), -1).sum(axis=1)


def _rollout(env: gym.Env, actions: list[int]) -> list[tuple]:
    env.reset(seed=3)
    return [env.step(a) for a in actions]


def test_wrapper_replaces_reward_and_keeps_true_reward_in_info() -> None:
    actions = [0, 1, 1, 0, 1] * 8
    plain = _rollout(make_rlhf_env("RLHF-CartPole-v0", horizon=40), actions)
    wrapped = _rollout(make_rlhf_env("RLHF-CartPole-v0", horizon=40, reward_model=ObsSum()),
                       actions)
    true = [r for _, r, *_ in plain]
    assert [info["true_reward"] for *_, info in wrapped] == true
    learned = [r for _, r, *_ in wrapped]
    assert learned == pytest.approx([float(o.sum()) for o, *_ in wrapped], rel=1e-5)
    assert learned != true
    assert [info["learned_reward"] for *_, info in wrapped] == learned


def test_vec_wrapper_scores_in_one_batch_and_uses_terminal_observation() -> None:
    from stable_baselines3.common.env_util import make_vec_env

    venv = LearnedRewardVecEnv(
        make_vec_env(lambda: make_rlhf_env("RLHF-CartPole-v0", horizon=5), n_envs=3, seed=0),
        ObsSum())
    venv.reset()
    for t in range(5):
        obs, rewards, dones, infos = venv.step(np.array([0, 1, 0]))
        if t < 4:
            assert rewards == pytest.approx(obs.sum(axis=1), rel=1e-5)
    assert dones.all()
    terminal = np.stack([info["terminal_observation"] for info in infos])
    assert rewards == pytest.approx(terminal.sum(axis=1), rel=1e-5)
    assert all(info["true_reward"] in (0.0, 1.0) for info in infos)
    assert len(venv.episode_true_returns) == 3


def test_nan_observations_raise_a_clear_error() -> None:
    env = gym.make("CartPole-v1")
    net = TrajectoryRewardNet(env.observation_space, env.action_space)
    obs = np.zeros((4, 4), dtype=np.float32)
    obs[2, 1] = np.nan
    with pytest.raises(RewardModelError, match="NaN or inf in observations of 1 of 4"):
        net.score(obs, np.zeros(4, dtype=np.int64), np.zeros((4, 4)))


def test_reward_model_of_the_wrong_input_size_raises() -> None:
    pendulum = gym.make("Pendulum-v1")
    net = TrajectoryRewardNet(pendulum.observation_space, pendulum.action_space)
    env = LearnedRewardWrapper(make_rlhf_env("RLHF-CartPole-v0"), net)
    env.reset(seed=0)
    with pytest.raises(RewardModelError, match=r"expects observations of shape \(n, 3\)"):
        env.step(0)


def test_reward_model_returning_nan_is_stopped() -> None:
    class Broken:
        name = "broken"

        def score(self, obs, act, next_obs):
            return np.full(len(obs), np.nan, dtype=np.float32)

    env = make_rlhf_env("RLHF-CartPole-v0", reward_model=Broken())
    env.reset(seed=0)
    with pytest.raises(RewardModelError, match="'broken' returned NaN"):
        env.step(0)


def test_failure_reward_caps_only_failed_transitions() -> None:
    """A constant +5 'learned' reward: steps in CartPole's failure state are capped at −2,
    the others keep +5, in both wrapper forms."""
    from stable_baselines3.common.env_util import make_vec_env

    class Five:
        name = "five"

        def score(self, obs, act, next_obs):
            return np.full(len(obs), 5.0, dtype=np.float32)

    single = make_rlhf_env("RLHF-CartPole-v0", horizon=30)
    single = LearnedRewardWrapper(single, Five(), failure_reward=-2.0)
    single.reset(seed=0)
    steps = [single.step(0) for _ in range(30)]  # always left: falls within 30 steps
    failed = [info["failed"] for *_, info in steps]
    assert any(failed) and not all(failed)
    assert [r for _, r, *_ in steps] == [-2.0 if f else 5.0 for f in failed]
    venv = LearnedRewardVecEnv(
        make_vec_env(lambda: make_rlhf_env("RLHF-CartPole-v0", horizon=30), n_envs=2, seed=0),
        Five(), failure_reward=-2.0)
    venv.reset()
    seen = set()
    for _ in range(30):
        _, rewards, _, infos = venv.step(np.array([0, 0]))
        for r, info in zip(rewards, infos, strict=True):
            assert r == (-2.0 if info["failed"] else 5.0)
            seen.add(bool(info["failed"]))
    assert seen == {True, False}
    venv.failure_reward = 7.0  # a cap above the score changes nothing
    _, rewards, _, _ = venv.step(np.array([0, 0]))
    assert rewards.tolist() == [5.0, 5.0]
