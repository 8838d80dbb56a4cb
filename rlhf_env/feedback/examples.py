"""Example feedback that ships with rlhf-env, for trying things out before labelling.

:data:`EXAMPLE_COMPARISONS` is a JSONL file (the layout :func:`rlhf_env.feedback.import_jsonl`
reads) of 300 comparisons between one-line reviews of a café, a hotel, a film and so on,
made by three simulated annotators: each pair prefers the more positive review, except for
the slips people make (12% of close calls, 3% of clear ones). It is as small and as noisy
as a first labelling session. ``scripts/make_example_feedback.py`` writes it reproducibly.

    >>> from rlhf_env.feedback.io import read_jsonl
    >>> data = read_jsonl(EXAMPLE_COMPARISONS)
    >>> len(data.records), [a.id for a in data.annotators]
    (300, ['ann-1', 'ann-2', 'ann-3'])
"""

from __future__ import annotations

from pathlib import Path

EXAMPLE_COMPARISONS = (Path(__file__).resolve().parents[1] / "data" / "feedback"
                       / "reviews.jsonl")
"""300 comparisons of one-line reviews by three annotators (see the module docstring)."""

__all__ = ["EXAMPLE_COMPARISONS"]
