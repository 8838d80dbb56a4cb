"""End-to-end sweeps of synthetic tasks: files, numbers, resume, failures, processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from rlhf_env.bench.report import report_body, write_report
from rlhf_env.bench.results import load_results
from rlhf_env.bench.runner import LocalRunner
from rlhf_env.bench.sweep import run_benchmark
from rlhf_env.errors import BenchmarkError, ConfigError, UnknownNameError
from tests.bench import helpers

pytestmark = pytest.mark.usefixtures("synthetic_registered")


def _sweep(out: Path, **kw):
    return run_benchmark("synth", out=out, workers=1, progress=False, **kw)


def test_two_algorithms_two_tasks_two_seeds_end_to_end(tmp_path):
    results = _sweep(tmp_path / "runs")
    root = tmp_path / "runs" / "synth"
    assert len(results.runs) == 8 and len(results.done) == 8
    for algo in ("fast", "slow"):
        for task in ("t-text", "t-ctrl"):
            for seed in (0, 1):
                run_dir = root / algo / task / f"seed{seed}"
                lines = (run_dir / "metrics.jsonl").read_text().splitlines()
                assert [json.loads(x)["gold"] for x in lines] == pytest.approx(
                    [helpers.gold(task, algo, s, seed) for s in (0, 50, 100)])
                assert json.loads((run_dir / "status.json").read_text())["state"] == "done"
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["tasks"]["t-text"]["budget"]["steps"] == 100
    assert {"python", "numpy", "torch", "gymnasium", "rlhf-env"} <= set(manifest["versions"])
    assert manifest["machine"]["cpu_count"] >= 1
    # prepare ran once per task, into <out>/<suite>/_cache/<task>
    assert sorted(helpers.PREPARE_CALLS) == sorted(str(root / "_cache" / t)
                                                   for t in ("t-ctrl", "t-text"))

    report = tmp_path / "report"
    write_report(results, report)
    for name in ("summary.json", "results.csv", "results.md", "index.html",
                 "learning_curves.png", "aggregate.png", "overopt_t-text.png"):
        assert (report / name).is_file(), name
    summary = json.loads((report / "summary.json").read_text())
    # zero = median step-0 gold = base + 0.005; one = fast's median final = base + 2.005.
    # fast scores (2 + .01 s − .005) / 2 = .9975, 1.0025; slow (1 + .01 s − .005) / 2.
    agg = summary["aggregate"]
    assert agg["fast"]["iqm"]["estimate"] == pytest.approx(1.0)
    assert agg["slow"]["iqm"]["estimate"] == pytest.approx(0.5)
    assert agg["slow"]["mean"]["low"] == pytest.approx(0.4975)
    assert agg["slow"]["mean"]["high"] == pytest.approx(0.5025)
    pi = {(p["x"], p["y"]): p["estimate"] for p in summary["improvement"]}
    assert pi == {("fast", "slow"): 1.0, ("slow", "fast"): 0.0}
    assert summary["references"]["t-ctrl"]["zero"] == pytest.approx(10.005)
    over = {o["algorithm"]: o for o in summary["overoptimisation"]}
    assert set(over) == {"fast", "slow"}  # the text task only; gold = rate · √KL + const
    assert over["fast"]["fits"]["rl"]["alpha"] == pytest.approx(2.0)
    csv_lines = (report / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 8 * 3
    assert "1 [0.998, 1]" in (report / "results.md").read_text()
    assert "<script" not in (report / "index.html").read_text()


def test_resume_reruns_only_the_interrupted_trial_and_gives_the_same_summary(tmp_path):
    first = report_body(_sweep(tmp_path))
    status = tmp_path / "synth" / "slow" / "t-ctrl" / "seed1" / "status.json"
    data = json.loads(status.read_text())
    status.write_text(json.dumps({**data, "state": "running"}))  # killed mid-trial
    (status.parent / "metrics.jsonl").write_text('{"step": 0, "proxy": 1, "gold": 99}\n')
    helpers.CALLS.clear()
    second = report_body(_sweep(tmp_path))
    assert helpers.CALLS == [("slow", "t-ctrl", 1)]
    for key in ("aggregate", "per_task", "improvement", "references", "overoptimisation"):
        assert second[key] == first[key], key
    helpers.CALLS.clear()
    _sweep(tmp_path, resume=False)
    assert len(helpers.CALLS) == 8


def test_resume_refuses_runs_made_with_another_budget(tmp_path):
    _sweep(tmp_path)
    manifest = tmp_path / "synth" / "manifest.json"
    body = json.loads(manifest.read_text())
    body["tasks"]["t-text"]["budget"]["steps"] = 7
    manifest.write_text(json.dumps(body))
    with pytest.raises(BenchmarkError, match=r"another budget.*no-resume"):
        _sweep(tmp_path)


def test_a_crashing_algorithm_is_recorded_and_the_rest_completes(tmp_path):
    results = run_benchmark("synth", algorithms=["crashing", "fast", "nan_gold", "backwards"],
                            tasks=["t-ctrl"], seeds=1, out=tmp_path, workers=1,
                            progress=False)
    state = {r.algorithm: r for r in results.runs}
    assert state["fast"].state == "done"
    crash = state["crashing"].status
    assert crash["state"] == "failed" and "boom in the synthetic algorithm" in crash["error"]
    assert "Traceback" in crash["traceback"] and "helpers.py" in crash["traceback"]
    assert len(state["crashing"].points) == 1  # the point before the crash is kept
    assert "'nan_gold'" in state["nan_gold"].status["error"]
    assert "finite" in state["nan_gold"].status["error"]
    assert "must not decrease" in state["backwards"].status["error"]
    body = report_body(results)
    assert {f["algorithm"] for f in body["failures"]} == {"crashing", "nan_gold", "backwards"}


def test_prepare_kwargs_reach_the_env_and_kinds_are_skipped_with_a_note(tmp_path):
    results = run_benchmark("synth", algorithms=["env_reader", "text_only"], seeds=1,
                            out=tmp_path, workers=1, progress=False)
    golds = {(r.algorithm, r.task): r.final.gold for r in results.runs if r.final}
    assert golds[("env_reader", "t-ctrl")] == 33.0  # prepare's max_episode_steps
    assert ("text_only", "t-ctrl") not in golds and ("text_only", "t-text") in golds
    assert any("text_only skipped on t-ctrl" in n for n in results.notes)


def test_two_worker_processes_match_in_process_and_survive_a_dying_worker(tmp_path):
    serial = run_benchmark("synth", out=tmp_path / "serial", workers=1, progress=False)
    parallel = run_benchmark("synth", algorithms=["fast", "slow", "dying"],
                             out=tmp_path / "par", runner=LocalRunner(workers=2),
                             progress=False)
    dead = [r for r in parallel.runs if r.algorithm == "dying"]
    assert len(dead) == 4 and all(r.state == "failed" for r in dead)
    assert "exit code 7" in dead[0].status["error"] and len(dead[0].points) == 1
    same = [r for r in parallel.runs if r.algorithm != "dying"]
    assert [(r.algorithm, r.task, r.seed, [(p.step, p.gold, p.proxy, p.kl) for p in r.points])
            for r in same] == \
           [(r.algorithm, r.task, r.seed, [(p.step, p.gold, p.proxy, p.kl) for p in r.points])
            for r in serial.runs]
    assert {r.status["threads"] for r in same} == {max(1, (os.cpu_count() or 1) // 2)}


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, never reaped in a container without init, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_killing_the_sweep_ends_its_trial_processes(tmp_path):
    """A sweep killed with SIGKILL runs no cleanup; its trials must not run on as orphans
    (they would hold the cores and write into folders a resumed sweep is rerunning)."""
    root = Path(__file__).resolve().parents[2]
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(root)!r})
        from rlhf_env.bench import run_benchmark
        from rlhf_env.bench.runner import LocalRunner
        from tests.bench import helpers
        helpers.register_all()
        run_benchmark("synth", algorithms=["sleepy"], tasks=["t-ctrl"], seeds=2,
                      out={str(tmp_path)!r}, runner=LocalRunner(workers=2), progress=False)
    """)
    sweep = subprocess.Popen([sys.executable, "-c", script])
    runs = [tmp_path / "synth" / "sleepy" / "t-ctrl" / f"seed{k}" for k in (0, 1)]
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < deadline and sweep.poll() is None:
            time.sleep(0.2)
            points = [(r / "metrics.jsonl").exists() for r in runs]
            status = [json.loads((r / "status.json").read_text())
                      if (r / "status.json").exists() else {} for r in runs]
            if all(points) and all(s.get("state") == "running" for s in status):
                pids = [int(s["pid"]) for s in status]
        assert len(pids) == 2 and all(map(_alive, pids)), "the trials never started"
        sweep.kill()
        sweep.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(map(_alive, pids)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(map(_alive, pids)), "trial processes outlived their killed sweep"
        # left as an interrupted sweep leaves them: unfinished, rerun by a resume
        assert {json.loads((r / "status.json").read_text())["state"] for r in runs} == \
            {"running"}
    finally:
        sweep.kill()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, 9)


def test_threads_per_trial_can_be_set(tmp_path):
    results = run_benchmark("synth", algorithms=["fast"], out=tmp_path, workers=1, threads=1,
                            progress=False)
    assert results.runs and {r.status["threads"] for r in results.runs} == {1}
    with pytest.raises(ConfigError, match="threads"):
        run_benchmark("synth", algorithms=["fast"], out=tmp_path / "b", threads=0,
                      progress=False)


def test_bad_selections_raise_fix_it_errors(tmp_path):
    with pytest.raises(UnknownNameError, match="Did you mean 'fast'"):
        run_benchmark("synth", algorithms=["fats"], out=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="seeds"):
        run_benchmark("synth", seeds=0, out=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="workers"):
        LocalRunner(workers=0)


def test_load_results_tolerates_a_partial_sweep(tmp_path):
    _sweep(tmp_path)
    run_dir = tmp_path / "synth" / "fast" / "t-text" / "seed0"
    (run_dir / "status.json").unlink()
    with (run_dir / "metrics.jsonl").open("a") as fh:
        fh.write("{not json\n")
    results = load_results(tmp_path)
    run = next(r for r in results.runs if r.status == {})
    assert run.state == "missing" and len(run.points) == 3
    assert any("unreadable line" in n for n in results.notes)
    assert len(results.done) == 7
    with pytest.raises(BenchmarkError, match="does not exist"):
        load_results(tmp_path / "nowhere")


def test_an_interrupted_sweep_reports_unfinished_trials_apart_from_failed_ones(tmp_path):
    results = run_benchmark("synth", algorithms=["crashing", "fast"], tasks=["t-ctrl"],
                            seeds=2, out=tmp_path, workers=1, progress=False)
    seed1 = tmp_path / "synth" / "fast" / "t-ctrl" / "seed1"
    (seed1 / "status.json").unlink()  # as a sweep killed before the trial wrote its status
    (tmp_path / "synth" / "fast" / "t-ctrl" / "seed7").mkdir()  # created, never started
    results = load_results(tmp_path / "synth")
    assert [r.seed for r in results.failed] == [0, 1]
    assert all(r.algorithm == "crashing" for r in results.failed)
    assert sorted(r.seed for r in results.unfinished) == [1, 7]
    body = report_body(results)
    assert body["runs"] == {"total": 5, "done": 1, "failed": 2, "unfinished": 2}
    fast = next(r for r in body["per_task"] if r["algorithm"] == "fast")
    assert (fast["runs"], fast["failed"], fast["unfinished"]) == (1, 0, 2)
    assert {f["state"] for f in body["failures"]} == {"failed", "missing"}


def test_a_partial_resume_keeps_the_manifest_whole_and_records_each_sweep(tmp_path):
    """A second sweep of some tasks (``--tasks``) must not drop the other tasks' records from
    the manifest: the report normalises every task from them. Each sweep is kept, with its
    selection and revision, and every trial records the revision it ran at."""
    _sweep(tmp_path, algorithms=["fast"], tasks=["t-text"], seeds=[0])
    _sweep(tmp_path, algorithms=["slow"], tasks=["t-ctrl"], seeds=[1])
    root = tmp_path / "synth"
    manifest = json.loads((root / "manifest.json").read_text())
    assert set(manifest["tasks"]) == {"t-text", "t-ctrl"}
    assert set(manifest["algorithms"]) == {"fast", "slow"} and manifest["seeds"] == [0, 1]
    sweeps = manifest["sweeps"]
    assert [(s["algorithms"], s["tasks"], s["seeds"], s["trials"]) for s in sweeps] == [
        (["fast"], ["t-text"], [0], 1), (["slow"], ["t-ctrl"], [1], 1)]
    assert all("git" in s and s["created"] > 0 for s in sweeps)
    status = json.loads((root / "slow" / "t-ctrl" / "seed1" / "status.json").read_text())
    assert "git" in status
    # the report still normalises both tasks from their own references
    summary = report_body(load_results(root))
    assert summary["references"]["t-text"]["one_from"].startswith("fast")
    assert sum(summary["revisions"].values()) == 2
    # a trial from a version that recorded no revision makes the report say so
    for (algo, task, seed), git in {("fast", "t-text", 0): None,
                                    ("slow", "t-ctrl", 1): {"commit": "a" * 40, "dirty": True}
                                    }.items():
        path = root / algo / task / f"seed{seed}" / "status.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "git": git}))
    summary = report_body(load_results(root))
    assert summary["revisions"] == {"not recorded": 1, "a" * 12 + "+dirty": 1}
    assert any("more than one revision" in n and "1 at not recorded (t-text)" in n
               for n in summary["notes"])


def test_an_algorithm_two_suites_ran_on_a_task_becomes_one_arm_per_suite(tmp_path):
    """A variant suite beside the suite it varies (other options for one algorithm): loading
    their common folder compares the two arms instead of pooling them, which would also count
    a seed twice. References that two suites ran are pooled."""
    from rlhf_env.bench import Suite, register_suite
    from rlhf_env.bench.results import arm_base
    from rlhf_env.bench.stats import normalised_scores, references

    _sweep(tmp_path)  # synth: fast, slow × t-text, t-ctrl × seeds 0, 1
    register_suite(Suite(name="synth-b", tasks=("t-ctrl",), algorithms=("slow",), seeds=2))
    run_benchmark("synth-b", seeds=[2, 3], out=tmp_path, workers=1, progress=False)
    results = load_results(tmp_path)
    assert results.algorithms == ["fast", "slow@synth", "slow@synth-b"]
    assert {r.task for r in results.runs if r.algorithm == "slow@synth"} == {"t-text", "t-ctrl"}
    assert any("slow ran in suites synth, synth-b" in n for n in results.notes)
    assert arm_base("slow@synth-b") == "slow" and arm_base("fast") == "fast"
    # t-ctrl: zero = median step-0 gold of all six runs, one = fast's median final gold
    zero = float(np.median([helpers.gold("t-ctrl", "fast", 0, s) for s in (0, 0, 1, 1, 2, 3)]))
    one = float(np.median([helpers.gold("t-ctrl", "fast", 100, s) for s in (0, 1)]))
    scores = normalised_scores(results)
    for arm, seeds in (("slow@synth", (0, 1)), ("slow@synth-b", (2, 3))):
        want = [(helpers.gold("t-ctrl", "slow", 100, s) - zero) / (one - zero) for s in seeds]
        assert scores[arm]["t-ctrl"] == pytest.approx(want)
    body = report_body(results)
    assert {r["algorithm"] for r in body["per_task"]} == {"fast", "slow@synth", "slow@synth-b"}

    # the reference itself in a second suite: both arms, one pooled reference
    register_suite(Suite(name="synth-c", tasks=("t-ctrl",), algorithms=("fast",), seeds=1))
    run_benchmark("synth-c", seeds=[5], out=tmp_path, workers=1, progress=False)
    results = load_results(tmp_path)
    assert "fast@synth-c" in results.algorithms and "fast" not in results.algorithms
    assert any("fast ran in suites synth, synth-c" in n for n in results.notes)
    ref = references(results)["t-ctrl"]
    assert ref.one_from == "fast: median final gold of 3 runs"
    assert ref.one == pytest.approx(helpers.gold("t-ctrl", "fast", 100, 1))
