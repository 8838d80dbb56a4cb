"""The registered control ids: fixed horizon, absorbing failure, checkers, fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest

from rlhf_env._registration import CONTROL_ENV_IDS
from rlhf_env.checker import check_rlhf_env
from rlhf_env.control.envs import make_rlhf_env
from rlhf_env.errors import ConfigError


def _missing(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return True
    return False


NEEDS = {"RLHF-HalfCheetah-v0": "mujoco", "RLHF-Highway-v0": "highway_env"}
"""Control ids whose simulator is an optional package."""


@pytest.mark.parametrize("env_id", sorted(CONTROL_ENV_IDS))
def test_checkers_pass_on_every_control_id(env_id: str) -> None:
    if env_id in NEEDS and _missing(NEEDS[env_id]):
        pytest.skip(f"{NEEDS[env_id]} is not installed")
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_rlhf_env(env, warn=False)  # gymnasium + SB3 checkers and our rollout checks


def test_cartpole_never_ends_early_and_failure_is_absorbing() -> None:
    env = gym.make("RLHF-CartPole-v0", horizon=60)
    obs, _ = env.reset(seed=0)
    rewards, observations, failed = [], [], []
    for _ in range(60):
        obs, reward, terminated, truncated, info = env.step(1)  # always push right: falls
        assert not terminated
        rewards.append(reward)
        observations.append(obs)
        failed.append(info["failed"])
    assert truncated
    first = failed.index(True)
    assert 0 < first < 30
    assert all(failed[first:])
    assert rewards[first + 1:] == [0.0] * (59 - first)  # nothing to gain after the fall
    # one fixed failure observation, however the pole fell: the pole lies beyond the limit
    assert all(np.allclose(o, [0.0, 0.0, 0.4, 0.0]) for o in observations[first:])
    assert abs(observations[first - 1][2]) < 0.21


def test_registered_id_works_in_a_fresh_interpreter() -> None:
    code = ("import gymnasium as gym; e = gym.make('rlhf_env:RLHF-CartPole-v0'); "
            "o, _ = e.reset(seed=0); print(o.shape, e.spec.id)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert "(4,) RLHF-CartPole-v0" in out.stdout


def test_make_rlhf_env_wraps_any_id_with_a_fixed_horizon() -> None:
    env = make_rlhf_env("MountainCar-v0", horizon=15)
    env.reset(seed=0)
    steps = 0
    truncated = False
    while not truncated:
        *_, truncated, _ = env.step(0)
        steps += 1
    assert steps == 15


def test_unknown_id_raises_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown env id 'NoSuchEnv-v9'"):
        make_rlhf_env("NoSuchEnv-v9")


def test_checkers_pass_with_a_learned_reward_model() -> None:
    from rlhf_env.control.models import TrajectoryRewardNet

    base = gym.make("RLHF-Pendulum-v0")
    net = TrajectoryRewardNet(base.observation_space, base.action_space, seed=0)
    env = gym.make("RLHF-Pendulum-v0", reward_model=net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_rlhf_env(env, warn=False)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert reward != info["true_reward"] and "learned_reward" in info
