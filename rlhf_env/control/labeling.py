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

    >>> import numpy as np
    >>> from rlhf_env.control.segments import Segment, SegmentBank
    >>> good = Segment(np.zeros((3, 1)), np.zeros(3), np.zeros((3, 1)), np.ones(3))
    >>> bad = Segment(np.ones((3, 1)), np.zeros(3), np.ones((3, 1)), np.zeros(3))
    >>> labeler = SegmentLabeler(SegmentBank([good, bad]), error_rate=0.0, temperature=0.0)
    >>> labeler.compare_segments([(bad, good)])[0].chosen == good.ref
    True
"""

from __future__ import annotations

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

CLASSIC_ERROR_RATE = 0.1
"""The slip probability of the classic synthetic-preference setting (10%)."""

SEGMENT_PROMPT = "Which clip shows better behaviour?"
"""The "prompt" of every segment comparison (records need one; the trainer ignores it)."""


def segment_query(a: Segment, b: Segment, task: str = "control") -> ComparisonQuery:
    """A comparison query over two segments (responses are their reference strings)."""
    return ComparisonQuery(SEGMENT_PROMPT, a.ref, b.ref, task)


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
        """Label ``(a, b)`` segment pairs (added to the bank); pairs of one identical segment
        are skipped, since a comparison needs two different items."""
        pairs = [(a, b) for a, b in pairs if a.id != b.id]
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
           "demonstration_comparisons", "segment_query"]
