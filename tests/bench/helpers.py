"""Tiny synthetic benchmark tasks and algorithms whose numbers follow known formulas.

Module-level functions, so the 2-worker (spawn) runner can pickle them by reference.

gold(step) = BASE[task] + RATE[algo] · step / budget + 0.01 · seed;  proxy = gold + 1;
kl = (step / budget)² on text tasks (None on control tasks).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

BASE = {"t-text": 0.0, "t-ctrl": 10.0}
RATE = {"fast": 2.0, "slow": 1.0}
BUDGET = Budget(steps=100, eval_every=50, eval_episodes=1)
PREPARE_CALLS: list[str] = []
CALLS: list[tuple[str, str, int]] = []
"""(algorithm, task, seed) of every in-process run of fast/slow."""


def gold(task: str, algo: str, step: int, seed: int) -> float:
    return BASE[task] + RATE[algo] * step / BUDGET.steps + 0.01 * seed


def _prepare(cache: Path) -> dict[str, Any]:
    """Writes a marker in the cache and passes an env kwarg (counted, to test 'once')."""
    PREPARE_CALLS.append(str(cache))
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "proxy.txt").write_text("prepared")
    return {"max_episode_steps": 33}


def task(name: str, kind: str = "control") -> BenchTask:
    return BenchTask(name=name, kind=kind,  # type: ignore[arg-type]
                     description=f"synthetic {name}", env=EnvSpec("CartPole-v1"),
                     budget=BUDGET, normalisation=Normalisation(zero="initial", one="fast"),
                     proxy="gold + 1", gold="formula", prepare=_prepare)


def _formula(algo: str, trial: Trial) -> Iterator[EvalPoint]:
    CALLS.append((algo, trial.task.name, trial.seed))
    text = trial.task.kind == "text"
    for step in trial.budget.eval_steps():
        g = gold(trial.task.name, algo, step, trial.seed)
        kl = (step / trial.budget.steps) ** 2 if text else None
        yield trial.point(step, proxy=g + 1, gold=g, kl=kl)


def fast(trial: Trial) -> Iterator[EvalPoint]:
    yield from _formula("fast", trial)


def slow(trial: Trial) -> Iterator[EvalPoint]:
    yield from _formula("slow", trial)


def crashing(trial: Trial) -> Iterator[EvalPoint]:
    yield trial.point(0, proxy=0.0, gold=0.0)
    raise ValueError("boom in the synthetic algorithm")


def nan_gold(trial: Trial) -> Iterator[EvalPoint]:
    yield trial.point(0, proxy=0.0, gold=float("nan"))


def dying(trial: Trial) -> Iterator[EvalPoint]:
    yield trial.point(0, proxy=0.0, gold=0.0)
    os._exit(7)


def env_reader(trial: Trial) -> Iterator[EvalPoint]:
    """Gold = the env's max_episode_steps (33 when prepare's kwargs reached the trial)."""
    env = trial.make_env()
    limit = env.spec.max_episode_steps
    env.close()
    for step in trial.budget.eval_steps():
        yield trial.point(step, proxy=0.0, gold=float(limit), threads=float(trial.threads))


def busy(trial: Trial) -> Iterator[EvalPoint]:
    """CPU-bound for ``trial.options['seconds']`` (default 0.5) of single-threaded work."""
    yield trial.point(0, proxy=0.0, gold=0.0)
    end = time.process_time() + float(trial.options.get("seconds", 0.5))
    x = 0
    while time.process_time() < end:
        x += 1
    yield trial.point(trial.budget.steps, proxy=0.0, gold=1.0)


def sleepy(trial: Trial) -> Iterator[EvalPoint]:
    """Yields step 0, then sleeps ``trial.options['seconds']`` (default 60) before the end."""
    yield trial.point(0, proxy=0.0, gold=0.0)
    time.sleep(float(trial.options.get("seconds", 60.0)))
    yield trial.point(trial.budget.steps, proxy=0.0, gold=1.0)


def text_only(trial: Trial) -> Iterator[EvalPoint]:
    yield from _formula("slow", trial)


def backwards(trial: Trial) -> Iterator[EvalPoint]:
    yield trial.point(50, proxy=0.0, gold=0.0)
    yield trial.point(0, proxy=0.0, gold=0.0)


ALGOS = {"fast": fast, "slow": slow, "crashing": crashing, "nan_gold": nan_gold,
         "dying": dying, "env_reader": env_reader, "busy": busy, "sleepy": sleepy,
         "text_only": text_only, "backwards": backwards}


def register_all() -> None:
    """Register the tasks, algorithms and the suite ``synth`` (idempotent)."""
    for name, fn in ALGOS.items():
        kinds = ("text",) if name == "text_only" else ("text", "control")
        fn.kinds = kinds  # type: ignore[attr-defined]
        register_algorithm(name, fn, overwrite=True)
    register_task(task("t-text", "text"), overwrite=True)
    register_task(task("t-ctrl", "control"), overwrite=True)
    register_suite(Suite(name="synth", tasks=("t-text", "t-ctrl"), algorithms=("fast", "slow"),
                         seeds=2), overwrite=True)
