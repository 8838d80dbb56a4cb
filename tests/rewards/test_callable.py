"""CallableReward: batched vs per-pair functions, detection, validation."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.errors import RewardModelError
from rlhf_env.rewards import CallableReward


def test_per_pair_function_is_detected_and_called_per_pair():
    seen = []

    def per_pair(prompt, response):
        seen.append((prompt, response))
        return len(response)

    rm = CallableReward(per_pair)
    out = rm.score(["a", "b", "c"], ["x", "yy", "zzz"])
    assert out.dtype == np.float32
    assert out.tolist() == [1.0, 2.0, 3.0]
    assert rm.batched is False
    assert ("b", "yy") in seen


def test_batched_function_is_detected_and_called_once():
    calls = []

    def batched(prompts, responses):
        calls.append(len(responses))
        return np.array([len(r) for r in responses]) * 2

    rm = CallableReward(batched)
    assert rm.score(["a", "b"], ["x", "yy"]).tolist() == [2.0, 4.0]
    assert rm.batched is True
    assert calls == [2]
    rm.score(["a"], ["x"])
    assert calls == [2, 1]


def test_annotations_decide_without_probing():
    def per_pair(prompt: str, response: str) -> float:
        return 1.0

    def batched(prompts: list[str], responses: list[str]):
        return [0.0] * len(responses)

    assert CallableReward(per_pair).batched is False
    assert CallableReward(batched).batched is True


def test_function_that_fails_on_lists_falls_back_to_per_pair():
    rm = CallableReward(lambda p, r: float(r.count("!")))
    assert rm.score(["", ""], ["hi!!", "no"]).tolist() == [2.0, 0.0]
    assert rm.batched is False


def test_explicit_batched_flag_is_respected():
    rm = CallableReward(lambda p, r: [len(x) for x in r], batched=True, name="lens")
    assert rm.score(["", ""], ["ab", "c"]).tolist() == [2.0, 1.0]
    assert rm.name == "lens"


def test_nan_from_function_names_it_and_counts():
    def flaky(prompt: str, response: str) -> float:
        return float("nan") if response == "bad" else 1.0

    with pytest.raises(RewardModelError, match=r"'flaky' returned NaN or inf for 2 of 3"):
        CallableReward(flaky).score(["p"] * 3, ["bad", "ok", "bad"])


def test_wrong_length_from_batched_function_raises():
    rm = CallableReward(lambda p, r: [1.0], batched=True, name="short")
    with pytest.raises(RewardModelError, match=r"'short' returned scores of shape \(1,\)"):
        rm.score(["a", "b"], ["x", "y"])


def test_per_pair_returning_non_number_raises():
    rm = CallableReward(lambda p, r: "great", batched=False, name="texty")
    with pytest.raises(RewardModelError, match="'texty' returned str for pair 0"):
        rm.score(["a"], ["b"])


def test_mismatched_lengths_raise():
    with pytest.raises(RewardModelError, match="2 prompts but 1 responses"):
        CallableReward(lambda p, r: 0.0).score(["a", "b"], ["c"])


def test_not_callable_is_rejected():
    with pytest.raises(TypeError):
        CallableReward(3)  # type: ignore[arg-type]
