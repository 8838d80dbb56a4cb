"""Label-efficiency curves on HalfCheetah: our preference loop versus imitation's, 100 → 1000
labels, at the same env steps.

Arms, each trained for ``--steps`` env steps (default 200k, the ``halfcheetah`` task's
budget) with the task's PPO settings and evaluated by the true return of the deterministic
policy on the same ``--eval-episodes`` evaluation seeds:

* **ours** (``ppo-learned``): :class:`~rlhf_env.control.PreferenceLearningLoop` through the
  benchmark harness, on ``halfcheetah-labelsN`` (:func:`rlhf_env.bench.tasks.control_variant`)
  for each N of ``--labels``;
* **imitation** (``imitation-pc``): imitation 1.0.1's ``PreferenceComparisons`` with a
  ``SyntheticGatherer`` on gymnasium 0.29's ``HalfCheetah-v4`` (same observation, reward and
  fixed 1000-step episodes as our ``RLHF-HalfCheetah-v0``), N comparisons, fragments of 50
  steps, the same PPO settings and rounds. It runs in its own venv (imitation pins old
  gymnasium and SB3): ``scripts/setup_imitation.sh`` makes ``.venv-imitation``, and each
  trial runs ``benchmarks/imitation_runner.py`` there in a subprocess, wrapped as a harness
  algorithm so its results sit beside ours (see that file for the set-up);
* **references**: ``ppo-true`` (PPO on the true reward) and ``random``, on the same steps:
  the normalisation, random = 0 and PPO on the true reward = 1 (median final return over
  seeds).

Both label arms run through :func:`rlhf_env.bench.run_benchmark`: ``--out`` holds the sweeps
(``<out>/<name>_runs/<name>-refs`` for the references, ``<out>/<name>_runs/<name>`` for the
curves; ``rlhf-env bench report <out>/<name>_runs --out REPORT`` works on them) and
``<name>.json``/``.md``/``.png``: per arm and N the IQM of the normalised final return over
seeds with a bootstrap 95% interval (``rlhf_env.bench.stats``), the median and the raw
returns. Sweeps resume: rerunning the command skips trials already done.

    python benchmarks/bench_control_labels.py                     # full: hours of CPU
    python benchmarks/bench_control_labels.py --tiny              # smoke run, ~minutes
    python benchmarks/bench_control_labels.py --arms ours refs    # without the peer
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    ROOT,
    add_output_args,
    command_args,
    machine,
    result_folders,
    settings,
    write_results,
)

BASE_TASK = "halfcheetah"
IMITATION = "imitation-pc"
"""The peer arm's algorithm name in the sweeps."""
ARMS = {"ours": "ppo-learned", "imitation": IMITATION}
"""``--arms`` name → algorithm name of the label-efficiency arms."""
REFERENCES = ("ppo-true", "random")
PEER_ENV_IDS = {"RLHF-HalfCheetah-v0": "HalfCheetah-v4"}
"""Our fixed-horizon id → the gymnasium 0.29 id the peer trains on (same model and reward;
both never terminate, so both run fixed 1000-step episodes)."""
VENV_VARIABLE = "RLHF_ENV_IMITATION_VENV"
RUNNER = Path(__file__).resolve().parent / "imitation_runner.py"
TINY = {"steps": 4000, "rounds": 2, "labels": [20, 40], "seeds": [0], "eval_episodes": 1}
"""``--tiny``: a few thousand env steps, two rounds, N = 20 and 40, one seed, one episode."""


# ----------------------------------------------------------------------------- the peer arm


def imitation_python() -> Path:
    """The peer venv's interpreter (``$RLHF_ENV_IMITATION_VENV`` or ``.venv-imitation``)."""
    return Path(os.environ.get(VENV_VARIABLE) or ROOT / ".venv-imitation") / "bin" / "python"


def peer_missing() -> str | None:
    """Why the imitation arm cannot run here, or ``None`` when it can."""
    python = imitation_python()
    if not python.exists():
        return (f"the imitation venv is missing ({python} does not exist); make it with "
                f"scripts/setup_imitation.sh (or point ${VENV_VARIABLE} at one)")
    return None


def peer_settings(trial: Any) -> dict[str, Any]:
    """The runner's settings for ``trial``: the same env steps, rounds, PPO settings,
    fragment length, comparisons and evaluation seeds as ``ppo-learned`` gets."""
    from agents.bench.control import sb3_settings
    from rlhf_env.control.envs import CONTROL_TASKS
    from rlhf_env.errors import ConfigError

    env_id = trial.env.env_id
    if env_id not in PEER_ENV_IDS:
        raise ConfigError(f"the imitation arm knows the peer env of {sorted(PEER_ENV_IDS)}, "
                          f"not {env_id!r}; add it to PEER_ENV_IDS.")
    ppo, n_envs = sb3_settings(trial, "PPO")
    budget = trial.budget
    return {"labels": budget.labels, "seed": trial.seed, "env_id": PEER_ENV_IDS[env_id],
            "horizon": CONTROL_TASKS[env_id].horizon, "steps": budget.steps,
            "rounds": len(budget.eval_steps()) - 1,
            "fragment_length": int(trial.task.options.get("segment_length", 25)),
            "n_envs": n_envs, "ppo": ppo, "temperature": 1.0, "threads": trial.threads,
            "eval_seeds": [trial.eval_seed * 1000 + i for i in range(budget.eval_episodes)]}


def imitation_pc(trial: Any) -> Iterator[Any]:
    """imitation's preference comparisons on the trial's task, in the peer venv; yields the
    runner's evaluations as :class:`~rlhf_env.bench.EvalPoint` s (its own clock)."""
    import json

    from rlhf_env.bench import EvalPoint
    from rlhf_env.errors import BenchmarkError
    from rlhf_env.files import write_json

    why = peer_missing()
    if why:
        raise BenchmarkError(why)
    cfg, out = trial.run_dir / "imitation_settings.json", trial.run_dir / "imitation.jsonl"
    write_json(cfg, peer_settings(trial))
    env = {**os.environ, **{k: str(trial.threads) for k in
                            ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
    env.pop("PYTHONPATH", None)  # nothing of ours in the peer's interpreter
    with open(trial.run_dir / "imitation.log", "w", encoding="utf-8") as log:
        proc = subprocess.run([str(imitation_python()), str(RUNNER), str(cfg), str(out)],
                              stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    if proc.returncode != 0 or not out.exists():
        tail = (trial.run_dir / "imitation.log").read_text(encoding="utf-8")[-1500:]
        raise BenchmarkError(f"the imitation runner exited with {proc.returncode} (log: "
                             f"{trial.run_dir / 'imitation.log'}):\n{tail}")
    line = json.loads(out.read_text(encoding="utf-8").splitlines()[-1])
    for p in line["points"]:
        yield EvalPoint(step=int(p["step"]), proxy=float(p["proxy"]), gold=float(p["gold"]),
                        labels_used=int(p["labels_used"]), wall_time=float(p["wall_time"]),
                        extra={"env_steps": float(p["env_steps"])})


imitation_pc.kinds = ("control",)  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- the sweeps


def budget_of(args: argparse.Namespace, labels: int) -> Any:
    """The budget every arm gets: ``--steps`` in ``--rounds`` evaluation intervals."""
    from rlhf_env.bench import Budget

    return Budget(args.steps, max(1, args.steps // args.rounds),
                  eval_episodes=args.eval_episodes, labels=labels)


def run_references(args: argparse.Namespace, runs: Path) -> dict[str, float]:
    """``ppo-true`` and ``random`` on the base task at ``--steps``; their median final
    returns (``{"zero": random, "one": ppo-true}``)."""
    from rlhf_env.bench import Suite, register_suite, run_benchmark
    from rlhf_env.bench.stats import references
    from rlhf_env.bench.tasks import control_variant

    task = control_variant(BASE_TASK, budget=budget_of(args, 1),
                           name=f"{BASE_TASK}-{args.steps}steps")
    suite = register_suite(Suite(f"{args.name}-refs", (task.name,), REFERENCES,
                                 seeds=len(args.seeds)), overwrite=True)
    results = run_benchmark(suite, seeds=args.seeds, out=runs, workers=args.workers,
                            threads=args.threads, progress=not args.quiet)
    ref = references(results)[task.name]
    return {"zero": ref.zero, "one": ref.one}


def run_curves(args: argparse.Namespace, runs: Path, refs: dict[str, float]) -> Any:
    """Every label arm × N × seed, with the references' values fixed in each variant's
    normalisation (so ``bench report`` normalises them too); the sweep's results."""
    from rlhf_env.bench import (
        Normalisation,
        Suite,
        register_algorithm,
        register_suite,
        run_benchmark,
    )
    from rlhf_env.bench.tasks import control_variant

    register_algorithm(IMITATION, imitation_pc, overwrite=True)
    norm = Normalisation("random", "ppo-true", zero_value=refs["zero"], one_value=refs["one"])
    tasks = tuple(control_variant(BASE_TASK, budget=budget_of(args, n), normalisation=norm,
                                  name=variant_name(args, n)).name for n in args.labels)
    algorithms = tuple(ARMS[a] for a in args.arms if a in ARMS)
    suite = register_suite(Suite(args.name, tasks, algorithms, seeds=len(args.seeds)),
                           overwrite=True)
    return run_benchmark(suite, seeds=args.seeds, out=runs, workers=args.workers,
                         threads=args.threads, progress=not args.quiet)


def variant_name(args: argparse.Namespace, labels: int) -> str:
    """``halfcheetah-labels100`` at the task's own 200k steps, else with the steps too."""
    suffix = "" if args.steps == 200_000 else f"-{args.steps}steps"
    return f"{BASE_TASK}-labels{labels}{suffix}"


# ----------------------------------------------------------------------------- summary


def curve(results: Any, args: argparse.Namespace, refs: dict[str, float]) -> list[dict[str, Any]]:
    """One row per (arm, N): normalised final return over seeds (IQM with a bootstrap
    interval, median), the raw returns and the trials' wall times. Arms not asked for this
    time but run earlier into the same sweep (``--arms`` split over runs) are included."""
    import numpy as np

    from rlhf_env.bench.stats import StatsConfig, aggregate

    rows = []
    found = {r.algorithm for r in results.runs}
    for arm in (a for a in ARMS if a in args.arms or ARMS[a] in found):
        for n in args.labels:
            task = variant_name(args, n)
            runs = [r for r in results.done if r.algorithm == ARMS[arm] and r.task == task]
            golds = np.array([r.final.gold for r in runs if r.final is not None])
            norm = (golds - refs["zero"]) / (refs["one"] - refs["zero"])
            stats = aggregate({task: norm}, StatsConfig(reps=args.reps)) if len(norm) else {}
            rows.append({
                "arm": arm, "algorithm": ARMS[arm], "labels": n, "task": task,
                "seeds": [r.seed for r in runs], "final_returns": golds.tolist(),
                "normalised": norm.tolist(),
                "iqm": stats["iqm"].to_json() if stats else None,
                "median": stats["median"].to_json() if stats else None,
                "labels_used": [r.final.labels_used for r in runs if r.final is not None],
                "wall_seconds": [float(r.status.get("wall_time") or math.nan) for r in runs],
                "failed": [r.seed for r in results.failed
                           if r.algorithm == ARMS[arm] and r.task == task]})
    return rows


def markdown(payload: dict[str, Any]) -> str:
    """The Markdown report."""
    refs = payload["references"]
    lines = ["# Label efficiency on HalfCheetah: our preference loop vs imitation", "",
             f"Command: `{payload['command']}`  ", f"Wall time: {payload['wall_seconds']:.0f} s  ",
             f"Env steps per trial: {payload['steps']} in {payload['rounds']} rounds; "
             f"evaluation: {payload['eval_episodes']} episode(s), deterministic policy  ",
             f"References (median final true return): random {refs['zero']:.1f}, PPO on the "
             f"true reward {refs['one']:.1f}  ",
             "CPU seconds of this run (user + system; with --workers 1 these are what the "
             "trials cost on one core, whatever the load): " + ", ".join(
                 f"{k} {v:.0f}" for k, v in payload.get("cpu_seconds", {}).items()), "",
             "Normalised return = (return − random) / (PPO true − random). IQM over seeds "
             "with a stratified-bootstrap 95% interval (one seed: no interval).", "",
             "| arm | labels | seeds | IQM normalised [95% CI] | median normalised "
             "| median return | wall s / trial |", "|---|---|---|---|---|---|---|"]
    for r in payload["curve"]:
        if r["iqm"] is None:
            lines.append(f"| {r['arm']} | {r['labels']} | 0 | n/a (failed seeds: "
                         f"{r['failed']}) | n/a | n/a | n/a |")
            continue
        iqm, med = r["iqm"], r["median"]
        returns = sorted(r["final_returns"])
        lines.append(f"| {r['arm']} | {r['labels']} | {len(r['seeds'])} "
                     f"| {iqm['estimate']:.2f} [{iqm['low']:.2f}, {iqm['high']:.2f}] "
                     f"| {med['estimate']:.2f} | {returns[len(returns) // 2]:.1f} "
                     f"| {sum(r['wall_seconds']) / len(r['wall_seconds']):.0f} |")
    if payload.get("notes"):
        lines += ["", *[f"- {note}" for note in payload["notes"]]]
    lines += ["", "![curves](" + payload["name"] + ".png)", ""]
    return "\n".join(lines) + "\n"


def plot(payload: dict[str, Any]) -> bytes:
    """Normalised return (IQM, 95% interval) against labels, one line per arm."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for arm in dict.fromkeys(r["arm"] for r in payload["curve"]):
        rows = [r for r in payload["curve"] if r["arm"] == arm and r["iqm"]]
        if not rows:
            continue
        x = [r["labels"] for r in rows]
        est = [r["iqm"]["estimate"] for r in rows]
        low = [r["iqm"]["estimate"] - r["iqm"]["low"] for r in rows]
        high = [r["iqm"]["high"] - r["iqm"]["estimate"] for r in rows]
        ax.errorbar(x, est, yerr=[low, high], marker="o", capsize=3, label=arm)
    ax.axhline(0.0, color="grey", lw=0.8, ls=":")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--", label="PPO, true reward")
    ticks = sorted({r["labels"] for r in payload["curve"]})
    ax.set_xscale("log")
    ax.set_xticks(ticks, [str(n) for n in ticks])
    ax.minorticks_off()
    ax.set(xlabel="labels (segment comparisons)",
           ylabel="normalised final return (IQM)",
           title=f"HalfCheetah, {payload['steps']} env steps")
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", nargs="+", type=int, default=[100, 300, 1000])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=200_000, help="env steps per trial")
    parser.add_argument("--rounds", type=int, default=10,
                        help="label/train rounds = evaluation intervals (>= 2)")
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--arms", nargs="+", default=["ours", "imitation", "refs"],
                        choices=["ours", "imitation", "refs"],
                        help="refs (ppo-true, random) is needed to normalise; a run without "
                             "it reads the references of an earlier run in the same --out")
    parser.add_argument("--workers", type=int, default=1, help="trials at a time")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads per trial (default 1: more only spin on a machine "
                             "whose cores the other trials use)")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap repetitions")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke run: 4000 steps, 2 rounds, N = 20 and 40, seed 0, one "
                             "evaluation episode (numbers mean nothing)")
    parser.add_argument("--name", default="control_labels", help="result file name")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_output_args(parser)
    args = parser.parse_args(argv)
    if args.tiny:
        for key, value in TINY.items():
            setattr(args, key, value)
        if args.name == "control_labels":
            args.name = "control_labels_tiny"
    if args.rounds < 2 or args.steps < args.rounds:
        parser.error("--rounds must be >= 2 and --steps >= --rounds")
    if not any(a in ARMS for a in args.arms):
        parser.error("--arms needs ours and/or imitation (refs alone draws no curve)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if "imitation" in args.arms and peer_missing():
        raise SystemExit(f"{peer_missing()}; or leave the arm out: --arms ours refs")
    import torch

    torch.set_num_threads(1)
    runs = Path(args.out) / f"{args.name}_runs"
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    refs = run_references(args, runs) if "refs" in args.arms else None
    if refs is None:
        refs = previous_references(args, runs)
    cpu1 = cpu_seconds()
    results = run_curves(args, runs, refs)
    seconds, cpu2 = time.perf_counter() - t0, cpu_seconds()
    cpu = {"references": cpu1[0] - cpu0[0], "ours": cpu2[0] - cpu1[0],
           "imitation": cpu2[1] - cpu1[1]}
    command = "python benchmarks/bench_control_labels.py " + shlex.join(
        command_args(sys.argv[1:] if argv is None else argv))
    payload = {"name": args.name, "command": command, "wall_seconds": seconds,
               "steps": args.steps, "rounds": args.rounds, "eval_episodes": args.eval_episodes,
               "settings": settings(args), "references": refs, "runs": str(runs),
               "machine": machine("imitation"), "cpu_seconds": cpu,
               "curve": curve(results, args, refs),
               "notes": [f"{r.algorithm}/{r.task}/seed{r.seed} failed: "
                         f"{r.status.get('error')}" for r in results.failed]}
    paths = write_results(args.name, payload, markdown(payload), args.out, publish=args.publish)
    from rlhf_env.files import write_bytes

    image = plot(payload)
    for folder in result_folders(args.out, args.publish):
        write_bytes(folder / f"{args.name}.png", image)
    for row in payload["curve"]:
        print(f"{row['arm']:9s} N={row['labels']:<5d} IQM normalised "
              f"{(row['iqm'] or {}).get('estimate')}")
    print(f"wrote {paths[0]}, {paths[1]} and {args.name}.png")
    return 1 if results.failed else 0


def cpu_seconds() -> tuple[float, float]:
    """``(this process, its finished children)``: CPU seconds (user + system) used so far.
    Trials run in this process (``--workers 1``) and the peer runner in a child, so the
    differences around each sweep are what the arms cost on a core, however loaded the
    machine is (wall times on a shared machine are not)."""
    import resource

    me, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def previous_references(args: argparse.Namespace, runs: Path) -> dict[str, float]:
    """The references of an earlier ``refs`` run in the same folder (``--arms`` without it)."""
    from rlhf_env.bench import load_results
    from rlhf_env.bench.stats import references

    folder = runs / f"{args.name}-refs"
    if not (folder / "manifest.json").exists():
        raise SystemExit(f"no reference runs in {folder}: run with --arms refs first (same "
                         f"--out, --name and --steps).")
    found = references(load_results(folder))
    ref = found.get(f"{BASE_TASK}-{args.steps}steps")
    if ref is None or not (math.isfinite(ref.zero) and math.isfinite(ref.one)):
        raise SystemExit(f"the runs in {folder} have no finished ppo-true and random trials "
                         f"at {args.steps} steps; run with --arms refs.")
    return {"zero": ref.zero, "one": ref.one}


if __name__ == "__main__":
    raise SystemExit(main())
