"""The main job's demo (`rlhf-env demo`) in its --smoke mode: both agents, the run folder."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run_demo(tmp_path: Path, *args: str) -> tuple[str, Path]:
    proc = subprocess.run([sys.executable, "-m", "rlhf_env.cli", "demo", "--smoke", "--out",
                           str(tmp_path), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = tmp_path.iterdir()
    return proc.stdout, run_dir


def test_token_demo_writes_a_run_folder_of_a_real_training_run(tmp_path):
    import torch
    from safetensors.torch import load_file

    from agents.token_ppo import PolicyWithValue
    from rlhf_env.models import load_causal_lm
    from rlhf_env.text.tasks import get_task

    out, run_dir = run_demo(tmp_path)
    assert "token-level PPO" in out and "before training" in out and "after training" in out
    assert "best-of-2 reference" in out
    for name in ("config.json", "metrics.csv", "metrics.json", "samples.json", "scores.png"):
        assert (run_dir / name).stat().st_size > 0, name
    assert any((run_dir / "tensorboard").iterdir())

    config = json.loads((run_dir / "config.json").read_text())
    steps = config["demo"]["steps"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [m["time/iterations"] for m in metrics] == list(range(1, steps + 1))
    assert all(m["rlhf/kl"] >= 0 and math.isfinite(m["rlhf/score"]) for m in metrics)
    assert metrics[-1]["rlhf/kl_coef"] != config["trainer"]["kl_coef"]  # the adaptive β moved
    with (run_dir / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == steps and {"rlhf/score", "rlhf/kl", "rlhf/kl_coef",
                                   "train/entropy_loss"} <= set(rows[0])

    samples = json.loads((run_dir / "samples.json").read_text())
    for stage in ("before", "after"):
        assert len(samples[stage]["samples"]) == config["demo"]["eval_prompts"]
        assert samples[stage]["best_of_n_score"] >= samples[stage]["mean_score"]
    # smoke mode samples only the task's words (task_words_only)
    vocab = set(get_task("keyword").action_words)
    words = {w for s in samples["after"]["samples"] for w in re.findall(r"\w+|[.!,?]",
                                                                        s["response"])}
    assert words and words <= vocab, words - vocab

    # the saved policy is the trained one: its weights differ from the initial model's
    saved = load_file(run_dir / "policy" / "model.safetensors")
    initial = load_causal_lm("tiny-random-llama").state_dict()
    changed = [k for k, v in saved.items() if k in initial and not torch.equal(v, initial[k])]
    assert changed, "the demo saved untrained weights"
    value_head = load_file(run_dir / "policy" / "value_head.safetensors")
    assert set(value_head) == {"weight", "bias"}
    loaded = PolicyWithValue.from_pretrained(run_dir / "policy")
    assert torch.equal(loaded.value_head.weight, value_head["weight"])


@pytest.mark.parametrize("agent", ["sb3"])
def test_sb3_demo_stays_available(tmp_path, agent):
    out, run_dir = run_demo(tmp_path, "--agent", agent)
    assert "stock SB3 PPO" in out
    history = json.loads((run_dir / "metrics.json").read_text())
    assert len(history) >= 2 and all("rlhf/score" in h and "rlhf/kl" in h for h in history)
    assert (run_dir / "scores.png").stat().st_size > 0


@pytest.mark.parametrize("agent", ["token-ppo", "sb3"])
def test_demo_runs_its_frozen_models_at_the_asked_precision(tmp_path, agent):
    _, run_dir = run_demo(tmp_path, "--agent", agent, "--frozen-precision", "bfloat16")
    config = json.loads((run_dir / "config.json").read_text())
    demo = config.get("demo", config)
    assert demo["frozen_precision"] == "bfloat16"
    if agent == "token-ppo":
        assert config["trainer"]["reference_precision"] == "bfloat16"
        assert config["trainer"]["reward_precision"] == "bfloat16"


def test_demo_rejects_an_unknown_precision(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rlhf_env.cli", "demo", "--smoke",
                           "--frozen-precision", "fp8", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "invalid choice: 'fp8'" in proc.stderr
    assert "Traceback" not in proc.stderr and not any(tmp_path.iterdir())
