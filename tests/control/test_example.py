"""examples/control_preferences.py --smoke prints its per-round lines and a result line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"[+-]?\d+\.\d+"


def test_control_preferences_example_smoke(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "control_preferences.py"),
                           "--smoke", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert len(re.findall(r"^round \d: labels", out, re.M)) == 3
    result = re.search(rf"result: true return ({NUMBER}) \(random policy ({NUMBER})\) after "
                       rf"1536 env steps on the learned reward, 48 labels, reward-model "
                       rf"held-out accuracy ({NUMBER})", out)
    assert result, out
    assert 0.0 <= float(result.group(1)) <= 100.0
    assert len(list((tmp_path / "clips").glob("*.gif"))) == 2
    assert (tmp_path / "checkpoint" / "state.json").exists()


def test_control_preferences_example_warm_starts_from_an_expert(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "control_preferences.py"),
                           "--smoke", "--demos", "3", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    warm = re.search(rf"warm start: 50 expert comparisons, cloning loss ({NUMBER}) -> "
                     rf"({NUMBER})", out)
    assert warm and float(warm.group(2)) < float(warm.group(1)), out
    result = re.search(rf"result: true return ({NUMBER}) \(random policy ({NUMBER})\)", out)
    assert result and float(result.group(1)) > 3 * float(result.group(2)), out  # 100 of 100
