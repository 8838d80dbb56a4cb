"""Label efficiency on control tasks: PPO on a learned reward versus PPO on the true reward.

For each task and seed, at the same number of environment steps:

* **true**: PPO trains on the fixed-horizon task's own reward;
* **learned**: :class:`~rlhf_env.control.loop.PreferenceLearningLoop` — PPO trains only on
  a reward ensemble learned from at most ``labels`` synthetic segment comparisons
  (Boltzmann-rational over true segment returns, 10% slips, uncertainty selection).

Both agents are then evaluated on the **true** return (deterministic policy, ``--eval-episodes``
episodes). Reported per task: the median over seeds of each, the ratio
``median(learned) / median(true)`` and, because Pendulum's returns are negative, the
random-normalised ratio ``(learned − random) / (true − random)``.

    python benchmarks/bench_control.py                      # full scale (slow on CPU)
    python benchmarks/bench_control.py --tasks cartpole --seeds 0 1 2 --scale 0.5
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@dataclass(frozen=True)
class Task:
    """One benchmark row: env, budgets, PPO settings and the expected ratio."""

    env_id: str
    timesteps: int
    labels: int
    expected: float
    ppo: dict[str, Any]
    rounds: int = 10
    segment_length: int = 25
    run: dict[str, Any] = field(default_factory=dict)
    """Run-long settings of both arms (:data:`RUN_KEYS`; ``--loop`` overrides them)."""


RUN_KEYS = ("lr_final_fraction", "log_std_floor")
"""LoopConfig fields that the true arm takes too (rlhf_env.control.schedules), so both arms
train alike."""


TASKS = {
    "cartpole": Task("RLHF-CartPole-v0", 60_000, 500, 0.95,
                     {"n_steps": 256, "batch_size": 128, "n_epochs": 10, "gae_lambda": 0.95,
                      "gamma": 0.98, "learning_rate": 1e-3, "ent_coef": 0.0}),
    "pendulum": Task("RLHF-Pendulum-v0", 150_000, 500, 0.95,
                     {"n_steps": 1024, "batch_size": 64, "n_epochs": 10, "gae_lambda": 0.95,
                      "gamma": 0.9, "learning_rate": 1e-3, "ent_coef": 0.0, "clip_range": 0.2,
                      "use_sde": True, "sde_sample_freq": 4}),
    "halfcheetah": Task("RLHF-HalfCheetah-v0", 1_000_000, 1000, 0.85,
                        {"n_steps": 512, "batch_size": 64, "n_epochs": 10, "gae_lambda": 0.92,
                         "gamma": 0.98, "learning_rate": 2e-4, "ent_coef": 0.0},
                        rounds=20, segment_length=50),
}


def evaluate(agent: Any, env_id: str, episodes: int, seed: int) -> float:
    """Mean true return of the deterministic policy."""
    from rlhf_env.control.envs import make_rlhf_env

    env = make_rlhf_env(env_id)
    total = 0.0
    for ep in range(episodes):
        obs, _ = env.reset(seed=10_000 + seed * 100 + ep)
        done = False
        while not done:
            action, _ = agent.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
    return total / episodes


def random_return(env_id: str, episodes: int) -> float:
    """Mean true return of the uniform random policy."""
    from rlhf_env.control.envs import make_rlhf_env, random_policy_return

    return random_policy_return(make_rlhf_env(env_id), episodes)


def run_true(task: Task, steps: int, seed: int, episodes: int,
             run: dict[str, Any] | None = None) -> float:
    """PPO on the true reward; its evaluated true return. ``run``: :data:`RUN_KEYS`
    settings (one ``learn`` call here, so the run-long schedule spans it all)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from rlhf_env.control.envs import make_rlhf_env
    from rlhf_env.control.schedules import rollout_aligned, run_callbacks

    venv = make_vec_env(lambda: make_rlhf_env(task.env_id), n_envs=4, seed=seed)
    agent = PPO("MlpPolicy", venv, seed=seed, verbose=0, **task.ppo)
    callbacks = run_callbacks(agent, rollout_aligned(steps, agent), **(run or {}))
    agent.learn(steps, callback=callbacks or None)
    return evaluate(agent, task.env_id, episodes, seed)


def run_learned(task: Task, steps: int, labels: int, seed: int, episodes: int,
                overrides: dict[str, Any] | None = None) -> tuple[float, dict[str, float]]:
    """The preference loop; the agent's evaluated true return and the last round's metrics.

    ``overrides``: extra :class:`~rlhf_env.control.loop.LoopConfig` fields (``--loop``)."""
    from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop

    settings = {"rounds": task.rounds, "segment_length": task.segment_length, **task.run,
                **(overrides or {})}
    cfg = LoopConfig(total_timesteps=steps, total_labels=labels, n_envs=4, seed=seed,
                     **settings)
    loop = PreferenceLearningLoop(task.env_id, cfg, algorithm_kwargs=task.ppo)
    loop.run()
    return evaluate(loop.agent, task.env_id, episodes, seed), loop.history[-1]


def bench_task(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Every seed of one task, for the arms asked (``--arms``: true and/or learned)."""
    task = TASKS[name]
    steps = int(task.timesteps * args.scale)
    labels = int(min(task.labels, args.labels or task.labels))
    overrides = parse_overrides(args.loop)
    run = {k: v for k, v in {**task.run, **overrides}.items() if k in RUN_KEYS}
    rows = []
    for seed in args.seeds:
        row: dict[str, Any] = {"seed": seed}
        t0 = time.perf_counter()
        if "true" in args.arms:
            row["true_reward_return"] = run_true(task, steps, seed, args.eval_episodes, run)
            row["true_seconds"] = time.perf_counter() - t0
        if "learned" in args.arms:
            t1 = time.perf_counter()
            row["learned_reward_return"], row["last_round"] = run_learned(
                task, steps, labels, seed, args.eval_episodes, overrides)
            row["learned_seconds"] = time.perf_counter() - t1
        rows.append(row)
        print(f"{name} seed {seed}: true {row.get('true_reward_return')} learned "
              f"{row.get('learned_reward_return')} ({time.perf_counter() - t0:.0f}s)",
              flush=True)
    head = {"task": name, "env_id": task.env_id, "env_steps": steps, "labels": labels,
            "loop_overrides": overrides, "run_settings": run, "expected_ratio": task.expected,
            "random_return": random_return(task.env_id, args.eval_episodes)}
    return summarise(head, rows)


def summarise(head: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One task row: medians over seeds of each arm, the ratio and the normalised ratio."""
    def median(key: str) -> float | None:
        values = [r[key] for r in rows if key in r]
        return float(np.median(values)) if values else None

    med_true, med_learned = median("true_reward_return"), median("learned_reward_return")
    rand = head["random_return"]
    share = normalised = None
    if med_true is not None and med_learned is not None:
        share = ratio(med_learned, med_true)
        normalised = (med_learned - rand) / (med_true - rand) if med_true != rand else None
    return {**head, "seeds": [r["seed"] for r in rows], "median_true": med_true,
            "median_learned": med_learned, "ratio": share, "normalized_ratio": normalised,
            "runs": rows}


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["rounds=20", "hidden=(128, 128)"]`` → ``{"rounds": 20, "hidden": (128, 128)}``."""
    import ast

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--loop expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def ratio(learned: float, true: float) -> float | None:
    """``learned / true`` where that means "share of the true-reward return" (true > 0)."""
    return learned / true if true > 0 else None


def markdown(results: list[dict[str, Any]], command: str, seconds: float, scale: float) -> str:
    """The Markdown report."""
    lines = ["# Control tasks: PPO on a learned reward vs on the true reward", "",
             f"Command: `{command}`  ", f"Wall time: {seconds:.0f} s  ",
             f"Scale: {scale} of the full env-step budgets"
             + (" (REDUCED for some tasks: see the env steps column)" if scale < 1 else ""),
             "",
             "`ratio` = median learned / median true (only for positive returns); the "
             "random-normalised ratio is (learned − random) / (true − random), the measure "
             "that also works for Pendulum's negative returns.", "",
             "| task | env steps | labels | seeds | random | median true | median learned "
             "| ratio | random-normalised ratio | expected |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        def fmt(x: Any, digits: int = 2) -> str:
            return "n/a" if x is None else f"{x:.{digits}f}"

        extra = ", ".join(f"{k}={v}" for k, v in (r.get("loop_overrides") or {}).items())
        env = r["env_id"] + (f" ({extra})" if extra else "")
        lines.append(f"| {env} | {r['env_steps']} | {r['labels']} | {len(r['seeds'])} "
                     f"| {r['random_return']:.1f} | {fmt(r['median_true'], 1)} "
                     f"| {fmt(r['median_learned'], 1)} | {fmt(r['ratio'])} "
                     f"| {fmt(r['normalized_ratio'])} | ≥ {r['expected_ratio']:.2f} |")
    lines += ["", "Returns are true returns of the deterministic policy over fixed-horizon "
              "episodes (CartPole: 200 steps, +1 per upright step, 0 after a fall).", ""]
    return "\n".join(lines) + "\n"


def combine(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join rows of the same task setting run in separate processes (other seeds or arms)."""
    groups: dict[str, tuple[dict[str, Any], dict[int, dict[str, Any]]]] = {}
    for r in results:
        key = repr((r["env_id"], r["env_steps"], r["labels"],
                    sorted((r.get("loop_overrides") or {}).items())))
        _, seeds = groups.setdefault(key, ({k: v for k, v in r.items() if k in HEAD_KEYS},
                                              {}))
        for run in r["runs"]:
            seeds.setdefault(run["seed"], {}).update(run)
    return [summarise(head, [seeds[s] for s in sorted(seeds)]) for head, seeds in groups.values()]


HEAD_KEYS = ("task", "env_id", "env_steps", "labels", "loop_overrides", "expected_ratio",
             "random_return")


def read_part(folder: Path, name: str) -> dict[str, Any]:
    """The result file ``<folder>/<name>.json`` of an earlier run, for :func:`merge`."""
    import json

    path = folder / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"no result file {path}: run that part first (with the same --out), "
                         "then merge.")
    return json.loads(path.read_text(encoding="utf-8"))


def merge(names: list[str], out: str, args: argparse.Namespace) -> int:
    """Combine result files of separate runs (e.g. one process per task), read from
    ``--out``, into ``<--out>/<out>`` (and ``benchmarks/results/`` with ``--publish``)."""
    from benchmarks._common import machine, write_results

    parts = [read_part(args.out, n) for n in names]
    results = combine([r for p in parts for r in p["results"]])
    command = " && ".join(p["command"] for p in parts)
    seconds = sum(p["wall_seconds"] for p in parts)
    scale = min(p["scale"] for p in parts)
    payload = {"command": command, "wall_seconds": seconds, "scale": scale,
               "machine": machine(), "parts": parts, "results": results}
    body = markdown(results, command, seconds, scale)
    notes = [f"- `{p['command']}`: {p['wall_seconds']:.0f} s, scale {p['scale']}" for p in parts]
    paths = write_results(out, payload, body + "\nRuns:\n\n" + "\n".join(notes) + "\n",
                          args.out, publish=args.publish)
    print(f"merged {', '.join(names)} into {paths[0]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``<--out>/<--name>.json`` and ``.md``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["cartpole", "pendulum", "halfcheetah"],
                        choices=sorted(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every env-step budget (reduced runs on slow machines)")
    parser.add_argument("--labels", type=int, default=None, help="cap on labels per task")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--arms", nargs="+", default=["true", "learned"],
                        choices=["true", "learned"],
                        help="which agents to train (split across processes, then --merge)")
    parser.add_argument("--loop", nargs="+", default=None, metavar="KEY=VALUE",
                        help="LoopConfig overrides for the learned arm, e.g. rounds=20")
    parser.add_argument("--name", default="control", help="result file name")
    parser.add_argument("--merge", nargs="+", default=None, metavar="NAME",
                        help="only combine <--out>/NAME.json files into <--out>/<--name>")
    from benchmarks._common import add_output_args

    add_output_args(parser)
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.name, args)
    import torch

    torch.set_num_threads(1)
    from benchmarks._common import command_args, machine, write_results

    t0 = time.perf_counter()
    results = [bench_task(name, args) for name in args.tasks]
    seconds = time.perf_counter() - t0
    command = "python benchmarks/bench_control.py " + shlex.join(
        command_args(sys.argv[1:] if argv is None else argv))
    payload = {"command": command, "wall_seconds": seconds, "scale": args.scale,
               "machine": machine(), "results": results}
    paths = write_results(args.name, payload, markdown(results, command, seconds, args.scale),
                          args.out, publish=args.publish)
    for r in results:
        print(f"{r['env_id']}: median true {r['median_true']}, learned "
              f"{r['median_learned']}, ratio {r['ratio']}")
    print(f"wrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
