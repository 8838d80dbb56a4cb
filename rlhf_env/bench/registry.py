"""Names → benchmark tasks, algorithms and suites.

Algorithms come from two places, looked up in this order: :func:`register_algorithm`
(in-process, e.g. a notebook) and the ``rlhf_env.algorithms`` entry-point group (installed
packages; ours in ``agents`` register the same way, which is how the harness runs them
without importing ``agents``). An entry point may load to an :class:`Algorithm` instance, a
class whose no-argument instance is one, or a generator function ``fn(trial)``; its name in
the group is the algorithm's name.

Tasks and suites are registered in-process (:func:`register_task`, :func:`register_suite`);
the built-in ones are added when :mod:`rlhf_env.bench.tasks` and
:mod:`rlhf_env.bench.suites` are imported, which :func:`get_task` / :func:`get_suite` do.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rlhf_env.bench.protocol import (
    TASK_KINDS,
    Algorithm,
    BenchTask,
    EvalPoint,
    FunctionAlgorithm,
    TaskKind,
    Trial,
)
from rlhf_env.errors import ConfigError, ModelLoadError, UnknownNameError

ALGORITHM_GROUP = "rlhf_env.algorithms"

_ALGORITHMS: dict[str, Algorithm] = {}
_TASKS: dict[str, BenchTask] = {}
_SUITES: dict[str, Suite] = {}


@dataclass(frozen=True)
class Suite:
    """A named grid: which tasks, which algorithms, how many seeds."""

    name: str
    tasks: tuple[str, ...]
    algorithms: tuple[str, ...]
    seeds: int = 5
    description: str = ""
    budget_scale: float = 1.0
    """Multiplies every task's ``steps`` and ``eval_every`` (quick suites use < 1)."""
    options: dict[str, dict[str, Any]] | None = None
    """Per-algorithm options passed to :attr:`Trial.options` (e.g. a smaller model)."""

    def __post_init__(self) -> None:
        if not self.tasks or not self.algorithms:
            raise ConfigError(f"suite {self.name!r} needs at least one task and one algorithm.")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ConfigError(f"suite {self.name!r}: seeds must be an integer ≥ 1, "
                              f"got {self.seeds!r}.")
        if not 0 < self.budget_scale <= 1e6:
            raise ConfigError(f"suite {self.name!r}: budget_scale must be > 0, "
                              f"got {self.budget_scale!r}.")


def as_algorithm(name: str, target: Any) -> Algorithm:
    """Turn an instance, a class or a generator function into an :class:`Algorithm`."""
    if isinstance(target, type):
        target = target()
    if isinstance(target, Algorithm):
        return target
    if callable(target):
        kinds = tuple(getattr(target, "kinds", TASK_KINDS))
        return FunctionAlgorithm(name=name, fn=target, kinds=kinds)
    raise ConfigError(
        f"the algorithm {name!r} resolved to {target!r}, which is neither an object with "
        f"name, kinds and run(trial), a class of one, nor a function fn(trial) yielding "
        f"EvalPoints."
    )


def register_algorithm(name: str, target: Any, *, overwrite: bool = False) -> Algorithm:
    """Make ``target`` (see :func:`as_algorithm`) runnable as ``name`` in this process."""
    if name in _ALGORITHMS and not overwrite:
        raise ConfigError(f"an algorithm named {name!r} is registered already; pass "
                          f"overwrite=True to replace it.")
    algorithm = as_algorithm(name, target)
    _ALGORITHMS[name] = algorithm
    return algorithm


def algorithm(name: str, kinds: Iterable[TaskKind] = TASK_KINDS
              ) -> Callable[[Callable[[Trial], Iterable[EvalPoint]]], Any]:
    """Decorator marking a generator function as an algorithm of ``kinds`` (not registered:
    point an entry point at it, or pass it to :func:`register_algorithm`)."""

    def mark(fn: Callable[[Trial], Iterable[EvalPoint]]) -> Any:
        fn.kinds = tuple(kinds)  # type: ignore[attr-defined]
        fn.algorithm_name = name  # type: ignore[attr-defined]
        return fn

    return mark


def _entry_points() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for ep in importlib.metadata.entry_points(group=ALGORITHM_GROUP):
        found.setdefault(ep.name, ep)
    return found


def list_algorithms() -> list[str]:
    return sorted(set(_ALGORITHMS) | set(_entry_points()))


def get_algorithm(name: str) -> Algorithm:
    """The algorithm registered or installed as ``name``."""
    if name in _ALGORITHMS:
        return _ALGORITHMS[name]
    ep = _entry_points().get(name)
    if ep is None:
        raise UnknownNameError("algorithm", name, list_algorithms(),
                               hint=f"Register one with rlhf_env.bench.register_algorithm or "
                                    f"an entry point in the {ALGORITHM_GROUP!r} group.")
    try:
        target = ep.load()
    except Exception as exc:
        dist = getattr(getattr(ep, "dist", None), "name", "an unknown distribution")
        raise ModelLoadError(
            f"the algorithm {name!r} comes from {dist!r} through the entry point "
            f"'{ep.name} = {ep.value}' in group {ALGORITHM_GROUP!r}, but importing it failed "
            f"({type(exc).__name__}: {exc}). Reinstall that package or uninstall it."
        ) from exc
    return as_algorithm(name, target)


def register_task(task: BenchTask, *, overwrite: bool = False) -> BenchTask:
    if task.name in _TASKS and not overwrite:
        raise ConfigError(f"a benchmark task named {task.name!r} exists; pass overwrite=True "
                          f"to replace it.")
    _TASKS[task.name] = task
    return task


def _builtins() -> None:
    importlib.import_module("rlhf_env.bench.tasks")
    importlib.import_module("rlhf_env.bench.suites")


def get_task(name: str | BenchTask) -> BenchTask:
    if isinstance(name, BenchTask):
        return name
    _builtins()
    if name not in _TASKS:
        raise UnknownNameError("benchmark task", name, _TASKS,
                               hint="List them with `rlhf-env bench list`.")
    return _TASKS[name]


def list_tasks() -> dict[str, BenchTask]:
    _builtins()
    return dict(_TASKS)


def register_suite(suite: Suite, *, overwrite: bool = False) -> Suite:
    if suite.name in _SUITES and not overwrite:
        raise ConfigError(f"a suite named {suite.name!r} exists; pass overwrite=True to "
                          f"replace it.")
    _SUITES[suite.name] = suite
    return suite


def get_suite(name: str | Suite) -> Suite:
    if isinstance(name, Suite):
        return name
    _builtins()
    if name not in _SUITES:
        raise UnknownNameError("suite", name, _SUITES, hint="List them with `rlhf-env bench list`.")
    return _SUITES[name]


def list_suites() -> dict[str, Suite]:
    _builtins()
    return dict(_SUITES)
