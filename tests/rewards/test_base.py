"""Validation of reward-model outputs: shapes, dtypes, NaN/inf, messages naming the model."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.errors import RewardModelError
from rlhf_env.rewards import check_pairs, describe, score_checked, validate_scores


def test_validate_scores_returns_float32_vector():
    out = validate_scores([[1], [2], [3]], 3, "m")
    assert out.dtype == np.float32
    assert out.shape == (3,)
    assert out.tolist() == [1.0, 2.0, 3.0]


def test_nan_and_inf_are_counted_and_named(fixed_reward):
    model = fixed_reward(np.array([1.0, np.nan, np.inf, 2.0]), name="my-rm")
    with pytest.raises(RewardModelError, match=r"'my-rm' returned NaN or inf for 2 of 4"):
        score_checked(model, ["p"] * 4, ["r"] * 4)


def test_wrong_shape_is_named(fixed_reward):
    model = fixed_reward(np.zeros((2, 2)), name="bad-shape")
    with pytest.raises(RewardModelError, match=r"'bad-shape' returned scores of shape \(2, 2\)"):
        score_checked(model, ["p"] * 2, ["r"] * 2)


def test_non_numeric_output_is_named(fixed_reward):
    with pytest.raises(RewardModelError, match=r"'words'.*not an array of numbers"):
        score_checked(fixed_reward(["a", "b"], name="words"), ["p"] * 2, ["r"] * 2)


def test_torch_tensor_output_is_accepted(fixed_reward):
    torch = pytest.importorskip("torch")
    out = score_checked(fixed_reward(torch.tensor([1.5, 2.5], dtype=torch.float64)), ["p"] * 2,
                        ["r"] * 2)
    assert out.dtype == np.float32 and out.tolist() == [1.5, 2.5]


def test_mismatched_pairs_raise():
    with pytest.raises(RewardModelError, match="2 prompts but 1 responses"):
        check_pairs(["a", "b"], ["c"])


def test_describe_prefers_name_then_function_name():
    def my_fn(p, r):
        return 0.0

    assert describe(my_fn) == "my_fn"
    assert describe(type("X", (), {"name": "custom"})()) == "custom"
