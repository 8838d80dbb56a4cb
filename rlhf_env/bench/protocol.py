"""The benchmark's contract: budgets, tasks, trials, evaluation points and algorithms.

A benchmark run is a grid of independent *trials*, one per (task, algorithm, seed)::

    Suite ──▶ BenchTask × algorithm name × seed ──runner──▶ Trial
    Algorithm.run(trial) ──yields──▶ EvalPoint, EvalPoint, …  ──▶ runs/…/metrics.jsonl

Every task has a **proxy** reward (what the agent trains on) and an independent **gold**
judge (what the report scores). An algorithm sees the task only through :class:`Trial`: it
trains within ``trial.budget`` from ``trial.seed`` and yields an :class:`EvalPoint` at step 0,
every ``budget.eval_every`` steps and at the end. The harness never imports a learner: the
built-in algorithms live in ``agents`` and, like a user's, are found through the
``rlhf_env.algorithms`` entry-point group (see :mod:`rlhf_env.bench.registry`).

A user's algorithm is either a class with this shape or a plain generator function::

    def my_algorithm(trial: Trial) -> Iterator[EvalPoint]:
        env = trial.make_env()
        for step in trial.budget.eval_steps():
            ...                             # train up to `step`
            yield trial.point(step, proxy=..., gold=..., kl=...)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from rlhf_env.errors import ConfigError

TaskKind = Literal["text", "control"]
TASK_KINDS: tuple[TaskKind, ...] = ("text", "control")

EVAL_SEED_OFFSET = 1_000_003
"""Evaluation seeds are ``seed + EVAL_SEED_OFFSET``: disjoint from every training seed."""


def _positive_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer ≥ {minimum}, got {value!r}.")


@dataclass(frozen=True)
class Budget:
    """How much a trial may use, and how often it is evaluated."""

    steps: int
    """Training budget in the task's unit: env steps (control) or episodes, i.e. sampled
    responses (text)."""
    eval_every: int
    """Evaluate every this many steps (and always at step 0 and at ``steps``)."""
    eval_episodes: int = 32
    """Episodes (control) or prompts (text) per evaluation, on evaluation seeds."""
    labels: int = 0
    """Feedback labels the proxy may be learned from (0: the proxy is given)."""

    def __post_init__(self) -> None:
        _positive_int("Budget.steps", self.steps)
        _positive_int("Budget.eval_every", self.eval_every)
        _positive_int("Budget.eval_episodes", self.eval_episodes)
        _positive_int("Budget.labels", self.labels, minimum=0)

    def eval_steps(self) -> list[int]:
        """The steps at which a trial is evaluated: ``0, K, 2K, …, steps``."""
        points = list(range(0, self.steps, self.eval_every))
        return [*points, self.steps]

    def scaled(self, factor: float) -> Budget:
        """The same budget with ``steps`` and ``eval_every`` scaled (for quick suites)."""
        steps = max(1, round(self.steps * factor))
        return Budget(steps=steps, eval_every=max(1, min(steps, round(self.eval_every * factor))),
                      eval_episodes=self.eval_episodes, labels=self.labels)


@dataclass(frozen=True)
class Normalisation:
    """How a task's gold score maps to ``[0, 1]``: ``(gold − zero) / (one − zero)``.

    ``zero`` and ``one`` name reference points measured in the same sweep: an algorithm's
    name (its final gold score, median over seeds), ``"NAME@start"`` (the step-0 gold of that
    algorithm's runs: e.g. ``"best-of-n@start"`` is best-of-1, the untrained language model),
    or ``"initial"`` (the step-0 gold of every run on the task). Where the sweep has no run of
    a reference, the fixed ``*_value`` (measured once, documented with the task) is used.
    """

    zero: str
    one: str
    zero_value: float | None = None
    one_value: float | None = None

    def apply(self, gold: float, zero: float, one: float) -> float:
        if not math.isfinite(zero) or not math.isfinite(one) or one == zero:
            return math.nan
        return (gold - zero) / (one - zero)


@dataclass(frozen=True)
class EnvSpec:
    """How to build a task's environment: ``gymnasium.make(env_id, **kwargs)``."""

    env_id: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def make(self, **overrides: Any) -> Any:
        import gymnasium as gym

        import rlhf_env  # noqa: F401  (registers the ids)

        return gym.make(self.env_id, **{**self.kwargs, **overrides})

    def make_vec(self, num_envs: int, **overrides: Any) -> Any:
        import gymnasium as gym

        import rlhf_env  # noqa: F401

        return gym.make_vec(self.env_id, num_envs=num_envs, **{**self.kwargs, **overrides})


@dataclass(frozen=True)
class BenchTask:
    """One benchmark task: an environment whose reward is a proxy, and a gold judge."""

    name: str
    kind: TaskKind
    description: str
    """What the agent does, the proxy, the gold judge and where the prompts come from."""
    env: EnvSpec
    """The environment the agent trains on (its reward is the proxy)."""
    budget: Budget
    normalisation: Normalisation
    proxy: str
    """Human-readable name of the proxy reward (e.g. ``"MiniLM head from 2k biased labels"``)."""
    gold: str
    """Human-readable name of the gold judge (e.g. ``"VADER"``, ``"true return"``)."""
    prepare: Callable[[Path], Mapping[str, Any]] | None = None
    """Builds what the env needs before any trial (e.g. trains a Gao proxy reward model into
    the cache folder given, reproducibly from the task's seed) and returns extra env kwargs.
    Must be idempotent: a second call finds its cached result."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Task facts algorithms may read (e.g. ``{"best_of_n": 4}``, action vocabularies)."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a benchmark task needs a non-empty name.")
        if self.kind not in TASK_KINDS:
            raise ConfigError(f"task kind must be one of {TASK_KINDS}, got {self.kind!r}.")

    def resolved_env(self, cache_dir: Path) -> EnvSpec:
        """The env spec with ``prepare``'s kwargs merged in (runs ``prepare`` if any)."""
        if self.prepare is None:
            return self.env
        extra = self.prepare(Path(cache_dir))
        return EnvSpec(self.env.env_id, {**self.env.kwargs, **extra})


@dataclass(frozen=True)
class EvalPoint:
    """One evaluation of a trial's current policy, on evaluation seeds."""

    step: int
    """Training steps used so far (in ``Budget.steps``' unit)."""
    proxy: float
    """Mean proxy reward: reward-model score (text) or learned-reward return (control)."""
    gold: float
    """Mean gold score: the gold judge (text) or the true return (control)."""
    kl: float | None = None
    """KL to the reference policy in nats per response (text; ``None`` for control)."""
    labels_used: int = 0
    """Feedback labels consumed so far."""
    wall_time: float = 0.0
    """Seconds since the trial started."""
    extra: Mapping[str, float] = field(default_factory=dict)
    """Algorithm-specific scalars (entropy, β, …); reported but not aggregated."""

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "proxy": self.proxy, "gold": self.gold, "kl": self.kl,
                "labels_used": self.labels_used, "wall_time": self.wall_time,
                "extra": dict(self.extra)}

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> EvalPoint:
        return cls(step=int(row["step"]), proxy=float(row["proxy"]), gold=float(row["gold"]),
                   kl=None if row.get("kl") is None else float(row["kl"]),
                   labels_used=int(row.get("labels_used", 0)),
                   wall_time=float(row.get("wall_time", 0.0)),
                   extra={k: float(v) for k, v in dict(row.get("extra") or {}).items()})


@dataclass(frozen=True)
class Trial:
    """Everything an algorithm gets: one task, one seed, its budget and a folder."""

    task: BenchTask
    algorithm: str
    seed: int
    env: EnvSpec
    """The prepared env spec (``task.resolved_env``): build envs from this, not ``task.env``."""
    run_dir: Path
    """This trial's folder; the algorithm may write checkpoints or logs under it."""
    threads: int = 1
    """CPU threads the trial may use (the runner sets torch's thread count to this)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Per-suite algorithm options (e.g. a smaller model for the quick suite)."""
    started: float = field(default_factory=time.perf_counter)

    @property
    def budget(self) -> Budget:
        return self.task.budget

    @property
    def eval_seed(self) -> int:
        """Seed of evaluation episodes/prompts: never equal to any training seed."""
        return self.seed + EVAL_SEED_OFFSET

    def make_env(self, **overrides: Any) -> Any:
        return self.env.make(**overrides)

    def point(self, step: int, *, proxy: float, gold: float, kl: float | None = None,
              labels_used: int = 0, **extra: float) -> EvalPoint:
        """An :class:`EvalPoint` stamped with the time since the trial started."""
        return EvalPoint(step=step, proxy=float(proxy), gold=float(gold),
                         kl=None if kl is None else float(kl), labels_used=labels_used,
                         wall_time=time.perf_counter() - self.started,
                         extra={k: float(v) for k, v in extra.items()})


@runtime_checkable
class Algorithm(Protocol):
    """What the harness runs. ``run`` trains within ``trial.budget`` and yields evaluations."""

    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> tuple[TaskKind, ...]:
        """Task kinds it can run (``("text",)``, ``("control",)`` or both)."""

    def run(self, trial: Trial) -> Iterable[EvalPoint]: ...


@dataclass(frozen=True)
class FunctionAlgorithm:
    """Adapts a generator function ``fn(trial) -> Iterable[EvalPoint]`` to :class:`Algorithm`."""

    name: str
    fn: Callable[[Trial], Iterable[EvalPoint]]
    kinds: tuple[TaskKind, ...] = TASK_KINDS

    def run(self, trial: Trial) -> Iterable[EvalPoint]:
        return self.fn(trial)
