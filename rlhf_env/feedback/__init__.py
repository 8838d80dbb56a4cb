"""Human (and synthetic, and AI) feedback: records, store, import/export, quality control.

The records in :mod:`rlhf_env.feedback.records` are the data every stage exchanges;
:class:`~rlhf_env.feedback.store.FeedbackStore` keeps them (SQLite, append-only).
Heavy or optional pieces (``datasets``, ``matplotlib``) are imported lazily.
"""

from __future__ import annotations

from rlhf_env.feedback.records import (
    RECORD_TYPES,
    Annotator,
    Comparison,
    Correction,
    Demonstration,
    FeedbackRecord,
    Ranking,
    Rating,
    Record,
    record_from_dict,
)

__all__ = [
    "RECORD_TYPES",
    "Annotator",
    "Comparison",
    "Correction",
    "Demonstration",
    "FeedbackRecord",
    "Ranking",
    "Rating",
    "Record",
    "record_from_dict",
]
