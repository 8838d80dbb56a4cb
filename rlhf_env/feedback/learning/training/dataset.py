"""Feedback records → index tables the trainer batches from.

Every distinct ``(prompt, response)`` becomes one *item* (tokenized once, embedded once);
examples refer to items by index, so a response compared ten times costs one encoder pass
per batch that needs it. Record kinds become three example tables:

=================  =====================================================================
pairs              comparisons (ties → target ½, ``strength`` → margin), demonstrations
                   (demonstration ≻ a policy sample for the same prompt) and corrections
                   (edited ≻ original)
lists              rankings (best first, ties share a rank) for Plackett–Luce
ratings            ratings, normalised per annotator (z-scores) for regression, and as
                   integer levels for the ordinal objective
=================  =====================================================================

Each example carries a weight (``metadata["weight"]`` × the annotator's reliability weight)
and its annotator's index, so annotator-conditioned models can see who labelled it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.records import (
    Comparison,
    Correction,
    Demonstration,
    FeedbackRecord,
    Ranking,
    Rating,
)

PolicySamples = Mapping[str, Sequence[str]] | Callable[[list[str]], Sequence[str]]
"""Where demonstrations find the policy sample they beat: ``{prompt: [responses]}`` or a
function ``f(prompts) -> one response per prompt``."""

PAIR_SOURCES = ("comparison", "demonstration", "correction")


@dataclass(frozen=True)
class PairTable:
    """Pairwise examples, all arrays of shape ``(P,)``."""

    a: np.ndarray
    """Item index of the first response (the winner unless ``target`` says otherwise)."""
    b: np.ndarray
    """Item index of the second response."""
    target: np.ndarray
    """Probability that ``a`` beats ``b`` (1.0, or 0.5 for a tie)."""
    margin: np.ndarray
    """Margin subtracted from ``r_a − r_b`` (0 unless margins are used)."""
    weight: np.ndarray
    annotator: np.ndarray
    source: np.ndarray
    """Index into :data:`PAIR_SOURCES`."""

    def __len__(self) -> int:
        return len(self.a)


@dataclass(frozen=True)
class ListTable:
    """Rankings padded to the longest one: ``items``/``ranks``/``valid`` are ``(N, K)``."""

    items: np.ndarray
    ranks: np.ndarray
    valid: np.ndarray
    weight: np.ndarray
    annotator: np.ndarray

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class RatingTable:
    """Rating examples, arrays of shape ``(R,)``."""

    item: np.ndarray
    target: np.ndarray
    """Per-annotator z-scored rating (regression target)."""
    level: np.ndarray
    """Integer level ``0..n_levels−1`` (ordinal target; −1 when the scale is not integral)."""
    weight: np.ndarray
    annotator: np.ndarray
    n_levels: int = 0
    """Number of ordinal levels (0 when ratings use several or non-integer scales)."""

    def __len__(self) -> int:
        return len(self.item)


@dataclass(frozen=True)
class FeedbackDataset:
    """Items, annotators and the three example tables built by :func:`build_dataset`."""

    items: list[tuple[str, str]]
    """Distinct ``(prompt, response)`` pairs; examples index into this list."""
    annotators: list[str]
    """Distinct annotator ids; ``annotator`` columns index into this list."""
    pairs: PairTable
    lists: ListTable
    ratings: RatingTable
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pairs) + len(self.lists) + len(self.ratings)

    def counts(self) -> dict[str, int]:
        """Number of examples of each kind."""
        return {"pairs": len(self.pairs), "rankings": len(self.lists),
                "ratings": len(self.ratings), "items": len(self.items)}


class _Builder:
    """Accumulates items and examples while records are read (one pass)."""

    def __init__(self, annotator_weights: Mapping[str, float] | None) -> None:
        self.item_index: dict[tuple[str, str], int] = {}
        self.ann_index: dict[str, int] = {}
        self.ann_weights = dict(annotator_weights or {})
        self.pairs: list[tuple[int, int, float, float, float, int, int]] = []
        self.lists: list[tuple[list[int], list[int], float, int]] = []
        self.ratings: list[tuple[int, float, tuple[float, float], float, int]] = []

    def item(self, prompt: str, response: str) -> int:
        return self.item_index.setdefault((prompt, response), len(self.item_index))

    def annotator(self, ann_id: str) -> int:
        return self.ann_index.setdefault(ann_id, len(self.ann_index))

    def weight(self, rec: FeedbackRecord) -> float:
        w = rec.metadata.get("weight", 1.0)
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w) or w < 0:
            raise FeedbackError(
                f"record {rec.id}: metadata['weight'] must be a finite number >= 0, got {w!r}."
            )
        return float(w) * float(self.ann_weights.get(rec.annotator, 1.0))

    def add_pair(self, rec: FeedbackRecord, a: int, b: int, target: float, margin: float,
                 source: str) -> None:
        self.pairs.append((a, b, target, margin, self.weight(rec),
                           self.annotator(rec.annotator), PAIR_SOURCES.index(source)))


def _add_comparison(bld: _Builder, rec: Comparison, use_margins: bool) -> None:
    a, b = bld.item(rec.prompt, rec.response_a), bld.item(rec.prompt, rec.response_b)
    if rec.preference == "tie":
        bld.add_pair(rec, a, b, 0.5, 0.0, "comparison")
        return
    win, lose = (a, b) if rec.preference == "a" else (b, a)
    margin = float(rec.strength) if (use_margins and rec.strength is not None) else 0.0
    bld.add_pair(rec, win, lose, 1.0, margin, "comparison")


def _add_ranking(bld: _Builder, rec: Ranking) -> None:
    items = [bld.item(rec.prompt, r) for r in rec.responses]
    ranks = [rec.ranks[r] for r in rec.responses]
    bld.lists.append((items, ranks, bld.weight(rec), bld.annotator(rec.annotator)))


def _add_rating(bld: _Builder, rec: Rating) -> None:
    bld.ratings.append((bld.item(rec.prompt, rec.response), rec.score, rec.scale,
                        bld.weight(rec), bld.annotator(rec.annotator)))


def _negatives_for(demos: Sequence[Demonstration], policy_samples: PolicySamples | None,
                   fallback: Mapping[str, list[str]]) -> list[str]:
    """One policy sample per demonstration (the response it should beat)."""
    if callable(policy_samples):
        out = list(policy_samples([d.prompt for d in demos]))
        if len(out) != len(demos):
            raise FeedbackError(
                f"policy_samples returned {len(out)} responses for {len(demos)} prompts; "
                "return exactly one per prompt."
            )
        return out
    given = policy_samples or {}
    out = []
    for i, d in enumerate(demos):
        cands = [r for r in given.get(d.prompt, ()) if r != d.response] or [
            r for r in fallback.get(d.prompt, ()) if r != d.response]
        if not cands:
            raise FeedbackError(
                f"demonstration for prompt {d.prompt[:60]!r} has no policy sample to be "
                "preferred over; pass policy_samples={prompt: [responses]} or a function "
                "prompts -> responses (e.g. a policy's generate), or add other feedback for "
                "that prompt."
            )
        out.append(cands[i % len(cands)])
    return out


def _responses_by_prompt(records: Sequence[FeedbackRecord]) -> dict[str, list[str]]:
    """Non-demonstration responses seen per prompt (fallback policy samples)."""
    out: dict[str, list[str]] = {}
    for rec in records:
        if isinstance(rec, Comparison):
            texts = [rec.response_a, rec.response_b]
        elif isinstance(rec, Ranking):
            texts = list(rec.responses)
        elif isinstance(rec, Rating):
            texts = [rec.response]
        elif isinstance(rec, Correction):
            texts = [rec.original]
        else:
            continue
        bucket = out.setdefault(rec.prompt, [])
        bucket.extend(t for t in texts if t not in bucket)
    return out


def build_dataset(
    records: Sequence[FeedbackRecord],
    *,
    annotator_weights: Mapping[str, float] | None = None,
    policy_samples: PolicySamples | None = None,
    use_margins: bool = False,
    normalize_ratings: bool = True,
) -> FeedbackDataset:
    """Turn records of any mix of kinds into a :class:`FeedbackDataset`.

    Args:
        records: feedback records (comparisons, rankings, ratings, demonstrations,
            corrections).
        annotator_weights: reliability weight per annotator id (e.g. from
            :mod:`rlhf_env.feedback.quality`), multiplied into every example's weight.
        policy_samples: responses demonstrations are preferred over (see
            :data:`PolicySamples`); prompts a mapping does not cover (or all, when it is
            ``None``) use other responses to the same prompt in ``records``.
        use_margins: turn each comparison's ``strength`` into a Bradley–Terry margin.
        normalize_ratings: z-score each annotator's ratings (else map them to [0, 1]).
    """
    if not records:
        raise FeedbackError("no feedback records to train on; label some data first.")
    bld = _Builder(annotator_weights)
    demos: list[Demonstration] = []
    for rec in records:
        if isinstance(rec, Comparison):
            _add_comparison(bld, rec, use_margins)
        elif isinstance(rec, Ranking):
            _add_ranking(bld, rec)
        elif isinstance(rec, Rating):
            _add_rating(bld, rec)
        elif isinstance(rec, Correction):
            bld.add_pair(rec, bld.item(rec.prompt, rec.edited),
                         bld.item(rec.prompt, rec.original), 1.0, 0.0, "correction")
        elif isinstance(rec, Demonstration):
            demos.append(rec)
        else:
            raise FeedbackError(
                f"cannot train on {type(rec).__name__}; expected Comparison, Ranking, Rating, "
                "Demonstration or Correction records."
            )
    if demos:
        negatives = _negatives_for(demos, policy_samples, _responses_by_prompt(records))
        for d, neg in zip(demos, negatives, strict=True):
            bld.add_pair(d, bld.item(d.prompt, d.response), bld.item(d.prompt, neg),
                         1.0, 0.0, "demonstration")
    return FeedbackDataset(
        items=list(bld.item_index),
        annotators=list(bld.ann_index),
        pairs=_pair_table(bld.pairs),
        lists=_list_table(bld.lists),
        ratings=_rating_table(bld.ratings, normalize_ratings),
    )


def _pair_table(rows: list[tuple[int, int, float, float, float, int, int]]) -> PairTable:
    cols = list(zip(*rows, strict=True)) if rows else [()] * 7
    ints = [np.asarray(c, dtype=np.int64) for c in (cols[0], cols[1], cols[5], cols[6])]
    floats = [np.asarray(c, dtype=np.float32) for c in (cols[2], cols[3], cols[4])]
    return PairTable(a=ints[0], b=ints[1], target=floats[0], margin=floats[1],
                     weight=floats[2], annotator=ints[2], source=ints[3])


def _list_table(rows: list[tuple[list[int], list[int], float, int]]) -> ListTable:
    k = max((len(r[0]) for r in rows), default=0)
    n = len(rows)
    items = np.zeros((n, k), dtype=np.int64)
    ranks = np.zeros((n, k), dtype=np.int64)
    valid = np.zeros((n, k), dtype=bool)
    for i, (its, rks, _, _) in enumerate(rows):
        items[i, :len(its)] = its
        ranks[i, :len(rks)] = rks
        valid[i, :len(its)] = True
    return ListTable(items=items, ranks=ranks, valid=valid,
                     weight=np.asarray([r[2] for r in rows], dtype=np.float32),
                     annotator=np.asarray([r[3] for r in rows], dtype=np.int64))


def normalize_per_annotator(values: np.ndarray, annotators: np.ndarray) -> np.ndarray:
    """Z-score ``values`` within each annotator (annotators with one rating or zero spread
    are only centred, on the global mean)."""
    values = np.asarray(values, dtype=np.float64)
    out = values - values.mean()
    for ann in np.unique(annotators):
        sel = annotators == ann
        v = values[sel]
        std = v.std()
        if sel.sum() >= 2 and std > 1e-8:
            out[sel] = (v - v.mean()) / std
    return out.astype(np.float32)


def _rating_table(rows: list[tuple[int, float, tuple[float, float], float, int]],
                  normalize: bool) -> RatingTable:
    item = np.asarray([r[0] for r in rows], dtype=np.int64)
    score = np.asarray([r[1] for r in rows], dtype=np.float64)
    scales = {r[2] for r in rows}
    lo = np.asarray([r[2][0] for r in rows], dtype=np.float64)
    hi = np.asarray([r[2][1] for r in rows], dtype=np.float64)
    ann = np.asarray([r[4] for r in rows], dtype=np.int64)
    unit = (score - lo) / np.where(hi > lo, hi - lo, 1.0) if rows else score
    target = normalize_per_annotator(unit, ann) if (normalize and rows) else unit
    n_levels = 0
    level = np.full(len(rows), -1, dtype=np.int64)
    if len(scales) == 1:
        (slo, shi), = scales
        if float(slo).is_integer() and float(shi).is_integer() and np.all(score == np.round(score)):
            n_levels = int(shi - slo) + 1
            level = (score - slo).astype(np.int64)
    return RatingTable(item=item, target=np.asarray(target, dtype=np.float32), level=level,
                       weight=np.asarray([r[3] for r in rows], dtype=np.float32),
                       annotator=ann, n_levels=n_levels)


def subset(data: FeedbackDataset, pair_idx: np.ndarray, list_idx: np.ndarray,
           rating_idx: np.ndarray) -> FeedbackDataset:
    """The same items and annotators with only the chosen examples (indices may repeat,
    which is how bootstrap resamples are built)."""
    p, li, r = data.pairs, data.lists, data.ratings
    return FeedbackDataset(
        items=data.items,
        annotators=data.annotators,
        pairs=PairTable(*(getattr(p, f)[pair_idx] for f in
                          ("a", "b", "target", "margin", "weight", "annotator", "source"))),
        lists=ListTable(*(getattr(li, f)[list_idx] for f in
                          ("items", "ranks", "valid", "weight", "annotator"))),
        ratings=RatingTable(item=r.item[rating_idx], target=r.target[rating_idx],
                            level=r.level[rating_idx], weight=r.weight[rating_idx],
                            annotator=r.annotator[rating_idx], n_levels=r.n_levels),
        meta=dict(data.meta),
    )


def split(data: FeedbackDataset, val_fraction: float, rng: np.random.Generator
          ) -> tuple[FeedbackDataset, FeedbackDataset]:
    """Random train/validation split of the examples of every kind."""
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for n in (len(data.pairs), len(data.lists), len(data.ratings)):
        perm = rng.permutation(n)
        n_val = round(n * val_fraction) if n > 1 else 0
        parts.append((perm[n_val:], perm[:n_val]))
    train = subset(data, parts[0][0], parts[1][0], parts[2][0])
    val = subset(data, parts[0][1], parts[1][1], parts[2][1])
    return train, val


def bootstrap(data: FeedbackDataset, rng: np.random.Generator) -> FeedbackDataset:
    """A bootstrap resample (with replacement) of the examples of every kind."""
    idx = [rng.integers(0, n, size=n) if n else np.zeros(0, dtype=np.int64)
           for n in (len(data.pairs), len(data.lists), len(data.ratings))]
    return subset(data, *idx)


__all__ = [
    "PAIR_SOURCES",
    "FeedbackDataset",
    "ListTable",
    "PairTable",
    "PolicySamples",
    "RatingTable",
    "bootstrap",
    "build_dataset",
    "normalize_per_annotator",
    "split",
    "subset",
]
