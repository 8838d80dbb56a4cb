"""Synthetic preferences over segments: the text labeler, with true returns as gold.

:class:`SegmentLabeler` is a :class:`~rlhf_env.feedback.learning.labelers.SyntheticLabeler` whose
gold scorer is the **true return** of each referenced segment (looked up in a
:class:`~rlhf_env.control.segments.SegmentBank`). Everything else is the text labeler's:
Boltzmann rationality (``temperature``, in return units), a slip probability
(``error_rate``; the classic setting is 10%), ties below ``tie_threshold``, populations of
annotators and their bias options (the text biases act on the reference strings, which all
have the same form, so they add a constant and change nothing — set them to study nothing
but noise). Records come out as ordinary :class:`~rlhf_env.feedback.records.Comparison`
records whose responses are segment references.

**Which pairs are worth a question** (:func:`pair_problem`, :func:`informative_pairs`,
:func:`pair_segments`): never two segments that look the same (same observations, see
:attr:`~rlhf_env.control.segments.Segment.view_key`), never two that both lie wholly in the
absorbing failure state (:attr:`~rlhf_env.control.segments.Segment.absorbed`: two still
pictures of the fallen pole, which teach nothing a person could tell apart), and never the
same pair twice in one batch. Every labeler here, synthetic or human, is asked only such
pairs; where too few exist, fewer questions are asked and the log says so.

    >>> import numpy as np
    >>> from rlhf_env.control.segments import Segment, SegmentBank
    >>> good = Segment(np.zeros((3, 1)), np.zeros(3), np.full((3, 1), 0.1), np.ones(3))
    >>> bad = Segment(np.ones((3, 1)), np.zeros(3), np.full((3, 1), 1.1), np.zeros(3))
    >>> labeler = SegmentLabeler(SegmentBank([good, bad]), error_rate=0.0, temperature=0.0)
    >>> labeler.compare_segments([(bad, good)])[0].chosen == good.ref
    True
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from rlhf_env.control.segments import Segment, SegmentBank
from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.learning.labelers import (
    ComparisonQuery,
    SyntheticLabeler,
    SyntheticLabelerConfig,
)
from rlhf_env.feedback.records import Comparison

log = logging.getLogger(__name__)

Pair = tuple[Segment, Segment]

CLASSIC_ERROR_RATE = 0.1
"""The slip probability of the classic synthetic-preference setting (10%)."""

SEGMENT_PROMPT = "Which clip shows better behaviour?"
"""The "prompt" of every segment comparison (records need one; the trainer ignores it)."""


def segment_query(a: Segment, b: Segment, task: str = "control") -> ComparisonQuery:
    """A comparison query over two segments (responses are their reference strings)."""
    return ComparisonQuery(SEGMENT_PROMPT, a.ref, b.ref, task)


def pair_problem(a: Segment, b: Segment) -> str | None:
    """Why comparing ``a`` with ``b`` would teach nothing (``None``: it is a fair question).

    >>> import numpy as np
    >>> fallen = np.tile([0.0, 0.0, 0.4, 0.0], (3, 1))
    >>> down = Segment(fallen, np.zeros(3), fallen, np.zeros(3))
    >>> pair_problem(down, Segment(fallen, np.ones(3), fallen, np.zeros(3)))
    'the two look identical'
    """
    if a.view_key == b.view_key:
        return "the two look identical"
    if a.absorbed and b.absorbed:
        return "both lie wholly in the absorbing (failure) state"
    return None


def pair_key(a: Segment, b: Segment) -> frozenset[str]:
    """What makes two questions the same one: the pair of views, in either order."""
    return frozenset((a.view_key, b.view_key))


def informative_pairs(pairs: Sequence[Pair], seen: set[frozenset[str]] | None = None
                      ) -> list[Pair]:
    """``pairs`` without those :func:`pair_problem` rejects and without repeats (the first
    of each :func:`pair_key` is kept; keys in ``seen`` count as asked already, and the kept
    ones are added to it)."""
    seen = set() if seen is None else seen
    out = []
    for a, b in pairs:
        key = pair_key(a, b)
        if key not in seen and pair_problem(a, b) is None:
            seen.add(key)
            out.append((a, b))
    return out


def pair_segments(segments: Sequence[Segment], n: int, rng: np.random.Generator,
                  max_tries: int = 8) -> list[Pair]:
    """Up to ``n`` distinct informative pairs of ``segments``: neighbours ``(0, 1), (2, 3)…``
    first (independent draws), then, for what is missing, random partners of segments that
    are not absorbed (about ``max_tries`` draws per missing pair). Fewer than ``n`` come
    back only when the segments cannot make more (e.g. all of them fallen); the log says so
    (at INFO: a candidate pool may be short and still hold every question a round asks).
    """
    seen: set[frozenset[str]] = set()
    pairs = informative_pairs(list(zip(segments[0::2], segments[1::2], strict=False)), seen)
    live = [s for s in segments if not s.absorbed]
    tries = max_tries * max(n - len(pairs), 0)
    while len(pairs) < n and live and tries > 0:
        tries -= 1
        a = live[int(rng.integers(len(live)))]
        b = segments[int(rng.integers(len(segments)))]
        pairs += informative_pairs([(a, b)], seen)
    if len(pairs) < n:
        fallen = len(segments) - len(live)
        log.info("only %d informative segment pairs for %d wanted: %d of %d segments lie "
                 "wholly in the failure state and identical-looking pairs are never asked",
                 len(pairs), n, fallen, len(segments))
    return pairs[:n]


class SegmentLabeler:
    """Labels segment pairs by their true returns (see the module docstring).

    Args:
        bank: where the referenced segments live.
        config: a full :class:`SyntheticLabelerConfig` (overrides the two shortcuts below).
        temperature: Boltzmann temperature in return units (0: always the higher return).
        error_rate: probability of flipping the answer (slips).
        tie_threshold: returns closer than this are answered ``tie`` (by default only equal
            returns, e.g. two CartPole segments spent wholly in the failure state: a tie
            teaches "equally bad" instead of a coin flip).
        seed: seed of the labeler's random generator.
        task: task name written into the records.
    """

    def __init__(self, bank: SegmentBank, config: SyntheticLabelerConfig | None = None, *,
                 temperature: float = 1.0, error_rate: float = CLASSIC_ERROR_RATE,
                 tie_threshold: float = 1e-6, seed: int | None = 0, task: str = "control"
                 ) -> None:
        self.bank = bank
        self.config = config or SyntheticLabelerConfig(
            temperature=temperature, error_rate=error_rate, tie_threshold=tie_threshold,
            annotator_id="synthetic-return")
        self.labeler = SyntheticLabeler(self._gold, self.config, seed=seed, task=task)
        self.task = task

    def _gold(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return self.bank.true_returns(responses).astype(np.float32)

    @property
    def annotators(self) -> Any:
        """Annotator records of the simulated population."""
        return self.labeler.annotators

    def label(self, queries: Sequence[ComparisonQuery]) -> list[Comparison]:
        """One :class:`Comparison` per query, in order."""
        return [r for r in self.labeler.label(queries) if isinstance(r, Comparison)]

    def compare_segments(self, pairs: Sequence[tuple[Segment, Segment]]) -> list[Comparison]:
        """Label ``(a, b)`` segment pairs (added to the bank); pairs that teach nothing
        (:func:`pair_problem`) and repeats are skipped."""
        kept = informative_pairs(pairs)
        if len(kept) < len(pairs):
            log.info("skipped %d of %d segment pairs (identical-looking, both fallen or "
                     "repeated)", len(pairs) - len(kept), len(pairs))
        pairs = kept
        self.bank.add(s for pair in pairs for s in pair)
        return self.label([segment_query(a, b, self.task) for a, b in pairs])


def demonstration_comparisons(expert: Sequence[Segment], policy: Sequence[Segment],
                              bank: SegmentBank, *, task: str = "control",
                              annotator: str = "demonstration") -> list[Comparison]:
    """Expert segments as preferred examples: one ``expert ≻ policy`` comparison per pair.

    The control form of "demonstration ≻ policy sample": pass segments of a demonstrator
    (a person driving the env, a scripted controller) and as many segments of the current
    policy; both are added to ``bank`` and the records train like any other comparison.
    """
    if len(expert) != len(policy):
        raise FeedbackError(f"got {len(expert)} expert segments but {len(policy)} policy "
                            "segments; pair each demonstration with one policy segment.")
    bank.add([*expert, *policy])
    return [Comparison(SEGMENT_PROMPT, e.ref, p.ref, "a", annotator=annotator, task=task,
                       metadata={"labeler": "demonstration"})
            for e, p in zip(expert, policy, strict=True) if e.id != p.id]


__all__ = ["CLASSIC_ERROR_RATE", "SEGMENT_PROMPT", "SegmentLabeler",
           "demonstration_comparisons", "informative_pairs", "pair_key", "pair_problem",
           "pair_segments", "segment_query"]
