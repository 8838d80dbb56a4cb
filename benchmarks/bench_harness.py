"""Benchmark harness overhead and worker scaling, on synthetic CPU-bound trials.

    .venv/bin/python benchmarks/bench_harness.py            # 8 trials of 4 s CPU each
    .venv/bin/python benchmarks/bench_harness.py --quick    # 4 trials of 0.3 s

Real trials run for minutes; 4 s of work per trial keeps the sweep short while the ~0.5 s
it costs to start a trial's process stays a small share, as it is in a real sweep.

Each trial busy-loops for a fixed amount of *CPU* time (single-threaded pure Python) and
yields 11 EvalPoints (``eval_every = steps / 10``), the shape of a real short trial. It times

- *direct*: the same trials run as plain generator loops, points kept in memory: the floor;
- *sweep, 1 worker*: ``run_benchmark(workers=1)``: manifest, prepare, status and atomic
  fsync'ed ``metrics.jsonl`` rewrite per point, progress bar off;
- *sweep, 2 workers*: ``run_benchmark(workers=2)``: one spawned process per trial;
- *empty trials, 2 workers*: the same with no CPU work: the cost of starting the processes.

and reports ``overhead = sweep 1 worker / direct`` (target ≤ 1.05) and
``speedup = sweep 1 worker / sweep 2 workers`` (target ≥ 1.8 on 2 idle cores). The load
average is recorded: on a shared machine the 2-worker number is bounded by the free cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import add_output_args, machine, write_results
from rlhf_env.bench import (
    BenchTask,
    Budget,
    EnvSpec,
    EvalPoint,
    Normalisation,
    Suite,
    Trial,
    register_algorithm,
    register_suite,
    register_task,
)
from rlhf_env.bench.sweep import run_benchmark


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        x += 1


def cpu_work(trial: Trial) -> Iterator[EvalPoint]:
    """``trial.options['seconds']`` of CPU time, spread over the eval steps."""
    steps = trial.budget.eval_steps()
    per_step = float(trial.options["seconds"]) / (len(steps) - 1)
    for i, step in enumerate(steps):
        if i:
            _spin(per_step)
        yield trial.point(step, proxy=float(step), gold=float(step) / 10, kl=step / 100)


def _setup(trials: int, seconds: float) -> Suite:
    register_task(BenchTask("harness-cpu", "text", "CPU busy loop", EnvSpec("CartPole-v1"),
                            Budget(steps=100, eval_every=10, eval_episodes=1),
                            Normalisation("initial", "cpu_work"), "steps", "steps / 10"),
                  overwrite=True)
    register_algorithm("cpu_work", cpu_work, overwrite=True)
    return register_suite(Suite("harness", ("harness-cpu",), ("cpu_work",), seeds=trials,
                                options={"cpu_work": {"seconds": seconds}}), overwrite=True)


def _direct(suite: Suite, folder: Path) -> float:
    from rlhf_env.bench.registry import get_task

    task = get_task("harness-cpu")
    t0 = time.perf_counter()
    for seed in range(suite.seeds):
        trial = Trial(task, "cpu_work", seed, task.env, folder, options=(suite.options or {})
                      ["cpu_work"])
        points = list(cpu_work(trial))
        if len(points) != 11:
            raise RuntimeError(f"expected 11 points, got {len(points)}")
    return time.perf_counter() - t0


def _sweep(suite: Suite, folder: Path, workers: int) -> float:
    t0 = time.perf_counter()
    results = run_benchmark(suite, out=folder, workers=workers, progress=False)
    wall = time.perf_counter() - t0
    if len(results.done) != suite.seeds:
        raise RuntimeError(f"only {len(results.done)} of {suite.seeds} trials finished")
    return wall


def measure(trials: int, seconds: float, repeats: int) -> dict[str, Any]:
    suite = _setup(trials, seconds)
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for name, run in (("direct", lambda p: _direct(suite, p)),
                              ("sweep_1_worker", lambda p: _sweep(suite, p, 1)),
                              ("sweep_2_workers", lambda p: _sweep(suite, p, 2))):
                wall = run(Path(tmp) / f"{name}-{r}")
                best[name] = min(best.get(name, float("inf")), wall)
        empty = _setup(trials, 0.0)
        best["empty_trials_2_workers"] = _sweep(empty, Path(tmp) / "empty", 2)
    return {"trials": trials, "cpu_seconds_per_trial": seconds, "repeats": repeats,
            "wall_s_best_of_repeats": best,
            "process_start_s_per_trial": 2 * best["empty_trials_2_workers"] / trials,
            "overhead_sweep_vs_direct": best["sweep_1_worker"] / best["direct"],
            "speedup_2_vs_1_workers": best["sweep_1_worker"] / best["sweep_2_workers"]}


def _markdown(result: dict[str, Any], info: dict[str, Any]) -> str:
    w = result["wall_s_best_of_repeats"]
    return (f"# Benchmark harness: overhead and 2-worker scaling\n\n"
            f"{result['trials']} trials × {result['cpu_seconds_per_trial']} s of "
            f"single-threaded CPU, 11 EvalPoints each; best of {result['repeats']}.\n\n"
            f"| run | wall (s) |\n| --- | --- |\n"
            f"| direct (generator loops) | {w['direct']:.2f} |\n"
            f"| sweep, 1 worker (in-process) | {w['sweep_1_worker']:.2f} |\n"
            f"| sweep, 2 workers (spawned processes) | {w['sweep_2_workers']:.2f} |\n"
            f"| the same trials with no work, 2 workers | {w['empty_trials_2_workers']:.2f} |\n\n"
            f"- overhead sweep / direct: **{result['overhead_sweep_vs_direct']:.3f}x** "
            f"(target ≤ 1.05x)\n"
            f"- speedup 2 workers vs 1: **{result['speedup_2_vs_1_workers']:.2f}x** "
            f"(target ≥ 1.8x on 2 idle cores)\n"
            f"- starting a trial's process (spawn + imports) costs "
            f"{result['process_start_s_per_trial']:.2f} s of a worker's time per trial\n\n"
            f"Machine: {info['cpus']} CPUs, load average (1/5/15 min) at the end "
            f"{info['load_average_1_5_15min']}, {info['platform']}, Python {info['python']}.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 trials of 0.3 s, 1 repeat")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0, help="CPU seconds per trial")
    add_output_args(parser)
    args = parser.parse_args()
    if args.trials < 2 or args.seconds < 0 or args.repeats < 1:
        parser.error("--trials must be ≥ 2, --seconds ≥ 0 and --repeats ≥ 1")
    trials, seconds, repeats = (4, 0.3, 1) if args.quick else (args.trials, args.seconds,
                                                                args.repeats)
    result = measure(trials, seconds, repeats)
    info = machine()
    payload = {"benchmark": "bench_harness", "result": result, "machine": info}
    name = "bench_harness" + ("-quick" if args.quick else "")
    json_path, md_path = write_results(name, payload, _markdown(result, info), args.out,
                                       publish=args.publish)
    print(_markdown(result, info))
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
