"""Evaluating reward models on held-out feedback.

==================================  =======================================================
:func:`pairwise_accuracy`           share of strict comparisons where the chosen response
                                    scores higher (ties in the labels are left out; tied
                                    scores count as half right)
:func:`expected_calibration_error`  ECE of ``P(a ≻ b) = σ(r_a − r_b)`` against the labels
:func:`rating_correlation`          Pearson and Spearman correlation of scores and ratings
:func:`wilson_interval`             95% interval of an accuracy measured on ``n`` pairs
:func:`evaluate`                    all of the above on a list of records, overall, per
                                    annotator and per annotator attribute value
==================================  =======================================================

    >>> import numpy as np
    >>> round(expected_calibration_error(np.array([0.9, 0.9, 0.1]), np.array([1, 1, 0])), 6)
    0.1
    >>> [round(x, 3) for x in wilson_interval(0.75, 20)]
    [0.531, 0.888]
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_env.errors import ConfigError
from rlhf_env.feedback.records import (
    Annotator,
    Comparison,
    Correction,
    FeedbackRecord,
    Ranking,
    Rating,
)
from rlhf_env.rewards.base import score_checked


def pairwise_accuracy(scores_chosen: np.ndarray, scores_rejected: np.ndarray) -> float:
    """Share of pairs where the chosen response scores higher (score ties count ½)."""
    c = np.asarray(scores_chosen, np.float64)
    r = np.asarray(scores_rejected, np.float64)
    if c.shape != r.shape:
        raise ConfigError(f"score arrays differ in shape: {c.shape} vs {r.shape}.")
    if not len(c):
        return float("nan")
    return float(np.mean((c > r) + 0.5 * (c == r)))


def wilson_interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (95% for ``z = 1.96``) of an accuracy measured on ``n`` items.

    Unlike ``p ± z·√(p(1−p)/n)`` it stays inside [0, 1] and is honest for small ``n``, where
    reward models are usually first checked: 15 of 20 right is ``[0.53, 0.89]``.
    ``(nan, nan)`` for ``n = 0``.
    """
    if n <= 0 or not math.isfinite(accuracy):
        return float("nan"), float("nan")
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def expected_calibration_error(probs: np.ndarray, outcomes: np.ndarray, n_bins: int = 10
                               ) -> float:
    """ECE: the mean over equal-width probability bins of ``|accuracy − confidence|``,
    weighted by the share of predictions in each bin.

    ``probs`` are predicted ``P(event)``; ``outcomes`` are 0/1 (or ½ for a tie). The event
    is symmetrised: each prediction is read as "the more likely side happens" with
    confidence ``max(p, 1 − p)``, as usual for binary ECE.
    """
    if n_bins < 1:
        raise ConfigError(f"n_bins must be >= 1, got {n_bins}.")
    p = np.asarray(probs, np.float64)
    y = np.asarray(outcomes, np.float64)
    if p.shape != y.shape:
        raise ConfigError(f"probs and outcomes differ in shape: {p.shape} vs {y.shape}.")
    if not len(p):
        return float("nan")
    conf = np.maximum(p, 1.0 - p)
    hit = np.where(p >= 0.5, y, 1.0 - y)
    bins = np.minimum(((conf - 0.5) * 2 * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        sel = bins == b
        ece += sel.mean() * abs(hit[sel].mean() - conf[sel].mean())
    return float(ece)


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(len(x), dtype=np.float64)
    for v in np.unique(x):  # average ranks of ties
        sel = x == v
        if sel.sum() > 1:
            ranks[sel] = ranks[sel].mean()
    return ranks


def rating_correlation(scores: np.ndarray, ratings: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlation of model scores with ratings (NaN if undefined)."""
    s = np.asarray(scores, np.float64)
    r = np.asarray(ratings, np.float64)
    if len(s) < 2 or s.std() == 0 or r.std() == 0:
        return {"pearson": float("nan"), "spearman": float("nan")}
    pearson = float(np.corrcoef(s, r)[0, 1])
    spearman = float(np.corrcoef(_ranks(s), _ranks(r))[0, 1])
    return {"pearson": pearson, "spearman": spearman}


# --------------------------------------------------------------------------------------
# records → comparable pairs


@dataclass(frozen=True)
class _Pairs:
    """Strict and tied pairwise judgements extracted from records, by position."""

    prompts: list[str] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    tie: list[bool] = field(default_factory=list)
    annotator: list[str] = field(default_factory=list)


def _pairs_from_records(records: Sequence[FeedbackRecord]) -> _Pairs:
    out = _Pairs()

    def add(prompt: str, a: str, b: str, tie: bool, ann: str) -> None:
        out.prompts.append(prompt)
        out.chosen.append(a)
        out.rejected.append(b)
        out.tie.append(tie)
        out.annotator.append(ann)

    for rec in records:
        if isinstance(rec, Comparison):
            if rec.preference == "tie":
                add(rec.prompt, rec.response_a, rec.response_b, True, rec.annotator)
            else:
                add(rec.prompt, rec.chosen or "", rec.rejected or "", False, rec.annotator)
        elif isinstance(rec, Ranking):
            ranks = rec.ranks
            resp = rec.responses
            for i, a in enumerate(resp):
                for b in resp[i + 1:]:
                    if ranks[a] != ranks[b]:
                        add(rec.prompt, a, b, False, rec.annotator)
        elif isinstance(rec, Correction):
            add(rec.prompt, rec.edited, rec.original, False, rec.annotator)
    return out


@dataclass(repr=False)
class EvaluationReport:
    """Held-out metrics of a reward model (see :func:`evaluate`)."""

    pairwise_accuracy: float = float("nan")
    """Accuracy on strict pairwise judgements (comparisons, ranking pairs, corrections)."""
    ece: float = float("nan")
    """Expected calibration error of ``σ(r_a − r_b)`` (ties count as ½ outcomes)."""
    n_pairs: int = 0
    n_ties: int = 0
    rating: dict[str, float] = field(default_factory=dict)
    """Pearson/Spearman correlation of scores with (unnormalised) ratings."""
    n_ratings: int = 0
    per_annotator: dict[str, dict[str, float]] = field(default_factory=dict)
    """Annotator id → ``{"accuracy", "n"}``."""
    per_attribute: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """Attribute name → value → ``{"accuracy", "n"}``."""

    @property
    def pairwise_accuracy_ci(self) -> tuple[float, float]:
        """95% Wilson interval of :attr:`pairwise_accuracy` over :attr:`n_pairs`."""
        return wilson_interval(self.pairwise_accuracy, self.n_pairs)

    def __repr__(self) -> str:
        parts = []
        if self.n_pairs:
            lo, hi = self.pairwise_accuracy_ci
            parts.append(f"pairwise accuracy {self.pairwise_accuracy:.3f} (95% CI {lo:.2f}-"
                         f"{hi:.2f}) on {self.n_pairs} pairs, ECE {self.ece:.3f}")
        if self.n_ratings:
            parts.append(f"Spearman {self.rating.get('spearman', float('nan')):.3f} on "
                         f"{self.n_ratings} ratings")
        if self.per_annotator:
            parts.append(f"{len(self.per_annotator)} annotators")
        return f"EvaluationReport({'; '.join(parts) or 'no pairs or ratings'})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "pairwise_accuracy": self.pairwise_accuracy, "ece": self.ece,
            "n_pairs": self.n_pairs, "n_ties": self.n_ties, "rating": dict(self.rating),
            "n_ratings": self.n_ratings, "per_annotator": self.per_annotator,
            "per_attribute": self.per_attribute,
        }


def _score_pairs(model: Any, pairs: _Pairs, conditioned_on: Mapping[str, Any] | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Scores of chosen and rejected responses, one batched call (per annotator when the
    model is conditioned and ``conditioned_on`` maps annotator ids to attributes)."""
    n = len(pairs.prompts)
    if conditioned_on is None:
        s = score_checked(model, pairs.prompts * 2, pairs.chosen + pairs.rejected)
        return s[:n], s[n:]
    chosen, rejected = np.zeros(n, np.float32), np.zeros(n, np.float32)
    ann = np.array(pairs.annotator)
    for a in np.unique(ann):
        idx = np.flatnonzero(ann == a)
        view = model.for_annotator(conditioned_on.get(str(a)))
        s = score_checked(view, [pairs.prompts[i] for i in idx] * 2,
                          [pairs.chosen[i] for i in idx] + [pairs.rejected[i] for i in idx])
        chosen[idx], rejected[idx] = s[:len(idx)], s[len(idx):]
    return chosen, rejected


def _group_accuracy(correct: np.ndarray, keys: Sequence[str]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[float]] = defaultdict(list)
    for c, k in zip(correct, keys, strict=True):
        groups[k].append(float(c))
    return {k: {"accuracy": float(np.mean(v)), "n": float(len(v))}
            for k, v in sorted(groups.items())}


def evaluate(
    model: Any,
    records: Sequence[FeedbackRecord],
    *,
    annotators: Sequence[Annotator] | Mapping[str, Annotator] | None = None,
    condition_on_annotator: bool = False,
    n_bins: int = 10,
) -> EvaluationReport:
    """Held-out metrics of ``model`` (any reward model) on feedback ``records``.

    Args:
        model: anything with ``score(prompts, responses)``.
        records: held-out comparisons, rankings (every strictly ordered pair), corrections
            (edited ≻ original) and ratings.
        annotators: annotator records, for accuracy per attribute value (and conditioning).
        condition_on_annotator: score each pair as its annotator would (the model must have
            ``for_annotator``, as annotator-conditioned models do).
        n_bins: bins of the calibration error.
    """
    table = _annotator_table(annotators)
    if condition_on_annotator and not callable(getattr(model, "for_annotator", None)):
        raise ConfigError("condition_on_annotator=True needs an annotator-conditioned model "
                          "(with for_annotator(attributes)).")
    report = EvaluationReport()
    pairs = _pairs_from_records(records)
    if pairs.prompts:
        attrs = {k: a.attributes for k, a in table.items()} if condition_on_annotator else None
        sc, sr = _score_pairs(model, pairs, attrs)
        _fill_pair_metrics(report, pairs, sc, sr, table, n_bins)
    ratings = [r for r in records if isinstance(r, Rating)]
    if ratings:
        s = score_checked(model, [r.prompt for r in ratings], [r.response for r in ratings])
        report.rating = rating_correlation(s, np.array([r.score for r in ratings]))
        report.n_ratings = len(ratings)
    return report


def _annotator_table(annotators: Any) -> dict[str, Annotator]:
    if annotators is None:
        return {}
    if isinstance(annotators, Mapping):
        return dict(annotators)
    return {a.id: a for a in annotators}


def _fill_pair_metrics(report: EvaluationReport, pairs: _Pairs, sc: np.ndarray,
                       sr: np.ndarray, table: Mapping[str, Annotator], n_bins: int) -> None:
    tie = np.array(pairs.tie)
    strict = ~tie
    correct = (sc > sr) + 0.5 * (sc == sr)
    report.n_pairs, report.n_ties = int(strict.sum()), int(tie.sum())
    if strict.any():
        report.pairwise_accuracy = float(correct[strict].mean())
    probs = 1.0 / (1.0 + np.exp(-np.clip(sc.astype(np.float64) - sr, -50, 50)))
    report.ece = expected_calibration_error(probs, np.where(tie, 0.5, 1.0), n_bins)
    anns = [a for a, s in zip(pairs.annotator, strict, strict=True) if s]
    report.per_annotator = _group_accuracy(correct[strict], anns)
    names = sorted({k for a in table.values() for k in a.attributes})
    for name in names:
        keys = [str(table[a].attributes.get(name, "(none)")) if a in table else "(unknown)"
                for a in anns]
        report.per_attribute[name] = _group_accuracy(correct[strict], keys)


__all__ = [
    "EvaluationReport",
    "evaluate",
    "expected_calibration_error",
    "pairwise_accuracy",
    "rating_correlation",
    "wilson_interval",
]
