"""Feedback quality control: gold items, repeats, agreement, reliability, sampling.

Everything here reads plain records (from a store or anywhere), so it works the same for
people, synthetic labelers and AI judges.

- **Labels of the same item.** :func:`item_label` reduces a record to
  ``(item_key, label)``: a comparison's preference is expressed against the responses in
  sorted order (so "x over y" agrees with "y under x" whatever the display order), a rating's
  label is its score, a ranking's is its canonical groups. Demonstrations and corrections
  have no categorical label and are left out of agreement numbers.
- **Agreement.** :func:`cohen_kappa` (two annotators) and :func:`fleiss_kappa` (many) are
  computed with numpy from their textbook definitions. Contradictory labels are never
  dropped: they lower agreement and are counted in :attr:`AgreementSummary.contradictory`.
- **Gold items** (known answers, mixed into the labeling queue by :func:`fill_queue`) give
  each annotator's :func:`gold_accuracy`; **repeated items** give
  :func:`self_consistency`.
- :func:`reliability_scores` pools gold, repeat and majority-agreement evidence into one
  number per annotator, and :func:`record_weights` turns it into per-record training
  weights.
- :func:`sample_annotators` picks annotators uniformly or stratified by an attribute.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.records import (
    Annotator,
    Comparison,
    FeedbackRecord,
    Ranking,
    Rating,
)

if TYPE_CHECKING:
    from rlhf_env.feedback.store import FeedbackStore

Label = Hashable
LabelTable = dict[str, dict[str, list[Label]]]
"""item_key → annotator → labels in the order given (several when an item was repeated)."""


# -- labels --------------------------------------------------------------------------------
def item_label(record: FeedbackRecord) -> tuple[str, Label] | None:
    """``(item_key, label)`` for agreement, or ``None`` for kinds without a label."""
    if isinstance(record, Comparison):
        pref = record.preference
        if record.response_a > record.response_b and pref != "tie":
            pref = "b" if pref == "a" else "a"
        return record.item_key(), pref
    if isinstance(record, Rating):
        return record.item_key(), record.score
    if isinstance(record, Ranking):
        return record.item_key(), tuple(tuple(sorted(g)) for g in record.groups)
    return None


def label_table(records: Iterable[FeedbackRecord]) -> LabelTable:
    """Group labels by item and annotator (demonstrations/corrections are skipped)."""
    table: LabelTable = defaultdict(lambda: defaultdict(list))
    for r in records:
        pair = item_label(r)
        if pair is not None:
            table[pair[0]][r.annotator].append(pair[1])
    return {k: dict(v) for k, v in table.items()}


def _first_labels(table: LabelTable) -> dict[str, dict[str, Label]]:
    """One label per (item, annotator): the first one given."""
    return {item: {a: labels[0] for a, labels in by.items()} for item, by in table.items()}


# -- agreement statistics -------------------------------------------------------------------
def cohen_kappa(labels_1: Sequence[Label], labels_2: Sequence[Label]) -> float:
    """Cohen's kappa of two annotators' labels of the same items (same order).

    ``κ = (p_o − p_e) / (1 − p_e)`` with observed agreement ``p_o`` and chance agreement
    ``p_e = Σ_k p_1k · p_2k`` from each annotator's label frequencies. Returns ``nan`` when
    chance agreement is 1 (both gave one and the same label to every item).
    """
    if len(labels_1) != len(labels_2):
        raise FeedbackError(
            f"cohen_kappa needs labels of the same items: got {len(labels_1)} and "
            f"{len(labels_2)} labels."
        )
    if not labels_1:
        raise FeedbackError("cohen_kappa needs at least one item labeled by both annotators.")
    cats = sorted(set(labels_1) | set(labels_2), key=repr)
    index = {c: i for i, c in enumerate(cats)}
    confusion = np.zeros((len(cats), len(cats)))
    for x, y in zip(labels_1, labels_2, strict=True):
        confusion[index[x], index[y]] += 1
    confusion /= confusion.sum()
    p_o = float(np.trace(confusion))
    p_e = float(confusion.sum(axis=1) @ confusion.sum(axis=0))
    if math.isclose(p_e, 1.0):
        return float("nan")
    return (p_o - p_e) / (1.0 - p_e)


def fleiss_kappa(counts: np.ndarray | Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa from an ``(items, categories)`` table of how many raters chose each.

    ``κ = (P̄ − P̄_e) / (1 − P̄_e)`` where ``P_i = (Σ_j n_ij² − n_i) / (n_i (n_i − 1))`` is
    item ``i``'s pairwise agreement, ``P̄`` their mean, and ``P̄_e = Σ_j p_j²`` with ``p_j``
    the share of all ratings in category ``j``. The textbook form has the same number of
    raters ``n_i`` per item; items rated by different numbers (each at least 2) use the same
    formulas. Returns ``nan`` when ``P̄_e`` is 1.
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        raise FeedbackError(
            f"fleiss_kappa needs a 2-D (items, categories) table, got {table.shape}."
        )
    if (table < 0).any():
        raise FeedbackError("fleiss_kappa: counts must be >= 0.")
    n_i = table.sum(axis=1)
    if (n_i < 2).any():
        raise FeedbackError("fleiss_kappa: every item needs at least 2 ratings.")
    p_i = ((table**2).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_j = table.sum(axis=0) / table.sum()
    p_bar, p_e = float(p_i.mean()), float((p_j**2).sum())
    if math.isclose(p_e, 1.0):
        return float("nan")
    return (p_bar - p_e) / (1.0 - p_e)


def rating_table(per_item: Iterable[Iterable[Label]]) -> tuple[np.ndarray, list[Label]]:
    """``(counts, categories)`` for :func:`fleiss_kappa` from each item's list of labels."""
    items = [list(labels) for labels in per_item]
    cats = sorted({x for labels in items for x in labels}, key=repr)
    index = {c: j for j, c in enumerate(cats)}
    counts = np.zeros((len(items), len(cats)), dtype=int)
    for i, labels in enumerate(items):
        for x in labels:
            counts[i, index[x]] += 1
    return counts, cats


@dataclass(frozen=True)
class AgreementSummary:
    """Inter-annotator agreement over items labeled by two or more annotators."""

    items: int
    """Items with labels from at least two different annotators."""
    percent_agreement: float
    """Share of annotator pairs (within an item) that gave the same label."""
    fleiss_kappa: float
    contradictory: int
    """Items where annotators gave different labels (all labels are kept)."""
    pairwise_kappa: dict[tuple[str, str], float] = field(default_factory=dict)
    """Cohen's kappa per annotator pair with at least ``min_shared`` shared items."""


def agreement(
    records: Iterable[FeedbackRecord], *, kind: str | None = None, min_shared: int = 5
) -> AgreementSummary:
    """Agreement of all annotators (first label per annotator and item) for one kind.

    Mixing kinds in one kappa makes no sense: pass ``kind`` when records hold several.
    """
    recs = [r for r in records if kind is None or kind == r.KIND]
    kinds = {r.KIND for r in recs if item_label(r) is not None}
    if len(kinds) > 1:
        raise FeedbackError(
            f"agreement over mixed kinds {sorted(kinds)}; pass kind='comparison' (or another)."
        )
    first = _first_labels(label_table(recs))
    multi = {k: v for k, v in first.items() if len(v) >= 2}
    if not multi:
        return AgreementSummary(0, float("nan"), float("nan"), 0)
    counts, _ = rating_table(v.values() for v in multi.values())
    n_i = counts.sum(axis=1)
    agree_pairs = ((counts * (counts - 1)).sum(axis=1) / 2).sum()
    all_pairs = (n_i * (n_i - 1) / 2).sum()
    return AgreementSummary(
        items=len(multi),
        percent_agreement=float(agree_pairs / all_pairs),
        fleiss_kappa=fleiss_kappa(counts),
        contradictory=int(((counts > 0).sum(axis=1) > 1).sum()),
        pairwise_kappa=_pairwise_kappa(multi, min_shared),
    )


def _pairwise_kappa(
    first: Mapping[str, Mapping[str, Label]], min_shared: int
) -> dict[tuple[str, str], float]:
    annotators = sorted({a for by in first.values() for a in by})
    out: dict[tuple[str, str], float] = {}
    for i, a in enumerate(annotators):
        for b in annotators[i + 1 :]:
            shared = [by for by in first.values() if a in by and b in by]
            if len(shared) >= min_shared:
                out[(a, b)] = cohen_kappa([s[a] for s in shared], [s[b] for s in shared])
    return out


# -- gold items and repeats ----------------------------------------------------------------
@dataclass(frozen=True)
class RateStat:
    """``hits`` out of ``total`` and their ratio (``nan`` when ``total`` is 0)."""

    hits: int
    total: int

    @property
    def rate(self) -> float:
        """``hits / total``."""
        return self.hits / self.total if self.total else float("nan")


def gold_answer_matches(
    record: FeedbackRecord, gold: Any, *, rating_tolerance: float = 0.5
) -> bool:
    """Whether ``record`` gives the known answer ``gold`` (a preference, score or groups)."""
    if isinstance(record, Comparison):
        return record.preference == gold
    if isinstance(record, Rating):
        return abs(record.score - float(gold)) <= rating_tolerance
    if isinstance(record, Ranking):
        want = [sorted([g] if isinstance(g, str) else g) for g in gold]
        return [sorted(g) for g in record.groups] == want
    raise FeedbackError(f"{record.KIND} records have no gold answer to check.")


def gold_accuracy(
    records: Iterable[FeedbackRecord],
    gold: Mapping[str, Any] | None = None,
    *,
    rating_tolerance: float = 0.5,
) -> dict[str, RateStat]:
    """Per-annotator accuracy on gold items.

    A record is a gold answer when its metadata has ``gold_answer`` (set by
    :meth:`FeedbackStore.complete` for gold queue items) or, if ``gold`` maps item keys to
    known answers, when its :meth:`~FeedbackRecord.item_key` is in ``gold``. Ratings count
    as correct within ``rating_tolerance`` of the gold score.
    """
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for r in records:
        answer = r.metadata.get("gold_answer")
        if answer is None and gold is not None:
            answer = gold.get(r.item_key())
        if answer is None:
            continue
        totals[r.annotator] += 1
        hits[r.annotator] += gold_answer_matches(r, answer, rating_tolerance=rating_tolerance)
    return {a: RateStat(hits[a], totals[a]) for a in sorted(totals)}


def self_consistency(records: Iterable[FeedbackRecord]) -> dict[str, RateStat]:
    """Per-annotator agreement with themselves on items they labeled more than once.

    Counts every pair of labels one annotator gave the same item; annotators without
    repeats are absent.
    """
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for by in label_table(records).values():
        for annotator, labels in by.items():
            for i, x in enumerate(labels):
                for y in labels[i + 1 :]:
                    totals[annotator] += 1
                    hits[annotator] += x == y
    return {a: RateStat(hits[a], totals[a]) for a in sorted(totals)}


def majority_agreement(records: Iterable[FeedbackRecord]) -> dict[str, RateStat]:
    """How often each annotator agrees with the majority of the *other* annotators.

    Leave-one-out: an annotator's own label never counts towards the majority; items where
    the others tie are skipped.
    """
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for by in _first_labels(label_table(records)).values():
        for annotator, label in by.items():
            others = Counter(v for a, v in by.items() if a != annotator).most_common(2)
            if not others or (len(others) == 2 and others[0][1] == others[1][1]):
                continue
            totals[annotator] += 1
            hits[annotator] += label == others[0][0]
    return {a: RateStat(hits[a], totals[a]) for a in sorted(totals)}


# -- reliability and weights ---------------------------------------------------------------
@dataclass(frozen=True)
class AnnotatorReliability:
    """Evidence about one annotator and the reliability pooled from it.

    ``reliability`` is the posterior mean of "this annotator's label is right" under a
    Beta(``prior``) prior, pooling gold hits, self-consistent repeat pairs and agreement
    with the others' majority as successes. ``weight = max(0, 2·reliability − 1)``: under
    symmetric label noise a label that is right with probability ``p`` carries a
    ``2p − 1`` share of signal, so a coin-flipping annotator gets weight 0.
    """

    annotator: str
    labels: int
    gold: RateStat
    consistency: RateStat
    majority: RateStat
    reliability: float
    weight: float


def reliability_scores(
    records: Iterable[FeedbackRecord],
    *,
    prior: tuple[float, float] = (2.0, 1.0),
    gold: Mapping[str, Any] | None = None,
) -> dict[str, AnnotatorReliability]:
    """Per-annotator reliability from gold accuracy, self-consistency and majority agreement.

    ``prior`` is the Beta(successes, failures) pseudo-count: the default (2, 1) starts every
    annotator at 2/3, so one lucky or unlucky label does not decide their weight.
    """
    recs = list(records)
    stats = (gold_accuracy(recs, gold), self_consistency(recs), majority_agreement(recs))
    labels = Counter(r.annotator for r in recs)
    out = {}
    for a in sorted(labels):
        g, c, m = (s.get(a, RateStat(0, 0)) for s in stats)
        hits = prior[0] + g.hits + c.hits + m.hits
        rel = hits / (sum(prior) + g.total + c.total + m.total)
        out[a] = AnnotatorReliability(a, labels[a], g, c, m, rel, max(0.0, 2 * rel - 1))
    return out


def annotator_weights(records: Iterable[FeedbackRecord], **kwargs: Any) -> dict[str, float]:
    """Annotator id → training weight (:attr:`AnnotatorReliability.weight`).

    Keyword arguments go to :func:`reliability_scores`. This is the
    ``annotator_weights`` mapping reward-model training accepts.
    """
    return {a: r.weight for a, r in reliability_scores(records, **kwargs).items()}


def record_weights(
    records: Sequence[FeedbackRecord], reliability: Mapping[str, AnnotatorReliability]
) -> np.ndarray:
    """Training weight per record (float32, shape ``(len(records),)``); unknown annotators get 1."""
    return np.array(
        [reliability[r.annotator].weight if r.annotator in reliability else 1.0 for r in records],
        dtype=np.float32,
    )


# -- gold and repeat items in the labeling queue -------------------------------------------
@dataclass(frozen=True)
class QueuePlan:
    """Item ids :func:`fill_queue` enqueued, by role."""

    items: list[int]
    gold: list[int]
    repeats: list[int]


def fill_queue(
    store: FeedbackStore,
    items: Sequence[Mapping[str, Any]],
    *,
    gold_items: Sequence[Mapping[str, Any]] = (),
    gold_rate: float = 0.0,
    repeat_rate: float = 0.0,
    seed: int | None = 0,
) -> QueuePlan:
    """Enqueue ``items`` with gold items mixed in and some items repeated later.

    Each item is a dict of :meth:`FeedbackStore.enqueue` arguments (``kind``, ``prompt``,
    ``responses``…); gold items also carry ``gold``. Gold items make up ``gold_rate`` of the
    resulting queue (drawn from ``gold_items``, reused if there are too few) at random
    positions; ``repeat_rate`` of the regular items are asked again after the annotator
    answered them.
    """
    if not 0.0 <= gold_rate < 1.0 or not 0.0 <= repeat_rate <= 1.0:
        raise FeedbackError(
            f"gold_rate must be in [0, 1) and repeat_rate in [0, 1], got {gold_rate}, "
            f"{repeat_rate}."
        )
    n_gold = round(gold_rate / (1.0 - gold_rate) * len(items))
    if n_gold and not gold_items:
        raise FeedbackError(f"gold_rate={gold_rate} needs gold_items with known answers.")
    if any(g.get("gold") is None for g in gold_items):
        raise FeedbackError("every gold item needs a 'gold' answer.")
    rng = np.random.default_rng(seed)
    rounds = -(-n_gold // max(len(gold_items), 1))  # reuse the pool only when it is short
    picks = [i for _ in range(rounds) for i in rng.permutation(len(gold_items))][:n_gold]
    pool = [dict(gold_items[i]) for i in picks]
    order = [("item", dict(it)) for it in items] + [("gold", g) for g in pool]
    plan = QueuePlan([], [], [])
    for j in rng.permutation(len(order)):
        role, spec = order[j]
        (plan.gold if role == "gold" else plan.items).append(store.enqueue(**spec))
    n_rep = round(repeat_rate * len(plan.items))
    for item_id in sorted(rng.choice(plan.items, size=n_rep, replace=False).tolist()):
        plan.repeats.append(store.enqueue_repeat(int(item_id)))
    return plan


# -- annotator sampling --------------------------------------------------------------------
def sample_annotators(
    annotators: Sequence[Annotator],
    k: int,
    *,
    strategy: Literal["uniform", "stratified"] = "uniform",
    by: str | None = None,
    allocation: Literal["equal", "proportional"] = "equal",
    seed: int | None = 0,
) -> list[Annotator]:
    """Pick ``k`` distinct annotators, uniformly or stratified by attribute ``by``.

    Stratified sampling splits annotators by ``attributes[by]`` (missing → ``None``) and
    takes ``k`` split ``"equal"``-ly across the groups (as far as each group's size allows)
    or in proportion to group sizes, so rare backgrounds are represented.
    """
    if not 0 <= k <= len(annotators):
        raise FeedbackError(f"cannot sample {k} of {len(annotators)} annotators.")
    rng = np.random.default_rng(seed)
    if strategy == "uniform":
        return [annotators[i] for i in sorted(rng.choice(len(annotators), k, replace=False))]
    if strategy != "stratified" or by is None:
        raise FeedbackError(
            "strategy must be 'uniform' or 'stratified' (stratified needs by='attribute')."
        )
    groups: dict[str, list[Annotator]] = defaultdict(list)
    for a in annotators:
        groups[json.dumps(a.attributes.get(by), sort_keys=True)].append(a)
    quota = _allocate(k, {g: len(v) for g, v in sorted(groups.items())}, allocation)
    picked: list[Annotator] = []
    for g, n in quota.items():
        members = groups[g]
        picked += [members[i] for i in sorted(rng.choice(len(members), n, replace=False))]
    return picked


def _allocate(k: int, sizes: Mapping[str, int], allocation: str) -> dict[str, int]:
    """Split ``k`` over groups (never more than a group has), largest remainders first."""
    if allocation not in ("equal", "proportional"):
        raise FeedbackError(f"allocation must be 'equal' or 'proportional', got {allocation!r}.")
    total = sum(sizes.values())
    quota = dict.fromkeys(sizes, 0)
    while sum(quota.values()) < k:
        open_groups = [g for g in sizes if quota[g] < sizes[g]]
        share = {
            g: (1.0 if allocation == "equal" else sizes[g] / total) * k - quota[g]
            for g in open_groups
        }
        quota[max(open_groups, key=lambda g: (share[g], -list(sizes).index(g)))] += 1
    return quota


__all__ = [
    "AgreementSummary",
    "AnnotatorReliability",
    "QueuePlan",
    "RateStat",
    "agreement",
    "annotator_weights",
    "cohen_kappa",
    "fill_queue",
    "fleiss_kappa",
    "gold_accuracy",
    "gold_answer_matches",
    "item_label",
    "label_table",
    "majority_agreement",
    "rating_table",
    "record_weights",
    "reliability_scores",
    "sample_annotators",
    "self_consistency",
]
