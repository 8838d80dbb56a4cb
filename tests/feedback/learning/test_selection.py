"""Query selection: random, uncertainty (ensemble disagreement) and diversity."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.errors import ConfigError
from rlhf_env.feedback.learning.labelers import ComparisonQuery
from rlhf_env.feedback.learning.selection import (
    DiversitySelector,
    RandomSelector,
    UncertaintySelector,
    candidate_pairs,
    ensemble_disagreement,
    farthest_point_indices,
)
from rlhf_env.rewards import CallableReward, EnsembleReward


def _cands(n: int) -> list[ComparisonQuery]:
    return [ComparisonQuery("p", f"a{i}", f"b{i}") for i in range(n)]


def test_random_selector_distinct_and_capped():
    rng = np.random.default_rng(0)
    idx = RandomSelector().select(_cands(10), 5, rng)
    assert len(set(idx.tolist())) == 5
    assert len(RandomSelector().select(_cands(3), 10, rng)) == 3
    with pytest.raises(ConfigError, match="n must be >= 0"):
        RandomSelector().select(_cands(3), -1, rng)


def test_uncertainty_selector_picks_disputed_pairs():
    disputed = {3, 7}

    def member_scores(prompts, responses):
        # member k scores "aI" as +k or -k when I is disputed, else all members agree.
        out = np.zeros((4, len(responses)))
        for j, r in enumerate(responses):
            i = int(r[1:])
            if r[0] == "a":
                out[:, j] = [-3, -1, 1, 3] if i in disputed else [2, 2, 2, 2]
        return out

    idx = UncertaintySelector(member_scores).select(_cands(10), 2, np.random.default_rng(0))
    assert set(idx.tolist()) == disputed


def test_uncertainty_selector_accepts_ensemble_reward_model():
    members = [CallableReward(lambda p, r, k=k: float(k * len(r))) for k in (-1, 1)]
    ens = EnsembleReward(members)
    cands = [ComparisonQuery("p", "x", "yy"), ComparisonQuery("p", "x", "y" * 9)]
    idx = UncertaintySelector(ens).select(cands, 1, np.random.default_rng(0))
    assert idx.tolist() == [1]  # the bigger length gap is the one members disagree on most


def test_ensemble_disagreement_zero_when_members_agree():
    a = np.ones((3, 4))
    assert np.allclose(ensemble_disagreement(a, a * 0), 0.0)
    with pytest.raises(ConfigError, match="shape"):
        ensemble_disagreement(np.ones(3), np.ones(3))


def test_farthest_point_covers_clusters():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [100, 0], [0, 100]])
    x = np.concatenate([c + rng.normal(size=(30, 2)) for c in centers])
    idx = farthest_point_indices(x, 3, rng)
    assert sorted((idx // 30).tolist()) == [0, 1, 2]


def test_diversity_selector_spreads_over_embeddings():
    cands = [ComparisonQuery("p", f"a{i}", f"b{i}") for i in range(40)]
    group = {f"p\na{i}": i // 10 for i in range(40)} | {f"p\nb{i}": i // 10 for i in range(40)}
    embed = lambda texts: np.array([[group[t] * 50.0, 0.0] for t in texts])  # noqa: E731
    idx = DiversitySelector(embed).select(cands, 4, np.random.default_rng(1))
    assert sorted(i // 10 for i in idx.tolist()) == [0, 1, 2, 3]


def test_candidate_pairs_all_pairs_per_prompt():
    pairs = candidate_pairs(["p", "q"], [["a", "b", "c"], ["x", "x", "y"]])
    assert len(pairs) == 3 + 1
    assert len(candidate_pairs(["p"], [list("abcdef")], max_pairs=5)) == 5
    with pytest.raises(ConfigError, match="response lists"):
        candidate_pairs(["p"], [])
