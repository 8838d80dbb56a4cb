"""``run_benchmark``: one sweep of a suite, resumable, into a folder of plain files.

::

    plan (suite × algos × tasks × seeds; skip kinds an algorithm cannot run)
      ──▶ manifest.json ──▶ prepare each task once (cache folder) ──▶ resume (skip done trials)
      ──▶ TrialRunner.run(specs) ──▶ progress bar, one tick per trial ──▶ load_results

Layout under ``out``::

    <out>/<suite>/manifest.json                       every task, algorithm and seed run here;
                                                      each sweep (selection, git revision,
                                                      versions, machine) in ``sweeps``
    <out>/<suite>/_cache/<task>/                       what the task's ``prepare`` built
    <out>/<suite>/<algo>/<task>/seed<k>/metrics.jsonl one EvalPoint JSON per line
    <out>/<suite>/<algo>/<task>/seed<k>/status.json   running | done | failed, wall time, error

Resuming (the default): a trial whose ``status.json`` says ``done`` is kept; any other
(failed, interrupted while ``running``, never started) is deleted and run again from scratch.
``resume=False`` reruns every selected trial. The prepare cache defaults to
``<out>/<suite>/_cache``; pass ``cache_dir`` (e.g. ``rlhf_env.models.cache.cache_root() /
"bench"``, which follows ``$RLHF_ENV_CACHE``) to share prepared proxies between sweeps.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from rlhf_env.bench.protocol import Algorithm, BenchTask, EnvSpec
from rlhf_env.bench.registry import Suite, get_algorithm, get_suite, get_task
from rlhf_env.bench.results import Results, load_results
from rlhf_env.bench.runner import (
    STATUS,
    LocalRunner,
    TrialResult,
    TrialRunner,
    TrialSpec,
    write_status,
)
from rlhf_env.errors import BenchmarkError, ConfigError
from rlhf_env.files import read_json, write_json
from rlhf_env.validation import check_int

MANIFEST = "manifest.json"
VERSIONED = ("numpy", "torch", "gymnasium", "stable-baselines3", "transformers", "rlhf-env")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass(frozen=True)
class Plan:
    """The trials of one sweep, before resuming."""

    suite: Suite
    """The suite (``tasks``/``algorithms`` narrowed to the selection)."""
    tasks: tuple[BenchTask, ...]
    """Selected tasks, budgets scaled by ``suite.budget_scale``."""
    algorithms: tuple[Algorithm, ...]
    """Selected algorithms, resolved."""
    seeds: tuple[int, ...]
    """Training seeds."""
    skipped: tuple[str, ...]
    """Notes on (algorithm, task) pairs left out because of the task's kind."""


def _names(given: Iterable[str] | None, default: Sequence[str], what: str) -> tuple[str, ...]:
    names = tuple(default if given is None else given)
    if not names:
        raise ConfigError(f"no {what} selected; name at least one.")
    bad = [n for n in names if not _SAFE_NAME.match(n)]
    if bad:
        raise ConfigError(f"{what} names become folder names and must be letters, digits and "
                          f"._+- only; got {bad}.")
    return tuple(dict.fromkeys(names))


def _seeds(seeds: int | Iterable[int] | None, default: int) -> tuple[int, ...]:
    if seeds is None:
        seeds = default
    if isinstance(seeds, bool):
        raise ConfigError(f"seeds must be a count or a list of seeds, got {seeds!r}.")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"seeds must be ≥ 1 (a count) or a list of seeds, got {seeds}.")
        return tuple(range(seeds))
    out = tuple(dict.fromkeys(int(s) for s in seeds))
    if not out or any(s < 0 for s in out):
        raise ConfigError(f"seeds must be a non-empty list of integers ≥ 0, got {out}.")
    return out


def plan_sweep(suite: str | Suite, *, algorithms: Iterable[str] | None = None,
               tasks: Iterable[str] | None = None,
               seeds: int | Iterable[int] | None = None) -> Plan:
    """Resolve names and kinds into the trials to run (raises for unknown names)."""
    base = get_suite(suite)
    if not _SAFE_NAME.match(base.name):
        raise ConfigError(f"the suite name {base.name!r} becomes a folder name; use letters, "
                          f"digits and ._+- only.")
    algo_names = _names(algorithms, base.algorithms, "algorithm")
    task_names = _names(tasks, base.tasks, "task")
    algos = tuple(get_algorithm(n) for n in algo_names)
    chosen = tuple(get_task(n) for n in task_names)
    if base.budget_scale != 1.0:
        chosen = tuple(replace(t, budget=t.budget.scaled(base.budget_scale)) for t in chosen)
    skipped = tuple(f"{name} skipped on {t.name}: it runs {'/'.join(a.kinds)} tasks, "
                    f"{t.name} is a {t.kind} task"
                    for name, a in zip(algo_names, algos, strict=True) for t in chosen
                    if t.kind not in a.kinds)
    narrowed = replace(base, tasks=task_names, algorithms=algo_names)
    return Plan(narrowed, chosen, algos, _seeds(seeds, base.seeds), skipped)


# ----------------------------------------------------------------------------- manifest


def _git_revision() -> dict[str, Any] | None:
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": rev, "dirty": bool(dirty)}


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def _machine() -> dict[str, Any]:
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(),
            "machine": platform.machine(), "load_average_1_5_15min": load}


def task_record(task: BenchTask) -> dict[str, Any]:
    """What the manifest keeps of a task (enough to normalise and label its results)."""
    return {"kind": task.kind, "description": task.description, "env_id": task.env.env_id,
            "env_kwargs": dict(task.env.kwargs), "budget": asdict(task.budget),
            "normalisation": asdict(task.normalisation), "proxy": task.proxy,
            "gold": task.gold, "options": dict(task.options),
            "prepared": task.prepare is not None}


def _sweep_record(plan: Plan, workers: int, runner: TrialRunner, threads: int, trials: int,
                  git: dict[str, Any] | None) -> dict[str, Any]:
    """One sweep into the folder: what it selected and ran, where and at which revision."""
    return {"created": time.time(), "git": git, "algorithms": list(plan.suite.algorithms),
            "tasks": [t.name for t in plan.tasks], "seeds": list(plan.seeds), "trials": trials,
            "workers": workers, "threads": threads, "runner": type(runner).__name__,
            "versions": _versions(), "machine": _machine()}


def _earlier_sweeps(old: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The sweeps an existing manifest records (one made before sweeps were kept counts as
    one, with the selection it recorded)."""
    if not old:
        return []
    if isinstance(old.get("sweeps"), list):
        return list(old["sweeps"])
    return [{"created": old.get("created"), "git": old.get("git"),
             "algorithms": list(old.get("algorithms") or {}), "tasks": list(old.get("tasks") or {}),
             "seeds": old.get("seeds"), "trials": None, "workers": old.get("workers"),
             "runner": old.get("runner"), "versions": old.get("versions"),
             "machine": old.get("machine")}]


def _union(first: Iterable[Any], then: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys([*first, *then]))


def _manifest(plan: Plan, sweep: dict[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """The folder's manifest after this sweep: every task, algorithm and seed any sweep ran
    (a sweep of some tasks keeps the others' records, which the report normalises with), the
    latest sweep's versions and machine at the top, and every sweep in ``sweeps``."""
    suite = asdict(plan.suite)
    old_suite = old.get("suite") or {}
    for key in ("tasks", "algorithms"):
        suite[key] = _union(old_suite.get(key) or [], suite[key])
    algorithms = {a_name: {"kinds": list(a.kinds)} for a_name, a
                  in zip(plan.suite.algorithms, plan.algorithms, strict=True)}
    return {"suite": suite, "seeds": sorted(_union(old.get("seeds") or [], plan.seeds)),
            "tasks": {**(old.get("tasks") or {}), **{t.name: task_record(t) for t in plan.tasks}},
            "algorithms": {**(old.get("algorithms") or {}), **algorithms},
            "skipped": _union(old.get("skipped") or [], plan.skipped),
            "workers": sweep["workers"], "runner": sweep["runner"], "created": sweep["created"],
            "git": sweep["git"], "versions": sweep["versions"], "machine": sweep["machine"],
            "sweeps": [*_earlier_sweeps(old), sweep]}


def _revision_note(old: Mapping[str, Any], git: dict[str, Any] | None) -> list[str]:
    """A note when this folder's last sweep ran at another revision of the package."""
    before = (_earlier_sweeps(old) or [{}])[-1].get("git") or {}
    if not before.get("commit") or git is None or before.get("commit") == git.get("commit"):
        return []
    return [f"this folder's previous sweep ran at revision {before['commit'][:12]}, this one "
            f"at {git['commit'][:12]}; each trial's status.json records its own"]


def _check_compatible(root: Path, plan: Plan, old: Mapping[str, Any]) -> None:
    """Refuse to resume into ``root`` when its manifest ``old`` ran a task at another budget."""
    for task in plan.tasks:
        before = (old.get("tasks") or {}).get(task.name, {}).get("budget")
        if before is not None and before != asdict(task.budget):
            raise BenchmarkError(
                f"the runs in {root} used another budget for task {task.name!r} ({before}, "
                f"now {asdict(task.budget)}); resuming would mix them. Use another --out, "
                f"or rerun everything with resume=False (--no-resume).")


# ----------------------------------------------------------------------------- prepare + specs


def _prepare(task: BenchTask, cache: Path) -> tuple[EnvSpec | None, str | None]:
    """The resolved env spec, or the traceback of a failing ``prepare``."""
    try:
        return task.resolved_env(cache / task.name), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"


def _reset(run_dir: Path) -> None:
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)


def _specs(plan: Plan, root: Path, envs: Mapping[str, EnvSpec | None], threads: int,
           resume: bool, git: dict[str, Any] | None = None
           ) -> tuple[list[TrialSpec], list[TrialSpec]]:
    """``(to_run, kept)``: trials to (re)run from scratch, and done ones kept by resume."""
    to_run, kept = [], []
    options = plan.suite.options or {}
    for task in plan.tasks:
        bare = replace(task, prepare=None)
        for name, algo in zip(plan.suite.algorithms, plan.algorithms, strict=True):
            if task.kind not in algo.kinds:
                continue
            for seed in plan.seeds:
                spec = TrialSpec(suite=plan.suite.name, task=bare, algorithm=name, seed=seed,
                                 env=envs[task.name] or task.env,
                                 run_dir=root / name / task.name / f"seed{seed}",
                                 threads=threads, options=dict(options.get(name, {})),
                                 impl=algo, git=git)
                state = (read_json(spec.run_dir / STATUS, default=None) or {}).get("state")
                if resume and state == "done":
                    kept.append(spec)
                else:
                    to_run.append(spec)
    return to_run, kept


def _fail_unprepared(spec: TrialSpec, error: str) -> TrialResult:
    _reset(spec.run_dir)
    message = f"BenchmarkError: the task {spec.task.name!r} could not be prepared"
    write_status(spec, "failed", wall_time=0.0, points=0, error=message, traceback=error)
    return TrialResult(spec, "failed", 0.0, 0, message, error)


# ----------------------------------------------------------------------------- the sweep


def run_benchmark(suite: str | Suite, *, algorithms: Iterable[str] | None = None,
                  tasks: Iterable[str] | None = None, seeds: int | Iterable[int] | None = None,
                  out: str | os.PathLike[str] = "runs", workers: int | None = None,
                  runner: TrialRunner | None = None, resume: bool = True,
                  progress: bool = True, cache_dir: str | os.PathLike[str] | None = None,
                  threads: int | None = None) -> Results:
    """Run ``suite`` (or the selected algorithms × tasks × seeds of it) into ``out``.

    ``seeds`` is a count (seeds ``0…n−1``) or a list. ``workers`` builds a
    :class:`LocalRunner` (default ``os.cpu_count()``) unless ``runner`` is given. ``threads``:
    CPU threads per trial (default: the cores shared out among the workers; on a machine other
    work also uses, 1 avoids threads spinning while they wait for a core). Failing trials
    are recorded (see :attr:`Results.failed`) and never stop the sweep. Returns the results of
    this suite's folder, including trials kept from earlier sweeps.
    """
    plan = plan_sweep(suite, algorithms=algorithms, tasks=tasks, seeds=seeds)
    runner = runner if runner is not None else LocalRunner(workers)
    n_workers = getattr(runner, "n_workers", workers or 1)
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // max(1, n_workers))
    threads = check_int("run_benchmark: threads", threads, minimum=1)
    root = Path(out) / plan.suite.name
    old = read_json(root / MANIFEST, default=None) if resume else None
    old = old if isinstance(old, dict) else {}
    _check_compatible(root, plan, old)
    git = _git_revision()
    cache = Path(cache_dir) if cache_dir is not None else root / "_cache"
    prepared = {t.name: _prepare(t, cache) for t in plan.tasks}
    envs = {name: env for name, (env, _) in prepared.items()}
    to_run, _kept = _specs(plan, root, envs, threads, resume, git)
    sweep = _sweep_record(plan, n_workers, runner, threads, len(to_run), git)
    write_json(root / MANIFEST, _manifest(plan, sweep, old), fallback=repr)
    for spec in to_run:
        _reset(spec.run_dir)
    runnable = [s for s in to_run if prepared[s.task.name][1] is None]
    notes = [*plan.skipped, *_revision_note(old, git)]
    _run_with_progress(runner, runnable, to_run, prepared, plan, progress, notes)
    return load_results(root)


def _run_with_progress(runner: TrialRunner, runnable: list[TrialSpec], to_run: list[TrialSpec],
                       prepared: Mapping[str, tuple[EnvSpec | None, str | None]], plan: Plan,
                       progress: bool, notes: Sequence[str]) -> None:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(to_run), desc=f"bench {plan.suite.name}", unit="trial",
               disable=not progress)
    failed = 0

    def on_result(result: TrialResult) -> None:
        nonlocal failed
        failed += result.state == "failed"
        if result.state == "failed":
            bar.write(f"failed: {'/'.join(map(str, result.spec.key))}: {result.error}")
        bar.set_postfix(failed=failed)
        bar.update(1)

    for note in notes:
        bar.write(f"note: {note}")
    try:
        for spec in to_run:
            error = prepared[spec.task.name][1]
            if error is not None:
                on_result(_fail_unprepared(spec, error))
        runner.run(runnable, on_result)
    finally:
        bar.close()
