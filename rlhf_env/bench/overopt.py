"""Over-optimisation: gold and proxy against ``d = √KL``, with Gao et al. (2022)'s fits.

Gao, Schulman and Hilton (2022), *Scaling Laws for Reward Model Overoptimization*, model the
gold score gained over the initial policy as a function of ``d = √KL(π ‖ π_ref)``:

- best-of-n:  ``R(d) = d (α − β d)``       (peak at ``d* = α / 2β``, ``R* = α² / 4β``)
- RL:         ``R(d) = d (α − β log d)``   (peak at ``d* = exp(α/β − 1)``, ``R* = β d*``)

Both are linear in ``(α, β)``, so the fit is ordinary least squares on the features
``[d, −d²]`` or ``[d, −d log d]`` (no intercept: ``R(0) = 0``). The target is each run's gold
minus that run's step-0 gold (its ``d = 0`` value), pooled over the seeds of an
(algorithm, task). An interior maximum exists when ``α > 0`` and ``β > 0``.

Only runs whose EvalPoints carry ``kl`` are used (text tasks). Which form is *the* form of an
algorithm: ``"bon"`` when its name looks like best-of-n (``best_of_n``, ``bon``, ``bon4``…),
``"rl"`` otherwise, unless :func:`overoptimisation` is told; both fits are always reported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rlhf_env.bench.results import Results, Run, arm_base

Form = Literal["bon", "rl"]
FORMS: tuple[Form, ...] = ("bon", "rl")
_NEGLIGIBLE = 1e-9
"""β below this fraction of α is rounding noise of a straight line, not a curvature."""
_BON_NAME = re.compile(r"(^|[^a-z])(best[-_ ]?of[-_ ]?n|bon)(\d*)($|[^a-z])", re.IGNORECASE)


@dataclass(frozen=True)
class Fit:
    """A least-squares fit of one functional form."""

    form: Form
    """``bon``: ``d(α − βd)``; ``rl``: ``d(α − β log d)``."""
    alpha: float
    """α."""
    beta: float
    """β."""
    r2: float
    """Coefficient of determination of the fit on the points used (NaN if they are constant)."""
    n: int
    """Points used."""

    def predict(self, d: np.ndarray | Sequence[float]) -> np.ndarray:
        """``R(d)``, the fitted gold gain over the initial policy."""
        d = np.asarray(d, dtype=float)
        return d * (self.alpha - self.beta * d) if self.form == "bon" else self.alpha * d - \
            self.beta * _dlogd(d)

    def peak(self) -> tuple[float, float] | None:
        """``(d*, R(d*))`` of the interior maximum, or ``None`` when the fit has none."""
        if not (self.alpha > 0 and self.beta > _NEGLIGIBLE * self.alpha):
            return None
        if self.form == "bon":
            d = self.alpha / (2 * self.beta)
            return d, self.alpha ** 2 / (4 * self.beta)
        exponent = self.alpha / self.beta - 1
        if exponent > 700:  # the peak lies beyond any float
            return None
        d = math.exp(exponent)
        return d, self.beta * d

    def to_json(self) -> dict[str, Any]:
        peak = self.peak()
        return {"form": self.form, "alpha": self.alpha, "beta": self.beta, "r2": self.r2,
                "n": self.n, "peak_sqrt_kl": peak[0] if peak else None,
                "peak_kl": peak[0] ** 2 if peak else None,
                "peak_gain": peak[1] if peak else None}


def _dlogd(d: np.ndarray) -> np.ndarray:
    safe = np.where(d > 0, d, 1.0)
    return np.where(d > 0, d * np.log(safe), 0.0)


def fit_form(d: Sequence[float] | np.ndarray, gain: Sequence[float] | np.ndarray,
             form: Form) -> Fit:
    """Least-squares ``(α, β)`` of ``form`` through ``(d, gain)`` points (``d ≥ 0``)."""
    x = np.asarray(d, dtype=float)
    y = np.asarray(gain, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    second = -x * x if form == "bon" else -_dlogd(x)
    features = np.stack([x, second], axis=1)
    if len(x) < 2 or np.linalg.matrix_rank(features) < 2:
        return Fit(form, math.nan, math.nan, math.nan, len(x))
    (alpha, beta), *_ = np.linalg.lstsq(features, y, rcond=None)
    residual = y - features @ np.array([alpha, beta])
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(np.sum(residual ** 2)) / total if total > 0 else math.nan
    return Fit(form, float(alpha), float(beta), r2, len(x))


def default_form(algorithm: str) -> Form:
    """``bon`` for names that look like best-of-n, else ``rl``."""
    return "bon" if _BON_NAME.search(algorithm) else "rl"


@dataclass(frozen=True)
class Curve:
    """Gold and proxy against √KL of one (algorithm, task), seeds pooled."""

    algorithm: str
    """Algorithm name."""
    task: str
    """Task name."""
    d: np.ndarray
    """√KL of every point (runs concatenated)."""
    gold: np.ndarray
    """Gold of every point."""
    proxy: np.ndarray
    """Proxy of every point."""
    gain: np.ndarray
    """Gold minus the run's step-0 gold."""
    initial_gold: float
    """Mean step-0 gold over the runs."""
    by_step: np.ndarray
    """``(steps, 4)``: step, mean √KL, mean gold, mean proxy, over the runs."""


def _curve(algorithm: str, task: str, runs: Sequence[Run]) -> Curve | None:
    rows, starts = [], []
    for run in runs:
        pts = [(p, p.kl) for p in run.points if p.kl is not None]
        if not pts:
            continue
        start = min(pts, key=lambda pk: (pk[0].step, pk[1]))[0].gold
        starts.append(start)
        rows += [(p.step, math.sqrt(max(kl, 0.0)), p.gold, p.proxy, p.gold - start)
                 for p, kl in pts]
    if not rows:
        return None
    a = np.asarray(rows, dtype=float)
    steps = np.unique(a[:, 0])
    by_step = np.asarray([[s, *a[a[:, 0] == s, 1:4].mean(axis=0)] for s in steps])
    return Curve(algorithm, task, a[:, 1], a[:, 2], a[:, 3], a[:, 4],
                 float(np.mean(starts)), by_step)


def curves(results: Results) -> list[Curve]:
    """One :class:`Curve` per (algorithm, task) whose done runs report KL."""
    out = []
    for algo in results.algorithms:
        for task in results.task_names:
            runs = [r for r in results.done if r.algorithm == algo and r.task == task]
            curve = _curve(algo, task, runs)
            if curve is not None:
                out.append(curve)
    return out


def analyse(curve: Curve, form: Form | None = None) -> dict[str, Any]:
    """Both fits, the chosen form, observed and fitted peaks of one curve."""
    chosen = form or default_form(curve.algorithm)
    fits = {f: fit_form(curve.d, curve.gain, f) for f in FORMS}
    best = int(np.argmax(curve.by_step[:, 2]))
    peak = fits[chosen].peak()
    return {
        "algorithm": curve.algorithm, "task": curve.task, "form": chosen,
        "fits": {f: fit.to_json() for f, fit in fits.items()},
        "initial_gold": curve.initial_gold,
        "observed_peak_gold": float(curve.by_step[best, 2]),
        "observed_peak_kl": float(curve.by_step[best, 1] ** 2),
        "observed_peak_step": int(curve.by_step[best, 0]),
        "fitted_peak_gold": curve.initial_gold + peak[1] if peak else None,
        "fitted_peak_kl": peak[0] ** 2 if peak else None,
        "fitted_peak_extrapolated": bool(peak[0] > curve.d.max()) if peak else None,
        "final_proxy": float(curve.by_step[-1, 3]), "final_gold": float(curve.by_step[-1, 2]),
        "final_kl": float(curve.by_step[-1, 1] ** 2),
    }


def overoptimisation(results: Results, forms: Mapping[str, Form] | None = None
                     ) -> list[dict[str, Any]]:
    """:func:`analyse` of every text (algorithm, task); ``forms`` maps algorithm → form (an
    arm ``algorithm@suite`` takes its algorithm's unless named itself)."""
    forms = forms or {}
    return [analyse(c, forms.get(c.algorithm, forms.get(arm_base(c.algorithm))))
            for c in curves(results)]
