"""benchmarks/bench_control_labels.py: the peer arm gets the settings ours gets, its runner's
line becomes EvalPoints, a missing peer venv or a failing runner says what to do, the curve
normalises by the references, and (slow, needs .venv-imitation) the --tiny smoke run writes
finite curves for both arms."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_control_labels as bench
from rlhf_env.bench import Budget, EvalPoint, Results, Trial
from rlhf_env.bench.results import Run
from rlhf_env.bench.tasks import control_variant
from rlhf_env.errors import BenchmarkError

ROOT = Path(__file__).resolve().parents[1]


def _trial(tmp_path: Path, labels: int = 100, seed: int = 2,
           budget: Budget | None = None) -> Trial:
    task = control_variant("halfcheetah", labels=labels, budget=budget, register=False)
    return Trial(task=task, algorithm=bench.IMITATION, seed=seed, env=task.env,
                 run_dir=tmp_path, threads=1)


def test_the_peer_gets_the_settings_ppo_learned_gets(tmp_path: Path) -> None:
    from agents.bench.control import sb3_settings

    trial = _trial(tmp_path, labels=300, budget=Budget(8000, 2000, eval_episodes=3))
    cfg = bench.peer_settings(trial)
    ppo, n_envs = sb3_settings(trial, "PPO")
    assert cfg["ppo"] == ppo and cfg["n_envs"] == n_envs == 4
    assert ppo["n_steps"] == 500  # fitted to the 2000-step interval, as ppo-learned's are
    assert (cfg["labels"], cfg["steps"], cfg["rounds"], cfg["seed"]) == (300, 8000, 4, 2)
    assert (cfg["env_id"], cfg["horizon"], cfg["fragment_length"]) == ("HalfCheetah-v4", 1000,
                                                                        50)
    # the evaluation seeds of rlhf_env.bench.evaluation.control_returns
    assert cfg["eval_seeds"] == [trial.eval_seed * 1000 + i for i in range(3)]


FAKE_RUNNER = """
import json, os, sys
cfg = json.load(open(sys.argv[1]))
print("fake runner", cfg["labels"])
if cfg["labels"] == 13:
    print("boom: no such env"); sys.exit(3)
points = [{"step": s, "gold": cfg["labels"] + s / 1000, "proxy": -1.0 * s,
           "labels_used": min(cfg["labels"], s), "env_steps": s + 48, "wall_time": s / 100}
          for s in range(0, cfg["steps"] + 1, cfg["steps"] // cfg["rounds"])]
line = {"labels": cfg["labels"], "seed": cfg["seed"], "points": points,
        "pythonpath": os.environ.get("PYTHONPATH"), "threads": os.environ["OMP_NUM_THREADS"]}
open(sys.argv[2], "w").write(json.dumps(line) + "\\n")
"""


@pytest.fixture
def fake_peer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runner = tmp_path / "fake_runner.py"
    runner.write_text(textwrap.dedent(FAKE_RUNNER))
    monkeypatch.setattr(bench, "RUNNER", runner)
    monkeypatch.setattr(bench, "imitation_python", lambda: Path(sys.executable))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return runner


def test_the_peer_arm_yields_the_runners_evaluations(tmp_path: Path, fake_peer: Path) -> None:
    trial = _trial(tmp_path / "trial", labels=40, budget=Budget(4000, 2000, eval_episodes=1))
    trial.run_dir.mkdir()
    points = list(bench.imitation_pc(trial))
    assert all(isinstance(p, EvalPoint) for p in points)
    assert [p.step for p in points] == [0, 2000, 4000]
    assert [p.gold for p in points] == [40.0, 42.0, 44.0]
    assert [p.proxy for p in points] == [0.0, -2000.0, -4000.0]
    assert [p.labels_used for p in points] == [0, 40, 40]
    assert [p.extra["env_steps"] for p in points] == [48.0, 2048.0, 4048.0]
    assert [p.wall_time for p in points] == [0.0, 20.0, 40.0]
    line = json.loads((trial.run_dir / "imitation.jsonl").read_text())
    assert line["pythonpath"] is None  # none of our code on the peer's path
    assert line["threads"] == "1"
    assert json.loads((trial.run_dir / "imitation_settings.json").read_text())["labels"] == 40
    assert "fake runner 40" in (trial.run_dir / "imitation.log").read_text()


def test_a_failing_runner_raises_with_the_end_of_its_log(tmp_path: Path,
                                                           fake_peer: Path) -> None:
    trial = _trial(tmp_path, labels=13, budget=Budget(4000, 2000, eval_episodes=1))
    with pytest.raises(BenchmarkError, match=r"exited with 3[\s\S]*boom: no such env"):
        list(bench.imitation_pc(trial))


def test_a_missing_peer_venv_says_how_to_make_it(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bench.VENV_VARIABLE, str(tmp_path / "nowhere"))
    assert bench.imitation_python() == tmp_path / "nowhere" / "bin" / "python"
    with pytest.raises(BenchmarkError, match=r"scripts/setup_imitation\.sh"):
        list(bench.imitation_pc(_trial(tmp_path)))
    with pytest.raises(SystemExit, match=r"--arms ours refs"):
        bench.main(["--tiny", "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()  # refused before any trial ran


def test_the_curve_normalises_final_returns_by_the_references(tmp_path: Path) -> None:
    args = bench.parse_args(["--labels", "100", "300", "--seeds", "0", "1", "2", "3",
                             "--arms", "ours", "imitation", "--reps", "200"])
    golds = {("ppo-learned", 100): [10, 20, 30, 90], ("ppo-learned", 300): [50, 60, 70, 80],
             ("imitation-pc", 100): [0, 0, 10, 10]}
    runs = [Run("s", algo, bench.variant_name(args, n), seed, "done",
                (EvalPoint(0, 0.0, -5.0), EvalPoint(args.steps, 0.0, float(g), labels_used=n)),
                {"wall_time": 100.0 + seed})
            for (algo, n), gs in golds.items() for seed, g in enumerate(gs)]
    runs.append(Run("s", "imitation-pc", bench.variant_name(args, 300), 0, "failed", (),
                    {"error": "x"}))
    rows = bench.curve(Results(tuple(runs), {}), args, {"zero": 0.0, "one": 100.0})
    by = {(r["arm"], r["labels"]): r for r in rows}
    assert set(by) == {("ours", 100), ("ours", 300), ("imitation", 100), ("imitation", 300)}
    ours = by[("ours", 100)]
    assert ours["task"] == "halfcheetah-labels100"
    assert ours["normalised"] == pytest.approx([0.1, 0.2, 0.3, 0.9])
    assert ours["iqm"]["estimate"] == pytest.approx(0.25)  # mean of the middle two
    assert ours["median"]["estimate"] == pytest.approx(0.25)
    assert ours["iqm"]["low"] <= 0.25 <= ours["iqm"]["high"]
    assert ours["labels_used"] == [100] * 4 and ours["wall_seconds"] == [100, 101, 102, 103]
    assert by[("imitation", 100)]["iqm"]["estimate"] == pytest.approx(0.05)
    failed = by[("imitation", 300)]
    assert failed["iqm"] is None and failed["failed"] == [0] and failed["seeds"] == []
    payload = {"name": "t", "command": "c", "wall_seconds": 1.0, "steps": args.steps,
               "rounds": args.rounds, "eval_episodes": 5, "references": {"zero": 0.0,
                                                                          "one": 100.0},
               "curve": rows, "notes": ["imitation-pc/x/seed0 failed: x"]}
    text = bench.markdown(payload)
    low, high = ours["iqm"]["low"], ours["iqm"]["high"]
    assert f"| ours | 100 | 4 | 0.25 [{low:.2f}, {high:.2f}] | 0.25 | 30.0 | 102 |" in text
    assert "| imitation | 300 | 0 | n/a (failed seeds: [0])" in text
    assert bench.plot(payload).startswith(b"\x89PNG")


def test_tiny_mode_and_names() -> None:
    args = bench.parse_args(["--tiny"])
    assert (args.steps, args.rounds, args.labels, args.seeds) == (4000, 2, [20, 40], [0])
    assert args.name == "control_labels_tiny"
    assert bench.variant_name(args, 20) == "halfcheetah-labels20-4000steps"
    assert bench.variant_name(bench.parse_args([]), 100) == "halfcheetah-labels100"
    with pytest.raises(SystemExit):
        bench.parse_args(["--arms", "refs"])


def test_trials_get_one_thread_unless_told(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    """Two threads per trial on two busy cores spin: ``--threads`` reaches every sweep."""
    import rlhf_env.bench as harness

    seen: list[int] = []
    monkeypatch.setattr(harness, "run_benchmark",
                        lambda *a, threads, **k: seen.append(threads) or "results")
    assert bench.run_curves(bench.parse_args([]), tmp_path, {"zero": 0.0, "one": 1.0}) \
        == "results"
    bench.run_curves(bench.parse_args(["--threads", "2"]), tmp_path, {"zero": 0.0, "one": 1.0})
    assert seen == [1, 2]


@pytest.mark.slow
@pytest.mark.timeout(3600)  # two arms and the references, ~10–20 min on 2 shared cores
def test_the_tiny_smoke_run_writes_finite_curves_for_both_arms(tmp_path: Path) -> None:
    if bench.peer_missing():
        pytest.skip(bench.peer_missing())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks/bench_control_labels.py"),
                           "--tiny", "--quiet", "--out", str(tmp_path)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = json.loads((tmp_path / "control_labels_tiny.json").read_text())
    assert (tmp_path / "control_labels_tiny.png").read_bytes().startswith(b"\x89PNG")
    refs = payload["references"]
    assert math.isfinite(refs["zero"]) and math.isfinite(refs["one"])
    rows = {(r["arm"], r["labels"]): r for r in payload["curve"]}
    assert set(rows) == {(a, n) for a in ("ours", "imitation") for n in (20, 40)}
    for (arm, n), row in rows.items():
        assert row["seeds"] == [0] and not row["failed"]
        assert np.isfinite(row["final_returns"]).all() and np.isfinite(row["normalised"]).all()
        assert row["normalised"][0] == pytest.approx(
            (row["final_returns"][0] - refs["zero"]) / (refs["one"] - refs["zero"]))
        assert math.isfinite(row["iqm"]["estimate"])
        assert 0 < row["labels_used"][0] <= n, (arm, n)
    line = json.loads(next(Path(payload["runs"]).rglob("imitation.jsonl")).read_text())
    assert line["versions"]["imitation"] == "1.0.1"
    assert line["env_steps"] >= 4000 and len(line["points"]) == 3
