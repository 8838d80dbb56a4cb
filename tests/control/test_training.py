"""Preferences over CartPole segments teach a reward that ranks segments like the true one."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rlhf_env.control.labeling import SegmentLabeler, demonstration_comparisons, segment_query
from rlhf_env.control.models import RewardNetConfig, TrajectoryRewardEnsemble, TrajectoryRewardNet
from rlhf_env.control.segments import SegmentBank
from rlhf_env.control.training import (
    SegmentRewardModule,
    default_trainer_config,
    fit_segment_ensemble,
    fit_segment_model,
    segment_returns,
)
from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.learning.selection import UncertaintySelector
from rlhf_env.feedback.learning.training import RewardModelTrainer, TrainResult
from rlhf_env.feedback.records import Comparison


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman correlation with average ranks for ties."""

    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for value in np.unique(v):
            r[v == value] = r[v == value].mean()
        return r

    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def test_spearman_helper_handles_ties() -> None:
    assert spearman(np.array([1, 2, 2, 3]), np.array([10, 20, 20, 30])) == 1.0
    assert spearman(np.array([1, 2, 3]), np.array([3, 2, 1])) == -1.0


def test_labels_follow_true_returns_with_classic_noise(cartpole_segments) -> None:
    bank = SegmentBank(cartpole_segments)
    labeler = SegmentLabeler(bank, seed=0)  # temperature 1, 10% slips
    segs = cartpole_segments
    pairs = [(segs[2 * i], segs[2 * i + 1]) for i in range(300)
             if segs[2 * i].true_return != segs[2 * i + 1].true_return]
    records = labeler.compare_segments(pairs)
    assert all(isinstance(r, Comparison) for r in records)
    agree = np.mean([bank.get(r.chosen).true_return > bank.get(r.rejected).true_return
                     for r in records])
    assert 0.8 < agree < 0.97  # mostly right, but the slips are there


def test_learned_reward_correlates_with_true_reward_on_held_out_segments(
        cartpole_segments) -> None:
    train, test = cartpole_segments[:400], cartpole_segments[400:]
    bank = SegmentBank(train)
    labeler = SegmentLabeler(bank, seed=1)
    records = labeler.compare_segments([(train[i], train[i + 200]) for i in range(200)] +
                                       [(train[i], train[399 - i]) for i in range(100)])
    env = gym.make("CartPole-v1")
    net = TrajectoryRewardNet(env.observation_space, env.action_space,
                              RewardNetConfig(hidden=(32, 32)), seed=0)
    before = segment_returns(net, SegmentBank(test), [s.ref for s in test])
    true = np.array([s.true_return for s in test])
    result = fit_segment_model(net, records, bank)  # through RewardModelTrainer
    after = segment_returns(net, SegmentBank(test), [s.ref for s in test])
    assert result.steps > 0
    assert spearman(after, true) >= 0.8, (spearman(before, true), spearman(after, true))


def test_uncertainty_selection_over_segments_prefers_disputed_pairs(cartpole_segments) -> None:
    segs = cartpole_segments[:200]
    bank = SegmentBank(segs)
    env = gym.make("CartPole-v1")
    ens = TrajectoryRewardEnsemble.build(env.observation_space, env.action_space, k=3, seed=0)
    labeler = SegmentLabeler(bank, seed=0)
    fit_segment_ensemble(ens, labeler.compare_segments([(segs[i], segs[i + 100])
                                                         for i in range(40)]), bank)
    queries = [segment_query(segs[i], segs[199 - i]) for i in range(100)]
    selector = UncertaintySelector(lambda _p, refs: segment_returns(ens, bank, refs))
    picked = selector.select(queries, 10, np.random.default_rng(0))
    dis = selector.disagreement(queries)
    assert dis[picked].mean() > np.median(dis)


def test_expert_demonstrations_train_as_preferred_segments(cartpole_segments) -> None:
    expert = [s for s in cartpole_segments if s.true_return == 20.0][:60]
    policy = [s for s in cartpole_segments if s.true_return < 10.0][:60]
    bank = SegmentBank()
    records = demonstration_comparisons(expert, policy, bank)
    assert len(records) == 60 and all(r.chosen == e.ref for r, e in zip(records, expert,
                                                                         strict=True))
    env = gym.make("CartPole-v1")
    net = TrajectoryRewardNet(env.observation_space, env.action_space, seed=0)
    fit_segment_model(net, records, bank)
    held_out = [s for s in cartpole_segments[::-1] if s.true_return in (0.0, 20.0)][:40]
    pred = segment_returns(net, SegmentBank(held_out), [s.ref for s in held_out])
    true = np.array([s.true_return for s in held_out])
    assert pred[true == 20.0].mean() > pred[true == 0.0].mean()
    with pytest.raises(FeedbackError, match="pair each demonstration"):
        demonstration_comparisons(expert[:2], policy[:1], bank)


def test_segment_and_text_ensembles_resample_through_one_mechanism(cartpole_segments,
                                                                   monkeypatch) -> None:
    """fit_segment_ensemble and RewardModelTrainer.fit_ensemble both train through
    fit_bootstrap: with one seed, member i gets the same bootstrap examples and every member
    the same held-out ones, whichever entry point is used."""
    segs = cartpole_segments[:120]
    bank = SegmentBank(segs)
    records = SegmentLabeler(bank, seed=0).compare_segments(
        [(segs[i], segs[i + 60]) for i in range(60)])
    env = gym.make("CartPole-v1")
    ens = TrajectoryRewardEnsemble.build(env.observation_space, env.action_space, k=3, seed=0)
    seen: list[tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = []

    def record_members(self, model, train, val, annotators, rng):
        """Stands in for training: notes the (a, b) segment pairs member ``len(seen)`` got."""
        def pairs(data):
            return tuple((data.items[int(a)][1], data.items[int(b)][1])
                         for a, b in zip(data.pairs.a, data.pairs.b, strict=True))

        seen.append((pairs(train), pairs(val)))
        return TrainResult(model=lambda prompts, responses: np.zeros(len(responses)))

    monkeypatch.setattr(RewardModelTrainer, "_fit_dataset", record_members)
    config = default_trainer_config(seed=7)
    fit_segment_ensemble(ens, records, bank, config)
    RewardModelTrainer(config).fit_ensemble(
        lambda i: SegmentRewardModule(ens.nets[i], bank), records, k=3)
    assert len(seen) == 6
    assert seen[:3] == seen[3:]  # the same resample per member through both entry points
    train, held_out = seen[0]
    assert len({member[0] for member in seen[:3]}) == 3  # each member its own resample
    n = len(records)  # 60 pairs, less the both-fallen ones that are never asked
    assert 40 < n < 60
    assert len(held_out) == round(0.1 * n) and all(m[1] == held_out for m in seen)  # one set
    assert len(train) == n - len(held_out) and len(set(train)) < len(train)  # with replacement
    assert not set(held_out) & set(train)  # never resampled into training
