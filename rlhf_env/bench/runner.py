"""The trial runner: a replaceable stage that runs trials and reports each as it finishes.

::

    [TrialSpec, …] ──TrialRunner.run──▶ execute_trial(spec) ──▶ run_dir/metrics.jsonl
                                                             └─▶ run_dir/status.json
                       on_result(TrialResult) ◀── as each trial ends (any order)

:func:`execute_trial` is the one place a trial runs, whatever the runner: it marks the trial
``running``, builds the :class:`~rlhf_env.bench.protocol.Trial`, iterates the algorithm,
checks every :class:`~rlhf_env.bench.protocol.EvalPoint` it yields (:func:`check_point`),
rewrites ``metrics.jsonl`` atomically as they come (:data:`METRICS_FLUSH_SECONDS`) and
ends with ``done`` or ``failed`` (the error and its traceback). An exception in an
algorithm never escapes it.

:class:`LocalRunner` runs trials in this process (``workers=1``) or each in its own
``spawn``-ed process, at most ``workers`` at a time. A process that dies (killed, segfault,
``os._exit``) is recorded as failed by the parent; the other trials go on. A trial process
ends when the sweep's process ends, even by ``SIGKILL``: no orphan keeps running. A later runner
(Ray) only has to implement :class:`TrialRunner`'s one method.

Threads: a trial may use ``spec.threads`` CPU threads. A child process starts with
``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` set to it, so torch (and
numpy's BLAS) start with that many threads if the algorithm imports them; torch is never
imported just to set this. When torch is already loaded (in-process), ``torch.set_num_threads``
is called for the trial and restored afterwards.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from rlhf_env.bench.protocol import Algorithm, BenchTask, EnvSpec, EvalPoint, Trial
from rlhf_env.errors import BenchmarkError, ConfigError
from rlhf_env.files import dumps, read_json, write_json, write_text

TrialState = Literal["running", "done", "failed"]
METRICS = "metrics.jsonl"
STATUS = "status.json"
METRICS_FLUSH_SECONDS = 2.0
"""``metrics.jsonl`` is rewritten (atomically, fsync'ed: ~5-10 ms) on a trial's first point,
then at most this often, and always when the trial ends: the file follows a running trial
closely while a trial with many quick evaluations does not pay an fsync for each. Only a
process killed outright loses the points of its last ≤ 2 s (it is rerun on resume anyway)."""
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class TrialSpec:
    """Everything needed to run one trial anywhere (picklable when its algorithm is)."""

    suite: str
    """Name of the suite the trial belongs to."""
    task: BenchTask
    """The task, with its budget already scaled by the suite and ``prepare`` dropped (it ran
    in the parent)."""
    algorithm: str
    """The algorithm's name (looked up with ``get_algorithm`` when ``impl`` is ``None``)."""
    seed: int
    """Training seed."""
    env: EnvSpec
    """The prepared env spec (``prepare``'s kwargs merged in)."""
    run_dir: Path
    """``<out>/<suite>/<algo>/<task>/seed<k>``."""
    threads: int = 1
    """CPU threads the trial may use."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Per-suite options for this algorithm (:attr:`Trial.options`)."""
    impl: Algorithm | None = None
    """The algorithm object resolved in the parent, or ``None`` to look ``algorithm`` up where
    the trial runs (entry points; the runner drops objects that cannot be pickled)."""
    git: Mapping[str, Any] | None = None
    """The package's git revision the sweep ran at (``{"commit", "dirty"}``), recorded in
    ``status.json``: a folder resumed at a newer revision says which trials ran where."""

    @property
    def key(self) -> tuple[str, str, int]:
        """``(algorithm, task, seed)``."""
        return (self.algorithm, self.task.name, self.seed)

    def trial(self) -> Trial:
        """The :class:`Trial` handed to the algorithm (its clock starts now)."""
        return Trial(task=self.task, algorithm=self.algorithm, seed=self.seed, env=self.env,
                     run_dir=self.run_dir, threads=self.threads, options=dict(self.options))


@dataclass(frozen=True)
class TrialResult:
    """How a trial ended, as written to its ``status.json``."""

    spec: TrialSpec
    """The trial."""
    state: TrialState
    """``done`` or ``failed``."""
    wall_time: float
    """Seconds the trial ran."""
    points: int = 0
    """EvalPoints recorded."""
    error: str | None = None
    """``ExceptionType: message`` when failed."""
    traceback: str | None = None
    """The formatted traceback when failed."""


class TrialRunner(Protocol):
    """Runs trials; calls ``on_result`` once per trial, as each finishes, in the caller's
    process. Must not raise for a failing trial (record it as failed instead)."""

    def run(self, specs: Sequence[TrialSpec],
            on_result: Callable[[TrialResult], None]) -> None: ...


# ----------------------------------------------------------------------------- validation


def check_point(item: object, previous: Sequence[EvalPoint], spec: TrialSpec) -> EvalPoint:
    """``item`` if it is a valid next EvalPoint of this trial; else a fix-it BenchmarkError."""
    who = f"the algorithm {spec.algorithm!r} on task {spec.task.name!r} (seed {spec.seed})"
    if not isinstance(item, EvalPoint):
        raise BenchmarkError(f"{who} yielded {type(item).__name__} {item!r:.80}; yield "
                             f"EvalPoints, e.g. trial.point(step, proxy=…, gold=…).")
    for name in ("proxy", "gold"):
        value = getattr(item, name)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BenchmarkError(f"{who} yielded {name}={value!r} at step {item.step}; "
                                 f"{name} must be a finite number.")
    if item.kl is not None and not math.isfinite(item.kl):
        raise BenchmarkError(f"{who} yielded kl={item.kl!r} at step {item.step}; pass a "
                             f"finite KL or None.")
    bad = [k for k, v in item.extra.items() if not math.isfinite(v)]
    if bad:
        raise BenchmarkError(f"{who} yielded non-finite extra values {bad} at step "
                             f"{item.step}; drop them or report finite numbers.")
    budget = spec.task.budget.steps
    if not 0 <= item.step <= budget:
        raise BenchmarkError(f"{who} yielded step {item.step}, outside the budget "
                             f"[0, {budget}]; stop training at budget.steps.")
    if previous and item.step < previous[-1].step:
        raise BenchmarkError(f"{who} yielded step {item.step} after step "
                             f"{previous[-1].step}; steps must not decrease.")
    return item


# ----------------------------------------------------------------------------- one trial


def write_status(spec: TrialSpec, state: TrialState, **fields: Any) -> None:
    """Write ``status.json`` of ``spec`` (atomically)."""
    write_json(spec.run_dir / STATUS, {
        "state": state, "suite": spec.suite, "algorithm": spec.algorithm,
        "task": spec.task.name, "seed": spec.seed, "threads": spec.threads,
        "pid": os.getpid(), "git": None if spec.git is None else dict(spec.git), **fields},
        fallback=repr)


def _write_metrics(run_dir: Path, points: Sequence[EvalPoint]) -> None:
    lines = [dumps(p.to_json(), indent=None, fallback=repr) for p in points]
    write_text(run_dir / METRICS, "".join(line + "\n" for line in lines))


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Limit torch to ``threads`` for the block when torch is already loaded; else nothing."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def execute_trial(spec: TrialSpec) -> TrialResult:
    """Run one trial to its end and record it; never raises for a failing algorithm."""
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    started_at = time.time()
    write_status(spec, "running", started_at=started_at)
    t0 = time.perf_counter()
    points: list[EvalPoint] = []
    written, last_write = 0, -math.inf
    try:
        algorithm = spec.impl if spec.impl is not None else _lookup(spec.algorithm)
        with _torch_threads(spec.threads):
            for item in algorithm.run(spec.trial()):
                points.append(check_point(item, points, spec))
                if time.perf_counter() - last_write >= METRICS_FLUSH_SECONDS:
                    _write_metrics(spec.run_dir, points)
                    written, last_write = len(points), time.perf_counter()
        if not points:
            raise BenchmarkError(f"the algorithm {spec.algorithm!r} yielded no EvalPoint on "
                                 f"task {spec.task.name!r}; yield one at step 0, every "
                                 f"budget.eval_every steps and at the end.")
    except Exception as exc:
        if len(points) > written:
            _write_metrics(spec.run_dir, points)
        wall = time.perf_counter() - t0
        error, tb = f"{type(exc).__name__}: {exc}", traceback.format_exc()
        write_status(spec, "failed", started_at=started_at, finished_at=time.time(),
                     wall_time=wall, points=len(points), error=error, traceback=tb)
        return TrialResult(spec, "failed", wall, len(points), error, tb)
    if len(points) > written:
        _write_metrics(spec.run_dir, points)
    wall = time.perf_counter() - t0
    write_status(spec, "done", started_at=started_at, finished_at=time.time(), wall_time=wall,
                 points=len(points), final_step=points[-1].step, error=None, traceback=None)
    return TrialResult(spec, "done", wall, len(points))


def _lookup(name: str) -> Algorithm:
    from rlhf_env.bench.registry import get_algorithm

    return get_algorithm(name)


# ----------------------------------------------------------------------------- processes


def _child_main(spec: TrialSpec) -> None:
    """Entry point of a trial's process (``spawn``)."""
    _exit_with_parent()
    result = execute_trial(spec)
    sys.stdout.flush()
    sys.stderr.flush()
    _release_semaphores()
    os._exit(0 if result.state == "done" else 3)


ORPHANED_EXIT_CODE = 4
"""A trial process's exit code when it stopped because its sweep's process had ended."""


def _exit_with_parent() -> None:
    """End this trial's process as soon as the sweep's process ends, however it ends.

    A sweep killed by ``SIGTERM`` or ``SIGKILL`` runs no cleanup, and without this its trials
    would go on as orphans, using the cores and writing into run folders that a resumed sweep
    is rerunning. A daemon thread waits on the parent's sentinel (a pipe that closes when the
    parent exits) and exits the process; the trial's ``status.json`` stays ``running``, which
    a resume reruns and the report lists as unfinished."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(ORPHANED_EXIT_CODE)

    threading.Thread(target=watch, name="exit-with-sweep", daemon=True).start()


def _release_semaphores() -> None:
    """Run multiprocessing's exit finalizers, which ``os._exit`` skips: semaphores that
    libraries made in this process (tqdm keeps a lock) are unlinked and unregistered, instead
    of the parent's resource tracker warning about "leaked semaphore objects" at its exit."""
    from multiprocessing import util

    with contextlib.suppress(Exception):
        util._run_finalizers(0)  # type: ignore[attr-defined]


def _picklable(spec: TrialSpec) -> TrialSpec:
    """``spec`` itself, or without its algorithm object when that cannot be pickled."""
    try:
        pickle.dumps(spec)
    except Exception:
        return replace(spec, impl=None)
    return spec


def _died(spec: TrialSpec, exitcode: int | None, wall: float) -> TrialResult:
    """The result of a trial whose process ended: its status.json, or a failure if it died."""
    status = read_json(spec.run_dir / STATUS, default=None) or {}
    if status.get("state") in ("done", "failed"):
        return TrialResult(spec, status["state"], float(status.get("wall_time") or wall),
                           int(status.get("points") or 0), status.get("error"),
                           status.get("traceback"))
    how = f"exit code {exitcode}"
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            how = f"signal {signal.Signals(-exitcode).name}"
    error = (f"BenchmarkError: the worker process of the algorithm {spec.algorithm!r} on task "
             f"{spec.task.name!r} (seed {spec.seed}) died ({how}) before the trial ended; "
             f"its last EvalPoints are kept in {METRICS}. Look for a crash, a kill or an "
             f"out-of-memory event.")
    previous = int(status.get("points") or 0)
    write_status(spec, "failed", started_at=status.get("started_at"), finished_at=time.time(),
                 wall_time=wall, points=previous, error=error, traceback=None)
    return TrialResult(spec, "failed", wall, previous, error, None)


@dataclass(frozen=True)
class LocalRunner:
    """Runs trials on this machine: in this process (``workers=1``) or in ``workers``
    processes at a time (``spawn``, one fresh process per trial)."""

    workers: int | None = None
    """Trials at a time; ``None``: ``os.cpu_count()``. 1 runs in-process (no pickling; an
    algorithm registered in a notebook works; a hard crash ends the sweep)."""

    def __post_init__(self) -> None:
        w = self.workers
        if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 1):
            raise ConfigError(f"LocalRunner.workers must be an integer ≥ 1 or None, got {w!r}.")

    @property
    def n_workers(self) -> int:
        """The resolved number of workers."""
        return self.workers if self.workers is not None else (os.cpu_count() or 1)

    def run(self, specs: Sequence[TrialSpec],
            on_result: Callable[[TrialResult], None]) -> None:
        if self.n_workers == 1:
            for spec in specs:
                on_result(execute_trial(spec))
            return
        self._run_processes(list(specs), on_result)

    def _start(self, spec: TrialSpec) -> multiprocessing.process.BaseProcess:
        ctx = multiprocessing.get_context("spawn")
        proc = ctx.Process(target=_child_main, args=(_picklable(spec),),
                           name=f"trial-{spec.algorithm}-{spec.task.name}-{spec.seed}")
        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: str(spec.threads) for k in _THREAD_VARS})
        try:
            proc.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return proc

    def _run_processes(self, specs: list[TrialSpec],
                       on_result: Callable[[TrialResult], None]) -> None:
        pending = deque(specs)
        active: dict[Any, tuple[multiprocessing.process.BaseProcess, TrialSpec, float]] = {}
        try:
            while pending or active:
                while pending and len(active) < self.n_workers:
                    spec = pending.popleft()
                    proc = self._start(spec)
                    active[proc.sentinel] = (proc, spec, time.perf_counter())
                for sentinel in multiprocessing.connection.wait(list(active)):
                    proc, spec, t0 = active.pop(sentinel)
                    proc.join()
                    on_result(_died(spec, proc.exitcode, time.perf_counter() - t0))
        finally:
            for proc, _, _ in active.values():
                proc.terminate()
            for proc, _, _ in active.values():
                proc.join()
