"""Aggregate statistics over benchmark runs (numpy only).

::

    done runs ──final gold──▶ normalise per task (references from the same sweep)
      ──▶ per algorithm: IQM | median | mean over all runs of all tasks, stratified-bootstrap CIs
      ──▶ per pair: probability of improvement P(X > Y), bootstrap CI
      ──▶ performance profiles: fraction of runs scoring above τ

Definitions (what the tests check by hand):

- **Normalised score** of a run: ``(final gold − zero) / (one − zero)`` with the task's
  :class:`~rlhf_env.bench.protocol.Normalisation`. A reference ``"initial"`` is the median
  step-0 gold over every done run of the task; an algorithm's name is the median final gold
  of that algorithm's done runs on the task; when the sweep has neither, ``zero_value`` /
  ``one_value``; without those the task's scores are NaN and it is left out of aggregates.
  A task whose gap ``one − zero`` is under ``StatsConfig.min_reference_gap`` (2) standard
  errors ``√(s₀²/n₀ + s₁²/n₁)`` of the runs behind its two ends is left out too: dividing by a
  gap that noise could have made turns small gold differences into huge normalised ones.
- **IQM** (interquartile mean): the mean of the middle 50% of the sorted values, trimming
  25% of the mass from each end. When ``n`` is not a multiple of 4 the boundary values count
  with fractional weight (value ``i`` of ``n`` covers the quantile range ``[i/n, (i+1)/n]``
  and weighs its overlap with ``[¼, ¾]``), so the IQM changes continuously with ``n``; for a
  multiple of 4 it is the plain mean after dropping ``n/4`` values at each end.
- **Stratified bootstrap**: each repetition resamples, with replacement, the runs of each task
  independently (same count per task), then recomputes the statistic over the pooled
  resample. The interval is the percentile interval (``2.5%``/``97.5%`` by default).
- **Probability of improvement** ``P(X > Y)``: per task, the share of pairs (run of X, run of
  Y) where X's final gold is higher, ties counting ½ (the Mann-Whitney U statistic over
  ``n·m``), averaged over the tasks both ran. Raw gold is used: the comparison is within a task
  and needs no normalisation.
- **Performance profile**: for each τ, the fraction of an algorithm's runs on a task whose
  normalised score is ``> τ``, averaged over tasks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_env.bench.results import Results, Run, arm_base
from rlhf_env.errors import ConfigError
from rlhf_env.validation import check_fields

Scores = Mapping[str, np.ndarray]
"""Task name → per-run scores (1-D) of one algorithm."""

STATISTICS = ("iqm", "median", "mean")


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap confidence interval."""

    estimate: float
    """The statistic on the observed runs."""
    low: float
    """Lower end of the interval."""
    high: float
    """Upper end of the interval."""

    def to_json(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class StatsConfig:
    """How intervals are computed."""

    reps: int = 2000
    """Bootstrap repetitions (2000 keeps the 95% interval's ends stable to ~0.01 IQR)."""
    seed: int = 0
    """Seed of the bootstrap's generator: the same runs always give the same intervals."""
    confidence: float = 0.95
    """Coverage of the percentile interval."""
    min_reference_gap: float = 2.0
    """A task whose reference gap ``|one − zero|`` is under this many standard errors of
    itself is *degenerate*: its normalised scores divide by noise (a few hundredths of gold
    can turn into −10), so it is left out of the aggregates and the profiles, with a note;
    its raw gold, its per-task rows and P(X > Y) stay. 0 turns the check off."""

    def __post_init__(self) -> None:
        check_fields(self)
        if not (math.isfinite(self.min_reference_gap) and self.min_reference_gap >= 0):
            raise ConfigError(f"StatsConfig.min_reference_gap must be a number ≥ 0 (standard "
                              f"errors; 0 turns the check off), got {self.min_reference_gap!r}.")
        if isinstance(self.reps, bool) or not isinstance(self.reps, int) or self.reps < 1:
            raise ConfigError(f"StatsConfig.reps must be an integer ≥ 1, got {self.reps!r}.")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"StatsConfig.confidence must be in (0, 1), e.g. 0.95, got "
                              f"{self.confidence!r}.")

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


DEFAULT_STATS = StatsConfig()
"""2000 repetitions, seed 0, 95% intervals."""


# ----------------------------------------------------------------------------- statistics


def _iqm_weights(n: int) -> np.ndarray:
    i = np.arange(n, dtype=float)
    return np.clip(np.minimum(i + 1, 0.75 * n) - np.maximum(i, 0.25 * n), 0.0, None)


def iqm(values: Sequence[float] | np.ndarray, axis: int = -1) -> Any:
    """Interquartile mean along ``axis`` (see the module docstring for the weights)."""
    x = np.sort(np.asarray(values, dtype=float), axis=axis)
    n = x.shape[axis]
    if n == 0:
        return math.nan
    w = _iqm_weights(n)
    return np.tensordot(np.moveaxis(x, axis, -1), w, axes=([-1], [0])) / (n / 2)


_ROW_STATS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "iqm": lambda a: np.asarray(iqm(a, axis=1)),
    "median": lambda a: np.median(a, axis=1),
    "mean": lambda a: np.mean(a, axis=1),
}


def _interval(estimate: float, boot: np.ndarray, config: StatsConfig) -> Interval:
    tail = (1 - config.confidence) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high))


def stratified_resample(scores: Sequence[np.ndarray], reps: int,
                        rng: np.random.Generator) -> np.ndarray:
    """``(reps, Σn)``: each row resamples every task's runs with replacement, side by side."""
    parts = [a[rng.integers(0, len(a), size=(reps, len(a)))] for a in scores]
    return np.concatenate(parts, axis=1)


def aggregate(scores: Scores, config: StatsConfig = DEFAULT_STATS,
              statistics: Sequence[str] = STATISTICS) -> dict[str, Interval]:
    """IQM / median / mean over all runs of all tasks, with stratified-bootstrap intervals."""
    arrays = [np.asarray(a, dtype=float) for a in scores.values() if len(a)]
    if not arrays:
        return {s: Interval(math.nan, math.nan, math.nan) for s in statistics}
    observed = np.concatenate(arrays)[None, :]
    boot = stratified_resample(arrays, config.reps, config.rng())
    return {s: _interval(_ROW_STATS[s](observed)[0], _ROW_STATS[s](boot), config)
            for s in statistics}


def _win_rate(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mann-Whitney share along the last axes: ``x (…, n)``, ``y (…, m)`` → ``(…)``."""
    diff = x[..., :, None] - y[..., None, :]
    return np.mean((diff > 0) + 0.5 * (diff == 0), axis=(-2, -1))


def probability_of_improvement(x: Scores, y: Scores,
                               config: StatsConfig = DEFAULT_STATS) -> Interval | None:
    """``P(X > Y)`` over the tasks both have runs on (``None`` when there are none)."""
    common = [t for t in x if t in y and len(x[t]) and len(y[t])]
    if not common:
        return None
    rng = config.rng()
    point = np.mean([_win_rate(np.asarray(x[t], float), np.asarray(y[t], float))
                     for t in common])
    boot = np.zeros(config.reps)
    for t in common:
        xs, ys = np.asarray(x[t], float), np.asarray(y[t], float)
        bx = xs[rng.integers(0, len(xs), size=(config.reps, len(xs)))]
        by = ys[rng.integers(0, len(ys), size=(config.reps, len(ys)))]
        boot += _win_rate(bx, by)
    return _interval(float(point), boot / len(common), config)


def performance_profile(scores: Scores, taus: Sequence[float] | np.ndarray) -> np.ndarray:
    """Fraction of runs with a score ``> τ`` for each τ, averaged over tasks."""
    taus = np.asarray(taus, dtype=float)
    per_task = [np.mean(np.asarray(a, float)[None, :] > taus[:, None], axis=1)
                for a in scores.values() if len(a)]
    if not per_task:
        return np.full(len(taus), math.nan)
    return np.mean(per_task, axis=0)


# ----------------------------------------------------------------------------- from runs


@dataclass(frozen=True)
class Reference:
    """A task's normalisation references as resolved in this sweep."""

    zero: float
    """Gold score mapped to 0."""
    one: float
    """Gold score mapped to 1."""
    zero_from: str
    """Where ``zero`` came from (``initial over N runs``, ``algorithm X``, ``fixed value``)."""
    one_from: str
    """Where ``one`` came from."""
    gap_se: float = math.nan
    """Standard error of ``one − zero`` from the spread of the runs behind each side
    (``√(s₀²/n₀ + s₁²/n₁)``); a fixed value or a single run adds none, NaN when no side has
    two runs."""

    @property
    def resolved(self) -> bool:
        """Both ends are known and differ: normalised scores are defined."""
        return math.isfinite(self.zero) and math.isfinite(self.one) and self.zero != self.one

    def degenerate(self, min_gap: float) -> bool:
        """The gap is under ``min_gap`` standard errors: it cannot be told from noise."""
        return (min_gap > 0 and math.isfinite(self.gap_se) and self.gap_se > 0
                and abs(self.one - self.zero) < min_gap * self.gap_se)


START = "@start"
"""Suffix of a reference meaning an algorithm's step-0 gold (``"best-of-n@start"``)."""


def _reference_value(name: str, fixed: float | None, runs: Sequence[Run]
                     ) -> tuple[float, str, float]:
    """The reference's gold, where it came from, and its squared standard error (0 for a
    fixed value, NaN for one run). A reference that several suites ran (arms
    ``name@suite``) pools their runs."""
    golds: list[float] = []
    if name == "initial" or name.endswith(START):
        algo = name.removesuffix(START) if name != "initial" else None
        golds = [r.initial.gold for r in runs
                 if r.initial is not None and (algo is None or arm_base(r.algorithm) == algo)]
        what = "step-0"
    elif name:
        golds = [r.final.gold for r in runs
                 if arm_base(r.algorithm) == name and r.final is not None]
        what = "final"
    if golds:
        var = float(np.var(golds, ddof=1)) / len(golds) if len(golds) > 1 else math.nan
        return float(np.median(golds)), f"{name}: median {what} gold of {len(golds)} runs", var
    if fixed is not None:
        return float(fixed), f"fixed value (no {name or 'reference'} run in this sweep)", 0.0
    return math.nan, f"unavailable (no {name or 'reference'} run and no fixed value)", math.nan


def references(results: Results) -> dict[str, Reference]:
    """Each task's zero and one gold scores, from this sweep's done runs where possible."""
    out = {}
    for task in results.task_names:
        runs = [r for r in results.done if r.task == task]
        norm = results.tasks[task].normalisation
        zero, zero_from, zero_var = _reference_value(norm.zero, norm.zero_value, runs)
        one, one_from, one_var = _reference_value(norm.one, norm.one_value, runs)
        known = [v for v in (zero_var, one_var) if math.isfinite(v)]
        se = math.sqrt(sum(known)) if known and sum(known) > 0 else math.nan
        out[task] = Reference(zero, one, zero_from, one_from, se)
    return out


def _left_out(refs: Mapping[str, Reference], config: StatsConfig) -> dict[str, str]:
    """Task → why its normalised scores are kept out of the aggregates."""
    out = {}
    for task, r in refs.items():
        if not r.resolved:
            out[task] = (f"task {task} is left out of the aggregates: zero {r.zero_from}, "
                         f"one {r.one_from}")
        elif r.degenerate(config.min_reference_gap):
            out[task] = (f"task {task} is left out of the aggregates: its reference gap "
                         f"one − zero = {r.one - r.zero:.3g} is under "
                         f"{config.min_reference_gap:g} standard errors ({r.gap_se:.3g}) of the "
                         f"reference runs, so its normalised scores would divide by noise; "
                         f"compare its raw gold (zero {r.zero_from}, one {r.one_from})")
    return out


def final_golds(results: Results) -> dict[str, dict[str, np.ndarray]]:
    """Algorithm → task → final gold of each done run (in seed order)."""
    table: dict[str, dict[str, list[float]]] = {}
    for run in results.done:
        if run.final is not None:
            table.setdefault(run.algorithm, {}).setdefault(run.task, []).append(run.final.gold)
    return {a: {t: np.asarray(v) for t, v in tasks.items()} for a, tasks in table.items()}


def normalised_scores(results: Results, refs: Mapping[str, Reference] | None = None
                      ) -> dict[str, dict[str, np.ndarray]]:
    """Algorithm → task → normalised final gold of each done run (NaN without references)."""
    refs = references(results) if refs is None else refs
    out: dict[str, dict[str, np.ndarray]] = {}
    for algo, tasks in final_golds(results).items():
        for task, golds in tasks.items():
            ref = refs[task]
            norm = results.tasks[task].normalisation
            out.setdefault(algo, {})[task] = np.asarray(
                [norm.apply(g, ref.zero, ref.one) for g in golds], dtype=float)
    return out


@dataclass(frozen=True)
class Summary:
    """Everything :func:`summarise` computes (``to_json`` is ``summary.json``'s body)."""

    config: StatsConfig
    """How the intervals were computed."""
    references: Mapping[str, Reference]
    """Task → its resolved normalisation references."""
    per_task: tuple[dict[str, Any], ...]
    """One row per (algorithm, task): runs, failures, final gold/proxy/KL, normalised."""
    aggregate: Mapping[str, dict[str, Any]]
    """Algorithm → {iqm|median|mean: Interval, tasks, runs}."""
    improvement: tuple[dict[str, Any], ...]
    """One row per ordered pair (x, y), x ≠ y: P(X > Y) with its interval."""
    profile_taus: tuple[float, ...]
    """The τ grid of the performance profiles."""
    profiles: Mapping[str, tuple[float, ...]]
    """Algorithm → fraction of runs above each τ."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Tasks left out of aggregates, and why."""

    def to_json(self) -> dict[str, Any]:
        agg = {a: {k: v.to_json() if isinstance(v, Interval) else v for k, v in d.items()}
               for a, d in self.aggregate.items()}
        return {"config": {"reps": self.config.reps, "seed": self.config.seed,
                           "confidence": self.config.confidence,
                           "min_reference_gap": self.config.min_reference_gap},
                "references": {t: vars(r) for t, r in self.references.items()},
                "per_task": list(self.per_task), "aggregate": agg,
                "improvement": list(self.improvement),
                "profiles": {"taus": list(self.profile_taus), "algorithms":
                             {a: list(v) for a, v in self.profiles.items()}},
                "notes": list(self.notes)}


def _mean(values: Sequence[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _per_task_rows(results: Results, norm: Mapping[str, Mapping[str, np.ndarray]],
                   left_out: Mapping[str, str]) -> tuple[dict[str, Any], ...]:
    rows = []
    for algo in results.algorithms:
        for task in results.task_names:
            runs = [r for r in results.runs if r.algorithm == algo and r.task == task]
            done = [r for r in runs if r.state == "done" and r.final is not None]
            if not runs:
                continue
            golds = [r.final.gold for r in done if r.final is not None]
            scores = norm.get(algo, {}).get(task, np.asarray([]))
            rows.append({
                "algorithm": algo, "task": task, "runs": len(done),
                "failed": sum(r.state == "failed" for r in runs),
                "unfinished": sum(r.state not in ("done", "failed") for r in runs),
                "final_gold_mean": _mean(golds),
                "final_gold_std": float(np.std(golds, ddof=1)) if len(golds) > 1 else None,
                "final_gold_median": float(np.median(golds)) if golds else None,
                "final_proxy_mean": _mean([r.final.proxy for r in done if r.final]),
                "final_kl_mean": _mean([r.final.kl for r in done if r.final]),
                "normalised_mean": _mean(list(scores)),
                "normalised_median": (float(np.median(scores))
                                      if len(scores) and np.isfinite(scores).all() else None),
                "normalised_iqm": (float(iqm(scores))
                                   if len(scores) and np.isfinite(scores).all() else None),
                "in_aggregates": task not in left_out})
    return tuple(rows)


def _profile_grid(norm: Mapping[str, Scores], points: int = 51) -> np.ndarray:
    values = [v for tasks in norm.values() for a in tasks.values() for v in a]
    finite = np.asarray([v for v in values if math.isfinite(v)])
    if not len(finite):
        return np.asarray([])
    low, high = min(0.0, float(finite.min())), max(1.0, float(finite.max()))
    return np.linspace(low, high, points)


def summarise(results: Results, config: StatsConfig = DEFAULT_STATS) -> Summary:
    """Per-task table, aggregates with intervals, improvement probabilities and profiles."""
    refs = references(results)
    norm = normalised_scores(results, refs)
    left_out = _left_out(refs, config)
    notes = list(left_out.values())
    usable = {a: {t: s for t, s in tasks.items() if np.isfinite(s).all() and t not in left_out}
              for a, tasks in norm.items()}
    agg: dict[str, dict[str, Any]] = {}
    for algo, tasks in usable.items():
        agg[algo] = {**aggregate(tasks, config), "tasks": len(tasks),
                     "runs": int(sum(len(s) for s in tasks.values()))}
    golds = final_golds(results)
    pairs = []
    for x in sorted(golds):
        for y in sorted(golds):
            p = None if x == y else probability_of_improvement(golds[x], golds[y], config)
            if p is not None:
                common = sum(1 for t in golds[x] if t in golds[y])
                pairs.append({"x": x, "y": y, **p.to_json(), "tasks": common})
    taus = _profile_grid(usable)
    profiles = {a: tuple(float(v) for v in performance_profile(t, taus))
                for a, t in usable.items()}
    return Summary(config, refs, _per_task_rows(results, norm, left_out), agg, tuple(pairs),
                   tuple(float(t) for t in taus), profiles, tuple(notes))
