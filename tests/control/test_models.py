"""Trajectory reward models: forward vs score, normalisation, ensembles, segments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlhf_env.control.models import RunningNorm, TrajectoryRewardEnsemble, TrajectoryRewardNet
from rlhf_env.control.segments import Segment, SegmentBank, segment_id_from_ref, stack_segments
from rlhf_env.errors import FeedbackError, RewardModelError


def _spaces(env_id: str):
    env = gym.make(env_id)
    return env.observation_space, env.action_space


def test_score_is_numpy_float32_and_forward_keeps_gradients() -> None:
    net = TrajectoryRewardNet(*_spaces("Pendulum-v1"), seed=0)
    obs, act = np.random.default_rng(0).normal(size=(5, 3)), np.zeros((5, 1))
    scores = net.score(obs, act, obs)
    assert scores.dtype == np.float32 and scores.shape == (5,)
    out = net(torch.as_tensor(obs), torch.as_tensor(act), torch.as_tensor(obs))
    out.sum().backward()
    assert net.mlp[0].weight.grad is not None and net.mlp[0].weight.grad.abs().sum() > 0


def test_running_norm_matches_numpy_over_batches() -> None:
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(300, 4)).astype(np.float32)
    norm = RunningNorm(4)
    for part in np.array_split(x, 7):
        norm.update(torch.as_tensor(part))
    assert norm.mean.numpy() == pytest.approx(x.mean(0), abs=1e-4)
    assert norm.var.numpy() == pytest.approx(x.var(0), rel=1e-3)


def test_output_normalization_gives_unit_scale() -> None:
    net = TrajectoryRewardNet(*_spaces("CartPole-v1"), seed=0)
    obs = np.random.default_rng(2).normal(size=(200, 4))
    act = np.random.default_rng(3).integers(0, 2, 200)
    net.set_output_normalization(obs, act, obs)
    s = net.score(obs, act, obs)
    assert abs(s.mean()) < 1e-3 and s.std() == pytest.approx(1.0, abs=1e-3)


def test_ensemble_member_scores_shape_and_mean() -> None:
    ens = TrajectoryRewardEnsemble.build(*_spaces("CartPole-v1"), k=3, seed=0)
    obs = np.random.default_rng(0).normal(size=(6, 4))
    act = np.zeros(6, dtype=np.int64)
    members = ens.member_scores(obs, act, obs)
    assert members.shape == (3, 6)
    assert not np.allclose(members[0], members[1])  # members start different
    assert ens.score(obs, act, obs) == pytest.approx(members.mean(0), rel=1e-5)


def test_wrong_action_shape_is_named() -> None:
    net = TrajectoryRewardNet(*_spaces("Pendulum-v1"))
    with pytest.raises(RewardModelError, match=r"expects actions of shape \(2, 1\)"):
        net.score(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 3)))


def _segment(t: int, value: float = 0.0) -> Segment:
    return Segment(np.full((t, 2), value), np.zeros(t), np.full((t, 2), value), np.ones(t))


def test_segments_of_unequal_length_cannot_be_stacked() -> None:
    with pytest.raises(FeedbackError, match=r"unequal length \[3, 5\]"):
        stack_segments([_segment(3), _segment(5)])


def test_segment_arrays_must_agree_and_be_finite() -> None:
    with pytest.raises(FeedbackError, match="disagree in length"):
        Segment(np.zeros((3, 2)), np.zeros(2), np.zeros((3, 2)), np.ones(3))
    with pytest.raises(FeedbackError, match="NaN or inf"):
        _segment(3, np.nan)


def test_bank_round_trip_and_references(tmp_path) -> None:
    segs = [_segment(4, v) for v in (0.0, 1.0, 2.0)]
    bank = SegmentBank(segs)
    bank.save(tmp_path / "bank.npz")
    loaded = SegmentBank.load(tmp_path / "bank.npz")
    assert [s.id for s in loaded.segments()] == [s.id for s in segs]
    assert loaded.get(segs[1].ref).obs == pytest.approx(segs[1].obs)
    assert segment_id_from_ref(f"/clips/{segs[2].id}.gif") == segs[2].id
    with pytest.raises(FeedbackError, match="unknown segment"):
        loaded.get("segment:nope")
