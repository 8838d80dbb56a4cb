"""Reading a sweep back: ``load_results(path) -> Results``, a tidy table of runs.

``path`` may be one suite's folder (it holds ``manifest.json``) or a folder of suites
(``runs/``). Partial sweeps load: a trial without ``status.json`` is ``"missing"``, one
still ``"running"`` (or killed while running) keeps the points written so far, and an
unreadable line of ``metrics.jsonl`` is skipped and noted. Statistics use only ``done`` runs
(:attr:`Results.done`).

A folder of suites may hold the same algorithm twice on a task: a variant suite (other
options, e.g. the learned arm spending labels on corrections) beside the suite it varies.
Such an algorithm becomes one arm per suite, ``algorithm@suite``, on every task of those
suites, so the report compares the two instead of pooling them (which would also count each
seed twice). :func:`arm_base` gives back the algorithm's own name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rlhf_env.bench.protocol import EvalPoint, Normalisation
from rlhf_env.errors import BenchmarkError
from rlhf_env.files import read_json

_SEED_DIR = re.compile(r"^seed(\d+)$")
ARM_SEPARATOR = "@"
"""Between an algorithm and its suite in the arm name of an algorithm two suites ran (never
part of a name the harness accepts)."""


def arm_base(arm: str) -> str:
    """The algorithm an arm ran: ``ppo-learned@hw-corrections`` → ``ppo-learned``."""
    return arm.split(ARM_SEPARATOR, 1)[0]


@dataclass(frozen=True)
class Run:
    """One trial as found on disk."""

    suite: str
    """Suite folder name."""
    algorithm: str
    """Algorithm name."""
    task: str
    """Task name."""
    seed: int
    """Training seed."""
    state: str
    """``done``, ``failed``, ``running`` or ``missing`` (no status.json)."""
    points: tuple[EvalPoint, ...]
    """The evaluation curve, in step order."""
    status: Mapping[str, Any] = field(default_factory=dict)
    """``status.json`` as written (wall time, error, traceback…)."""

    @property
    def final(self) -> EvalPoint | None:
        """The last evaluation (``None`` without points)."""
        return self.points[-1] if self.points else None

    @property
    def initial(self) -> EvalPoint | None:
        """The step-0 evaluation (``None`` when the run has none)."""
        return self.points[0] if self.points and self.points[0].step == 0 else None


@dataclass(frozen=True)
class TaskInfo:
    """What a sweep's manifest says about a task."""

    kind: str
    """``text`` or ``control``."""
    normalisation: Normalisation
    """How its gold score is normalised."""
    budget_steps: int | None = None
    """The (scaled) training budget."""
    record: Mapping[str, Any] = field(default_factory=dict)
    """The manifest's full record (description, proxy, gold, env…)."""


@dataclass(frozen=True)
class Results:
    """All runs under a folder, with the manifests' task facts."""

    runs: tuple[Run, ...]
    """Every trial found, sorted by (suite, algorithm, task, seed)."""
    tasks: Mapping[str, TaskInfo]
    """Task name → facts (from the manifests; tasks without one get a raw normalisation)."""
    manifests: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Suite name → its manifest.json."""
    notes: tuple[str, ...] = ()
    """Problems met while loading (skipped lines, …) and the sweeps' skip notes."""

    @property
    def done(self) -> tuple[Run, ...]:
        return tuple(r for r in self.runs if r.state == "done")

    @property
    def failed(self) -> tuple[Run, ...]:
        """Trials that ran and failed (their status says why)."""
        return tuple(r for r in self.runs if r.state == "failed")

    @property
    def unfinished(self) -> tuple[Run, ...]:
        """Trials not finished yet: running now, or interrupted/never started (no status)."""
        return tuple(r for r in self.runs if r.state not in ("done", "failed"))

    @property
    def algorithms(self) -> list[str]:
        return sorted({r.algorithm for r in self.runs})

    def revisions(self) -> dict[str, list[str]]:
        """Git revision the done runs ran at (a commit, ``+dirty`` when the tree had changes,
        or ``"not recorded"`` for runs of a version that did not record it) → their
        ``algorithm/task/seed`` keys."""
        out: dict[str, list[str]] = {}
        for run in self.done:
            git = run.status.get("git")
            if isinstance(git, Mapping) and git.get("commit"):
                rev = str(git["commit"])[:12] + ("+dirty" if git.get("dirty") else "")
            else:
                rev = "not recorded"
            out.setdefault(rev, []).append(f"{run.algorithm}/{run.task}/seed{run.seed}")
        return out

    @property
    def task_names(self) -> list[str]:
        return sorted({r.task for r in self.runs})

    def rows(self) -> Iterator[dict[str, Any]]:
        """One dict per run × eval point (a run without points gives one row of ``None``)."""
        for run in self.runs:
            base = {"suite": run.suite, "algorithm": run.algorithm, "task": run.task,
                    "seed": run.seed, "state": run.state}
            if not run.points:
                yield {**base, "step": None, "proxy": None, "gold": None, "kl": None,
                       "labels_used": None, "wall_time": None}
            for p in run.points:
                yield {**base, "step": p.step, "proxy": p.proxy, "gold": p.gold, "kl": p.kl,
                       "labels_used": p.labels_used, "wall_time": p.wall_time}

    def to_frame(self) -> Any:
        """:meth:`rows` as a pandas DataFrame (needs pandas)."""
        from rlhf_env.errors import MissingDependencyError

        try:
            import pandas as pd
        except ImportError as exc:
            raise MissingDependencyError("pandas", "Results.to_frame()") from exc
        return pd.DataFrame(list(self.rows()))


def _read_points(path: Path, notes: list[str]) -> tuple[EvalPoint, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ()
    points = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            points.append(EvalPoint.from_json(json.loads(line)))
        except (ValueError, TypeError, KeyError) as exc:
            notes.append(f"{path}:{i}: skipped an unreadable line ({exc})")
    return tuple(sorted(points, key=lambda p: p.step))


def _runs_of_suite(root: Path, notes: list[str]) -> list[Run]:
    runs = []
    for seed_dir in sorted(root.glob("*/*/seed*")):
        match = _SEED_DIR.match(seed_dir.name)
        algo, task = seed_dir.parent.parent.name, seed_dir.parent.name
        if match is None or not seed_dir.is_dir() or algo.startswith("_"):
            continue
        status = read_json(seed_dir / "status.json", default=None)
        status = status if isinstance(status, dict) else {}
        runs.append(Run(suite=root.name, algorithm=algo, task=task, seed=int(match.group(1)),
                        state=str(status.get("state", "missing")),
                        points=_read_points(seed_dir / "metrics.jsonl", notes), status=status))
    return runs


def _normalisation(record: Mapping[str, Any]) -> Normalisation:
    n = record.get("normalisation") or {}
    return Normalisation(zero=str(n.get("zero", "")), one=str(n.get("one", "")),
                         zero_value=n.get("zero_value"), one_value=n.get("one_value"))


def _task_infos(manifests: Mapping[str, Mapping[str, Any]], runs: list[Run]
                ) -> dict[str, TaskInfo]:
    infos: dict[str, TaskInfo] = {}
    for manifest in manifests.values():
        for name, rec in (manifest.get("tasks") or {}).items():
            infos[name] = TaskInfo(kind=str(rec.get("kind", "control")),
                                   normalisation=_normalisation(rec),
                                   budget_steps=(rec.get("budget") or {}).get("steps"),
                                   record=rec)
    for run in runs:
        if run.task not in infos:
            text = any(p.kl is not None for p in run.points)
            infos[run.task] = TaskInfo(kind="text" if text else "control",
                                       normalisation=Normalisation("", ""))
    return infos


def _suite_roots(path: Path) -> list[Path]:
    if (path / "manifest.json").is_file():
        return [path]
    roots = [p for p in sorted(path.iterdir()) if p.is_dir() and (p / "manifest.json").is_file()]
    if roots:
        return roots
    return [path] if any(path.glob("*/*/seed*/metrics.jsonl")) else []


def _arms_per_suite(runs: list[Run], notes: list[str]) -> list[Run]:
    """Rename an algorithm that more than one suite ran on the same task to
    ``algorithm@suite`` in each of those suites (see the module docstring)."""
    suites_of: dict[tuple[str, str], set[str]] = {}
    for run in runs:
        suites_of.setdefault((run.algorithm, run.task), set()).add(run.suite)
    shared = {algo for (algo, _), suites in suites_of.items() if len(suites) > 1}
    for algo in sorted(shared):
        suites = sorted({r.suite for r in runs if r.algorithm == algo})
        notes.append(f"{algo} ran in suites {', '.join(suites)} on the same task: reported as "
                     f"one arm per suite ({', '.join(algo + ARM_SEPARATOR + s for s in suites)})")
    return [replace(r, algorithm=f"{r.algorithm}{ARM_SEPARATOR}{r.suite}")
            if r.algorithm in shared else r for r in runs]


def load_results(path: str | os.PathLike[str]) -> Results:
    """Every run under ``path`` (a suite folder or a folder of suite folders)."""
    path = Path(path)
    if not path.is_dir():
        raise BenchmarkError(f"no benchmark runs at {path}: the folder does not exist. Pass "
                             f"the --out of `rlhf-env bench run` (or its <suite> subfolder).")
    notes: list[str] = []
    runs: list[Run] = []
    manifests: dict[str, Mapping[str, Any]] = {}
    for root in _suite_roots(path):
        manifest = read_json(root / "manifest.json", default=None)
        if isinstance(manifest, dict):
            manifests[root.name] = manifest
            notes.extend(str(n) for n in manifest.get("skipped") or [])
        runs.extend(_runs_of_suite(root, notes))
    runs = _arms_per_suite(runs, notes)
    runs.sort(key=lambda r: (r.suite, r.algorithm, r.task, r.seed))
    return Results(tuple(runs), _task_infos(manifests, runs), manifests, tuple(notes))
