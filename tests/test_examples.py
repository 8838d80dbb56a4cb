"""Every example runs in its --smoke mode and prints what it promises."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
NUMBER = r"[+-]?\d+\.\d+"


def run_example(name: str, *args: str, tmp: Path) -> str:
    """Run ``examples/<name> --smoke ARGS`` with ``tmp`` as its private temp folder (TMPDIR);
    the example must leave that folder as empty as it found it."""
    tmp.mkdir(parents=True, exist_ok=True)
    # torch keeps one compile cache per user, <temp>/torchinductor_<user>, made once by any
    # torch program and reused ever after (no new entry per run): it lives beside, not in,
    # this run's private temp folder.
    cache = tmp.parent / "torchinductor-cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TMPDIR": str(tmp),
           "TORCHINDUCTOR_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--smoke", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    left = sorted(p.name for p in tmp.iterdir())
    assert not left, f"{name} left {left} in its temp folder"
    return proc.stdout


def _random_rollout(out: str) -> None:
    assert out.count("PROMPT") == 5 and out.count("RESPONSE") == 5
    scores = [float(s) for s in re.findall(rf"^score ({NUMBER})", out, re.M)]
    assert len(scores) == 5
    mean = float(re.search(rf"mean score over 5 random responses: ({NUMBER})", out).group(1))
    assert mean == pytest.approx(sum(scores) / 5, abs=1e-3)


def _mean_scores(out: str) -> list[float]:
    return [float(s) for s in re.findall(rf"mean score ({NUMBER})", out)]


def _sb3_ppo(out: str) -> None:
    assert "== before training" in out and "== after training" in out
    before, after = _mean_scores(out)
    assert after > before, out  # the smoke run already learns the keyword task


def _custom_reward_function(out: str) -> None:
    assert "reward model: enthusiasm (a plain Python function)" in out
    pairs = re.findall(rf"score ({NUMBER})  enthusiasm\(\) ({NUMBER})", out)
    assert len(pairs) == 8
    assert all(a == b for a, b in pairs), "the env's score is the custom function's value"
    before, after = _mean_scores(out)
    assert after > before


def _feedback_to_reward_model(out: str) -> None:
    assert re.search(r"^records\s+168$", out, re.M), out  # 120 pairs + 2 x 24 shared
    kappa = re.search(rf"^comparison\s+\d+\s+{NUMBER}\s+({NUMBER})", out, re.M)
    assert kappa and 0.0 < float(kappa.group(1)) <= 1.0, out
    assert re.search(rf"held-out pairwise accuracy {NUMBER} on \d+ pairs", out)
    assert re.search(rf"with the trained reward model: .* -> score {NUMBER}", out)


def _sft_then_ppo(out: str) -> None:
    loss = re.search(rf"train loss ({NUMBER}) -> ({NUMBER})", out)
    assert loss and float(loss.group(2)) < float(loss.group(1)), out
    logprob = re.search(rf"held-out response log-prob ({NUMBER}) -> ({NUMBER})", out)
    assert logprob and float(logprob.group(2)) > float(logprob.group(1)), out
    bon = re.search(rf"best-of-(\d+) reference: score ({NUMBER}) \(n=1: ({NUMBER}); "
                    rf"KL ({NUMBER}) nats\)", out)
    assert bon, out
    n, best, single, kl = int(bon.group(1)), *map(float, bon.group(2, 3, 4))
    assert best >= single > 0.3, out  # the SFT model already uses the keywords
    assert kl == pytest.approx(math.log(n) - (n - 1) / n, abs=1e-3)
    steps = re.findall(rf"^PPO step \d+: score ({NUMBER})  kl ({NUMBER})", out, re.M)
    assert len(steps) == 3 and all(float(k) >= 0 for _, k in steps), out
    assert re.search(rf"after 3 PPO steps: score {NUMBER} at KL {NUMBER} nats; best-of-{n}", out)


def _prints_a_number(out: str) -> None:
    """Examples without a specific check must at least print a result."""
    assert re.search(r"\d", out), out


def _benchmark_your_algorithm(out: str) -> None:
    runs = re.findall(rf"^(\S+)\s+seed (\d): gold ({NUMBER}) -> ({NUMBER}), proxy ({NUMBER}) -> "
                      rf"({NUMBER})$", out, re.M)
    assert len(runs) == 4, out
    for algo, _, _, _, proxy0, proxy1 in runs:
        if algo == "best-response":  # the search finds a response its proxy scores higher
            assert float(proxy1) > float(proxy0), out
        else:                        # random never trains
            assert algo == "random" and proxy1 == proxy0, out
    assert "4 runs done, 0 failed" in out and "index.html" in out and "summary.json" in out


CHECKS = {
    "benchmark_your_algorithm.py": _benchmark_your_algorithm,
    "random_rollout.py": _random_rollout,
    "sb3_ppo.py": _sb3_ppo,
    "custom_reward_function.py": _custom_reward_function,
    "feedback_to_reward_model.py": _feedback_to_reward_model,
    "sft_then_ppo.py": _sft_then_ppo,
}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_smoke(path: Path, tmp_path: Path):
    """Each example in --smoke mode: exit 0, the output its check expects, and nothing left
    behind in the temp folder."""
    CHECKS.get(path.name, _prints_a_number)(run_example(path.name, tmp=tmp_path / "tmp"))


def test_random_rollout_takes_a_task(tmp_path: Path):
    out = run_example("random_rollout.py", "--task", "length", "--episodes", "2",
                      tmp=tmp_path / "tmp")
    assert out.count("RESPONSE") == 2
