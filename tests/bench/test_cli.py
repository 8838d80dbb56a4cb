"""``rlhf-env bench``: list, run, report, compare, bad options, and an installed plug-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rlhf_env.cli import main

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("synthetic_registered")


def test_list_shows_tasks_algorithms_and_suites(capsys):
    assert main(["bench", "list"]) == 0
    out = capsys.readouterr().out
    assert "t-text" in out and "text" in out and "proxy: gold + 1; gold: formula" in out
    assert "text_only" in out and "synth" in out and "2 tasks × 2 algorithms × 2 seeds" in out


def test_run_report_compare(tmp_path, capsys):
    runs, report = tmp_path / "runs", tmp_path / "report"
    assert main(["bench", "run", "--suite", "synth", "--seeds", "1", "--out", str(runs),
                 "--workers", "1", "--quiet"]) == 0
    assert "4 trials done, 0 failed, 0 unfinished" in capsys.readouterr().out
    assert main(["bench", "report", str(runs), "--out", str(report), "--reps", "100"]) == 0
    summary = json.loads((report / "summary.json").read_text())
    assert summary["runs"] == {"total": 4, "done": 4, "failed": 0, "unfinished": 0}
    assert summary["config"]["reps"] == 100
    capsys.readouterr()
    assert main(["bench", "compare", str(report), str(runs)]) == 0
    out = capsys.readouterr().out
    assert "| fast / t-ctrl final gold | 12 | 12 | 0 |" in out


def test_a_failed_trial_makes_run_exit_1_after_finishing_the_rest(tmp_path, capsys):
    code = main(["bench", "run", "--suite", "synth", "--algos", "crashing,fast", "--tasks",
                 "t-ctrl", "--seeds", "1", "--out", str(tmp_path), "--workers", "1",
                 "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    assert "1 trials done, 1 failed, 0 unfinished" in captured.out
    assert "crashing/t-ctrl/seed0: ValueError: boom" in captured.err


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "run", "--suite", "synht"], "Did you mean 'synth'"),
    (["bench", "run", "--suite", "synth", "--algos", "fast,nope"], "unknown algorithm 'nope'"),
    (["bench", "run", "--suite", "synth", "--algos", ","], "comma-separated"),
    (["bench", "run", "--suite", "synth", "--seeds", "0"], "whole number ≥ 1"),
    (["bench", "run", "--suite", "synth", "--workers", "two"], "whole number ≥ 1"),
    (["bench", "run", "--suite", "synth", "--import", "no_such_module_xyz"], "cannot import"),
    (["bench", "report", "/nonexistent/runs", "--out", "/tmp/x"], "does not exist"),
    (["bench", "frobnicate"], "invalid choice"),
])
def test_bad_options_exit_2_with_a_message_and_no_traceback(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err


def _build_plugin(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "myplugin"
        version = "0.1"

        [tool.setuptools]
        py-modules = ["myplugin", "myplugin_tasks"]

        [project.entry-points."rlhf_env.algorithms"]
        myalgo = "myplugin:run"
        """))
    # The lock stands for what libraries leave behind (tqdm keeps a multiprocessing lock): a
    # trial process must release it, or the parent prints "leaked semaphore objects" at exit.
    (src / "myplugin.py").write_text(textwrap.dedent("""\
        import multiprocessing
        HELD = []
        def run(trial):
            HELD.append(multiprocessing.Lock())
            for step in trial.budget.eval_steps():
                yield trial.point(step, proxy=step, gold=step / 10 + trial.seed)
        """))
    (src / "myplugin_tasks.py").write_text(textwrap.dedent("""\
        from rlhf_env.bench import (BenchTask, Budget, EnvSpec, Normalisation, Suite,
                                    register_suite, register_task)
        register_task(BenchTask("plug-task", "control", "a plug-in's task",
                                EnvSpec("CartPole-v1"), Budget(20, 10, 1),
                                Normalisation("initial", "myalgo"), "steps", "steps / 10"))
        register_suite(Suite("plug", ("plug-task",), ("myalgo",), seeds=2))
        """))
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps",
                           "--no-build-isolation", "--no-index", "--quiet", "--target",
                           str(site), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (site / "myplugin-0.1.dist-info" / "entry_points.txt").is_file()
    return site


def test_an_installed_plugin_algorithm_runs_and_is_reported(tmp_path):
    site = _build_plugin(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    runs, report = tmp_path / "runs", tmp_path / "report"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rlhf_env.cli", "bench", *args],
                              capture_output=True, text=True, env=env, timeout=300)

    listed = cli("list", "--import", "myplugin_tasks")
    assert listed.returncode == 0, listed.stderr
    assert "myalgo" in listed.stdout and "plug-task" in listed.stdout
    ran = cli("run", "--suite", "plug", "--import", "myplugin_tasks", "--out", str(runs),
              "--workers", "2", "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert "2 trials done, 0 failed, 0 unfinished" in ran.stdout
    assert "leaked" not in ran.stderr, ran.stderr
    metrics = (runs / "plug" / "myalgo" / "plug-task" / "seed1" / "metrics.jsonl")
    assert [json.loads(x)["gold"] for x in metrics.read_text().splitlines()] == [1, 2, 3]
    reported = cli("report", str(runs / "plug"), "--out", str(report), "--no-plots")
    assert reported.returncode == 0, reported.stderr
    summary = json.loads((report / "summary.json").read_text())
    # zero = median step-0 gold of (0, 1) = 0.5; one = median final gold of (2, 3) = 2.5;
    # scores (2 − .5) / 2 = .75 and (3 − .5) / 2 = 1.25, mean 1
    assert summary["references"]["plug-task"]["zero"] == 0.5
    assert summary["references"]["plug-task"]["one"] == 2.5
    assert summary["aggregate"]["myalgo"]["mean"]["estimate"] == pytest.approx(1.0)
