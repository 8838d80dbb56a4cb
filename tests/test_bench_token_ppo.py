"""benchmarks/bench_token_ppo.py: every arm runs on the tiny model and lands in the payload
with its rates, every ratio is there and computed from the arms' medians, arms alternate
and a failing TRL arm is reported, not fatal. (Numbers are timings, so only their structure
and their arithmetic are checked.)"""

from __future__ import annotations

import pytest

from benchmarks import bench_token_ppo as bench

RATE_KEYS = {"seconds", "steps", "seconds_per_step", "episodes_per_s", "tokens_per_s",
             "mean_response_tokens", "all_episodes_per_s"}
SMALL = ["--tiny", "--runs", "1", "--steps", "1", "--batch", "4", "--group", "2",
         "--new-tokens", "3", "--skip-sb3", "--skip-memory", "--skip-generation"]


@pytest.fixture(scope="module")
def payload():
    pytest.importorskip("trl")  # the `bench` extra
    pytest.importorskip("datasets")
    args = bench.parse_args([*SMALL, "--reference-precision", "bfloat16"])
    return bench.run(args, "test")


def test_every_arm_runs_and_reports_its_rates(payload):
    expected = {"ours_rloo", "ours_rloo_unshared", "trl_rloo", "ours_grpo_beta=0",
                "trl_grpo_beta=0", "ideal_beta=0", "ours_grpo_beta=0.05",
                "trl_grpo_beta=0.05", "ideal_beta=0.05",
                "ours_grpo_beta=0.05_ref_bfloat16"}
    assert set(payload["arms"]) == expected
    for name, result in payload["arms"].items():
        assert isinstance(result, dict), f"{name}: {result}"
        assert set(result) == RATE_KEYS
        assert result["episodes_per_s"] == pytest.approx(4 / result["seconds_per_step"])
        assert 0 < result["mean_response_tokens"] <= 3
    assert payload["ours"] == payload["arms"]["ours_rloo"]  # the RLOO-only keys stay
    assert payload["trl_version"]


def test_every_ratio_is_there_and_computed_from_the_medians(payload):
    arms = payload["arms"]
    assert set(payload["ratios"]) == {
        "ours_rloo / trl_rloo", "ours_rloo / ours_rloo_unshared",
        "ours_grpo_beta=0 / trl_grpo_beta=0", "ours_grpo_beta=0 / ideal_beta=0",
        "ideal_beta=0 / trl_grpo_beta=0", "ours_grpo_beta=0.05 / trl_grpo_beta=0.05",
        "ours_grpo_beta=0.05 / ideal_beta=0.05", "ideal_beta=0.05 / trl_grpo_beta=0.05",
        "ours_grpo_beta=0.05_ref_bfloat16 / ours_grpo_beta=0.05"}
    r = payload["ratios"]["ours_grpo_beta=0 / ideal_beta=0"]
    a, b = arms["ours_grpo_beta=0"], arms["ideal_beta=0"]
    assert r["episodes_per_s"] == pytest.approx(a["episodes_per_s"] / b["episodes_per_s"])
    assert r["tokens_per_s"] == pytest.approx(a["tokens_per_s"] / b["tokens_per_s"])
    assert r["step_time"] == pytest.approx(a["seconds_per_step"] / b["seconds_per_step"])
    assert payload["speedup_vs_trl"] == payload["ratios"]["ours_rloo / trl_rloo"][
        "episodes_per_s"]


def test_the_profile_splits_a_step_into_the_trainer_stages(payload):
    profile = payload["profile"]
    assert list(profile["stages"]) == ["generate", "score", "reference", "rewards",
                                       "advantages", "update", "record"]
    total = sum(v["seconds"] for v in profile["stages"].values()) + profile["other_seconds"]
    assert total == pytest.approx(profile["seconds_per_step"])
    assert profile["top_ops_one_step"] and all(o["calls"] >= 1
                                               for o in profile["top_ops_one_step"])


def test_markdown_names_every_arm_and_ratio(payload):
    text = bench.markdown(payload)
    for name in payload["arms"]:
        assert bench.arm_label(name, payload["trl_version"]) in text
    for key in payload["ratios"]:
        assert f"| {key} |" in text
    assert "| update |" in text


def test_arms_alternate_and_a_failing_trl_arm_is_reported():
    calls: list[str] = []

    def arm(name: str, fail: bool = False):
        def run():
            calls.append(name)
            if fail:
                raise RuntimeError("no TRL here")
            return {"episodes_per_s": 1.0 + len(calls), "tokens_per_s": 1.0,
                    "seconds_per_step": 1.0}
        return run

    args = bench.parse_args(["--runs", "3"])
    out = bench.run_arms(args, {"ours_rloo": arm("ours"), "trl_rloo": arm("trl", fail=True),
                                "ideal_beta=0": arm("ideal")})
    assert calls == ["ours", "trl", "ideal", "ideal", "ours", "ideal", "ours"]
    assert out["trl_rloo"] == "RuntimeError: no TRL here"
    assert out["ours_rloo"]["all_episodes_per_s"] == [2.0, 6.0, 8.0]
    assert out["ours_rloo"]["episodes_per_s"] == 6.0  # the median run
    with pytest.raises(RuntimeError):
        bench.run_arms(args, {"ours_rloo": arm("ours", fail=True)})


def test_labels_say_what_each_arm_is():
    assert bench.arm_label("trl_grpo_beta=0", "1.16.0") == "TRL 1.16.0 `GRPOTrainer`, beta=0"
    assert "no-grad reference" in bench.arm_label("ideal_beta=0.05")
    assert "no-grad reference" not in bench.arm_label("ideal_beta=0")
    assert bench.arm_label("ours_grpo_beta=0.05_ref_int8") == \
        "ours, GRPO, beta=0.05, reference in int8"
