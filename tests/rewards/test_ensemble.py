"""EnsembleReward reductions, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.errors import ConfigError, RewardModelError
from rlhf_env.rewards import EnsembleReward

A = np.array([1.0, 4.0, -2.0])
B = np.array([3.0, 0.0, -2.0])
C = np.array([2.0, 2.0, 5.0])


@pytest.fixture
def members(fixed_reward):
    return [fixed_reward(A, "a"), fixed_reward(B, "b"), fixed_reward(C, "c")]


@pytest.mark.parametrize(
    ("reduce", "k", "expected"),
    [
        ("mean", 1.0, [2.0, 2.0, 1 / 3]),
        ("min", 1.0, [1.0, 0.0, -2.0]),
        ("mean_minus_std", 2.0, [2.0 - 2 * np.sqrt(2 / 3), 2.0 - 2 * np.sqrt(8 / 3),
                                 1 / 3 - 2 * np.std([-2.0, -2.0, 5.0])]),
    ],
)
def test_reductions(members, reduce, k, expected):
    out = EnsembleReward(members, reduce=reduce, k=k).score(["p"] * 3, ["r"] * 3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_member_scores_and_name(members):
    ens = EnsembleReward(members)
    np.testing.assert_array_equal(ens.member_scores(["p"] * 3, ["r"] * 3), np.stack([A, B, C]))
    assert ens.name == "ensemble[a,b,c]"


def test_bad_member_is_named(fixed_reward):
    bad = fixed_reward(np.array([np.nan, 1.0]), "broken-member")
    ens = EnsembleReward([fixed_reward(np.zeros(2), "ok"), bad])
    with pytest.raises(RewardModelError, match="'broken-member' returned NaN or inf for 1 of 2"):
        ens.score(["p"] * 2, ["r"] * 2)


def test_members_may_be_names():
    ens = EnsembleReward(["length", "keyword"], reduce="min")
    assert ens.score([""], ["great"]).tolist() == pytest.approx([min(np.exp(-0.5 * 19**2 / 25),
                                                                     1.0)])


@pytest.mark.parametrize("kwargs", [{"reduce": "median"}, {"k": -1.0}])
def test_config_is_validated(members, kwargs):
    with pytest.raises(ConfigError):
        EnsembleReward(members, **kwargs)


def test_empty_ensemble_is_rejected():
    with pytest.raises(ConfigError):
        EnsembleReward([])
