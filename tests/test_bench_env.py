"""benchmarks/bench_env.py on the tiny models: every precision gets its rows and its
cross-precision ratios, and the error of a lower precision is measured on the same episodes
as float32 (and is computed right)."""

from __future__ import annotations

import pytest

from benchmarks import bench_env


@pytest.fixture(scope="module")
def result():
    return bench_env.run([1, 2], 4, 0.05, ["bfloat16"], tiny=True)


def test_every_precision_and_size_has_a_row(result):
    assert result["precisions"] == ["float32", "bfloat16"]
    assert [(r["precision"], r["num_envs"]) for r in result["rows"]] == [
        ("float32", 1), ("float32", 2), ("bfloat16", 1), ("bfloat16", 2)]
    base = {r["num_envs"]: r for r in result["rows"] if r["precision"] == "float32"}
    for row in result["rows"]:
        assert row["batched_over_one_by_one"] == pytest.approx(
            row["batched_steps_per_s"] / row["one_by_one_steps_per_s"])
        if row["precision"] == "bfloat16":
            assert row["batched_over_float32_batched"] == pytest.approx(
                row["batched_steps_per_s"] / base[row["num_envs"]]["batched_steps_per_s"])


def test_the_lower_precision_error_is_measured_and_small(result):
    errors = result["errors"]["bfloat16"]
    assert set(errors) == {"1", "2"}
    for e in errors.values():
        assert e["episodes"] >= 4
        assert 0 < e["ref_logprob_max"] < 0.1 and e["score_max"] < 0.05
        assert e["ref_logprob_per_token_mean"] <= e["ref_logprob_mean"]
    text = bench_env.markdown(result, "cmd")
    assert "| bfloat16 | 2 |" in text and "smoke run" in text


def test_precision_error_arithmetic():
    base = [{"response": "a", "score": 1.0, "ref_logprob": -4.0, "response_tokens": 2},
            {"response": "b", "score": 3.0, "ref_logprob": -1.0, "response_tokens": 1}]
    low = [{**base[0], "score": 1.5, "ref_logprob": -5.0}, {**base[1], "score": 3.0}]
    e = bench_env.precision_error(low, base)
    assert (e["score_max"], e["score_mean"]) == (0.5, 0.25)
    assert (e["ref_logprob_max"], e["ref_logprob_per_token_max"]) == (1.0, 0.5)
    with pytest.raises(RuntimeError, match="different responses"):
        bench_env.precision_error(low[::-1], base)
