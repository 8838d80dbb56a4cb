"""Corrections: replay from seed + actions, the synthetic corrector, training, the loop."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rlhf_env  # noqa: F401  (registers the ids)
from rlhf_env.control.corrections import (
    CorrectorConfig,
    SyntheticCorrector,
    as_comparison,
    correction_demonstrations,
    correction_share,
    observation_digest,
    play,
    record_action,
    replay_correction,
    replay_corrections,
    training_records,
)
from rlhf_env.control.demonstrations import behaviour_clone, cartpole_expert
from rlhf_env.control.envs import make_rlhf_env
from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop
from rlhf_env.control.models import TrajectoryRewardNet
from rlhf_env.control.segments import SegmentBank
from rlhf_env.control.training import default_trainer_config, fit_segment_model, segment_returns
from rlhf_env.errors import ConfigError, FeedbackError
from rlhf_env.feedback.records import Comparison, ControlCorrection


class Pit(gym.Env):
    """A corridor: action 0 walks on (+1), action 1 falls into a pit (0, terminated)."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.array([self.t / 100], np.float32)
        return obs, float(action == 0), bool(action == 1), False, {}


if "TestPit-v0" not in gym.registry:
    gym.register("TestPit-v0", entry_point=Pit, max_episode_steps=100)


def deviate_at(k: int, then: int = 1):
    """Walk (0) until step ``k``, then ``then`` forever (observations count steps)."""
    return lambda obs: 0 if round(float(obs[0]) * 100) < k else then


def cartpole_record(step: int = 3, corrected=(0, 0, 0)) -> ControlCorrection:
    """Push right 30 times on CartPole (it falls near step 10); corrected from ``step``."""
    return ControlCorrection("RLHF-CartPole-v0", 3, (1,) * 30, step, corrected, horizon=60)


def test_replay_reproduces_the_original_and_changes_only_after_the_step() -> None:
    record = cartpole_record()
    env = make_rlhf_env("RLHF-CartPole-v0", horizon=60)
    episode = play(env, 3, record.actions, 30)  # what the policy did, played once more
    rep = replay_correction(record, 10, env=env)
    assert rep.start == 3
    window = slice(3, 13)
    assert np.array_equal(rep.original.obs, episode.obs[window])
    assert np.array_equal(rep.original.actions, episode.actions[window])
    assert np.array_equal(rep.original.true_rewards, episode.rewards[window])
    assert np.array_equal(rep.corrected.obs[0], rep.original.obs[0])  # same state at the step
    assert rep.corrected.actions[:3].tolist() == [0, 0, 0]
    assert rep.corrected.actions[3:].tolist() == [1] * 7  # open loop: the recorded actions
    assert not np.allclose(rep.corrected.obs[1:], rep.original.obs[1:])
    assert rep.corrected.true_return > rep.original.true_return


def test_replay_on_highway_shares_the_prefix_and_differs_after() -> None:
    pytest.importorskip("highway_env")
    from rlhf_env.control.highway import FASTER, IDLE, SLOWER, highway_expert

    env = make_rlhf_env("RLHF-Highway-v0", horizon=12)
    episode = play(env, 4, (), 12, highway_expert)
    actions = tuple(record_action(a) for a in episode.actions)
    brake = SLOWER if actions[5] != SLOWER else FASTER
    record = ControlCorrection("RLHF-Highway-v0", 4, actions, 5, (brake, brake), horizon=12,
                               state_digest=observation_digest(episode.obs[5]))
    rep = replay_correction(record, 6, policy=lambda obs: IDLE)
    assert rep.start == 5
    assert np.array_equal(rep.original.obs, episode.obs[5:11])
    assert np.array_equal(rep.original.true_rewards, episode.rewards[5:11])
    assert np.array_equal(rep.corrected.obs[0], episode.obs[5])
    assert rep.corrected.actions.tolist() == [brake, brake, IDLE, IDLE, IDLE, IDLE]
    assert not np.array_equal(rep.corrected.next_obs[0], rep.original.next_obs[0])


def test_replay_window_moves_back_at_the_end_of_the_episode() -> None:
    record = ControlCorrection("RLHF-CartPole-v0", 3, (1,) * 60, 55, (0,), horizon=60)
    rep = replay_correction(record, 10)
    assert rep.start == 50 and rep.corrected.length == 10
    assert np.array_equal(rep.corrected.obs[:6], rep.original.obs[:6])


def test_replay_refuses_what_it_cannot_rebuild() -> None:
    with pytest.raises(FeedbackError, match=r"holds 30 of the policy's actions, but the "
                                            r"original segment \(steps 25–34\) needs 35"):
        replay_correction(cartpole_record(step=25), 10)
    with pytest.raises(ConfigError, match="segments of 80 steps from step 3 do not fit"):
        replay_correction(cartpole_record(), 80)
    wrong = ControlCorrection("RLHF-CartPole-v0", 3, (1,) * 30, 8, (0,), horizon=60,
                              state_digest="0123456789abcdef")
    with pytest.raises(FeedbackError, match="reached another state at step 8 than the one"):
        replay_correction(wrong, 10)


def test_corrections_become_comparisons_and_demonstrations() -> None:
    bank = SegmentBank()
    with pytest.raises(FeedbackError, match=r"not been replayed .* replay_corrections"):
        as_comparison(cartpole_record())
    [record] = replay_corrections([cartpole_record()], bank, 10)
    assert record.metadata["start"] == 3 and len(bank) == 2
    pair = as_comparison(record)
    assert isinstance(pair, Comparison) and pair.preference == "a"
    assert pair.chosen == record.metadata["segments"][0]
    assert pair.annotator == record.annotator and pair.metadata["correction"] == record.id
    mixed = training_records([record, pair])
    assert [type(r) for r in mixed] == [Comparison, Comparison]
    [demo] = correction_demonstrations([record], bank)
    assert demo.actions.tolist() == [0, 0, 0] and len(demo) == 3
    assert np.array_equal(demo.obs[0], bank.get(pair.chosen).obs[0])


def test_the_corrector_finds_the_step_that_went_wrong() -> None:
    corrector = SyntheticCorrector("TestPit-v0", expert=lambda obs: 0, horizon=20,
                                   config=CorrectorConfig(lookahead=5, takeover=3))
    [record] = corrector.correct(deviate_at(7), 1, seeds=[0])
    assert record.step == 7 and record.corrected_actions == (0, 0, 0)
    assert record.actions[:7] == (0,) * 7 and record.actions[7] == 1
    assert record.annotator == "synthetic-corrector" and record.task == "TestPit-v0"
    assert corrector.correct(deviate_at(99), 2, seeds=[0, 1]) == []  # nothing went wrong
    # a policy that is wrong from the start is corrected at step 0
    assert corrector.correct(deviate_at(0), 1, seeds=[0])[0].step == 0


def test_the_corrector_steps_in_before_cartpole_falls() -> None:
    corrector = SyntheticCorrector("RLHF-CartPole-v0", horizon=60)
    policy = deviate_cartpole(12)
    [record] = corrector.correct(policy, 1, seeds=[0])
    episode = play(corrector.env, 0, record.actions, 60)
    fallen = int(np.flatnonzero(episode.rewards == 0.0)[0])
    assert 12 <= record.step < fallen  # after the policy stopped balancing, before the fall
    assert record.corrected_actions == tuple(
        record_action(a) for a in corrector.expert_from(0, list(record.actions),
                                                        record.step, 3).actions)


@pytest.mark.parametrize("env_id", ["RLHF-CartPole-v0", "RLHF-Highway-v0"])
def test_env_copies_and_replays_find_the_same_correction(env_id: str) -> None:
    if "Highway" in env_id:
        pytest.importorskip("highway_env")
    horizon = 30 if "CartPole" in env_id else 10  # CartPole falls after ~10 steps
    fast = SyntheticCorrector(env_id, horizon=horizon)
    slow = SyntheticCorrector(env_id, horizon=horizon)
    slow.copyable = False  # replay every prefix from the reset
    assert fast.copyable
    push = (lambda obs: 1) if "CartPole" in env_id else (lambda obs: 3)  # falls / crashes
    [a], [b] = fast.correct(push, 1, seeds=[2]), slow.correct(push, 1, seeds=[2])
    assert (a.step, a.corrected_actions, a.state_digest) == \
        (b.step, b.corrected_actions, b.state_digest)
    assert a.actions == b.actions and a.corrected_actions[0] != a.actions[a.step]


def deviate_cartpole(k: int):
    steps = {"t": 0}

    def act(obs):
        steps["t"] += 1
        return cartpole_expert(obs) if steps["t"] <= k else 1

    return act


def test_a_reward_model_learns_from_corrections_alone() -> None:
    corrector = SyntheticCorrector("RLHF-CartPole-v0", horizon=60)
    records = corrector.correct(lambda obs: 1, 12, seeds=range(12))
    assert len(records) == 12
    bank = SegmentBank()
    replayed = replay_corrections(records, bank, 10)
    env = make_rlhf_env("RLHF-CartPole-v0")
    net = TrajectoryRewardNet(env.observation_space, env.action_space, seed=0)
    fit_segment_model(net, replayed, bank, default_trainer_config(epochs=30, val_fraction=0.0))
    pairs = [as_comparison(r) for r in replayed]
    chosen = segment_returns(net, bank, [p.chosen for p in pairs])
    rejected = segment_returns(net, bank, [p.rejected for p in pairs])
    assert np.mean(chosen > rejected) >= 0.9


def test_corrections_clone_into_a_policy() -> None:
    from stable_baselines3 import PPO

    corrector = SyntheticCorrector("RLHF-CartPole-v0", horizon=60)
    bank = SegmentBank()
    replayed = replay_corrections(corrector.correct(lambda obs: 1, 6, seeds=range(6)), bank, 10)
    demos = correction_demonstrations(replayed, bank)
    agent = PPO("MlpPolicy", make_rlhf_env("RLHF-CartPole-v0"), seed=0)
    losses = behaviour_clone(agent, demos, epochs=10, batch_size=8)
    assert losses[-1] < losses[0]


def test_loop_spends_a_share_of_labels_on_corrections(tmp_path) -> None:
    config = LoopConfig(total_timesteps=512, total_labels=16, rounds=2, segment_length=10,
                        n_envs=2, ensemble_size=2, reward_epochs=3, horizon=50,
                        correction_fraction=0.5)
    loop = PreferenceLearningLoop("RLHF-CartPole-v0", config, checkpoint_dir=tmp_path,
                                  algorithm_kwargs={"n_steps": 128, "batch_size": 64,
                                                    "n_epochs": 2})
    before = [p.detach().clone() for p in loop.ensemble.parameters()]
    loop.run()
    kinds = [type(r).__name__ for r in loop.records]
    assert kinds.count("ControlCorrection") == 8 and kinds.count("Comparison") == 8
    assert loop.state.labels_used == 16
    fixes = [r for r in loop.records if isinstance(r, ControlCorrection)]
    assert all(r.metadata["segments"][0] in loop.bank for r in fixes)
    assert any(not np.allclose(a, b.detach())
               for a, b in zip(before, loop.ensemble.parameters(), strict=True))
    assert 0.0 <= loop.history[-1]["rlhf/reward_val_accuracy"] <= 1.0
    resumed = PreferenceLearningLoop.resume(tmp_path)
    assert resumed.records == loop.records and resumed.config.correction_fraction == 0.5


def test_config_and_share() -> None:
    with pytest.raises(ConfigError, match="correction_fraction must be"):
        LoopConfig(correction_fraction=1.5)
    with pytest.raises(ConfigError, match=r"CorrectorConfig\.takeover must be"):
        CorrectorConfig(takeover=0)
    assert [correction_share(n, 0.25) for n in (0, 1, 2, 8, 10)] == [0, 0, 0, 2, 2]
    with pytest.raises(ConfigError, match="no scripted expert for 'TestPit-v0'"):
        SyntheticCorrector("TestPit-v0")
