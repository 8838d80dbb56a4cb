"""Human (and synthetic, and AI) feedback: records, store, import/export, quality control.

The records in :mod:`rlhf_env.feedback.records` are the data every stage exchanges;
:class:`~rlhf_env.feedback.store.FeedbackStore` keeps them (SQLite, append-only) and holds
the labeling queue that the terminal labeler (``rlhf-env label``) works through. Learning
from that data (labelers, query selection, reward-model training and evaluation) lives in
:mod:`rlhf_env.feedback.learning`, which reads this package and is never read by it.

============================  ==========================================================
:mod:`~.records`              typed, validated, hashable feedback records
:mod:`~.store`                ``FeedbackStore`` (SQLite, WAL) and the labeling queue
:mod:`~.io`                   import/export files: ``read_feedback``, ``write_feedback``
:mod:`~.formats`              the row layouts (ours, TRL, TRL conversational, HH-RLHF)
:mod:`~.quality`              gold items, repeats, Cohen/Fleiss kappa, reliability weights
:mod:`~.report`               ``rlhf-env feedback report`` (text, Markdown, HTML, plots)
:mod:`~.terminal`             the terminal labeler
:mod:`~.cli`                  ``rlhf-env label`` and ``rlhf-env feedback …``
:mod:`~.examples`             :data:`EXAMPLE_COMPARISONS`, a small feedback file to try
============================  ==========================================================

Everything but the records loads on first use; optional packages (``datasets``,
``matplotlib``) load only when their feature is used.
"""

from __future__ import annotations

from rlhf_env._lazy import lazy_getattr
from rlhf_env.feedback.examples import EXAMPLE_COMPARISONS
from rlhf_env.feedback.records import (
    RECORD_TYPES,
    Annotator,
    Comparison,
    ControlCorrection,
    Correction,
    Demonstration,
    FeedbackRecord,
    Ranking,
    Rating,
    Record,
    record_from_dict,
)

__all__ = [
    "EXAMPLE_COMPARISONS",
    "FORMATS",
    "RECORD_TYPES",
    "Annotator",
    "Comparison",
    "ControlCorrection",
    "Correction",
    "Demonstration",
    "ExportResult",
    "FeedbackRecord",
    "FeedbackStore",
    "ImportResult",
    "QueueItem",
    "Ranking",
    "Rating",
    "Record",
    "TerminalLabeler",
    "build_report",
    "export_jsonl",
    "import_feedback",
    "import_hh_rlhf",
    "import_jsonl",
    "read_feedback",
    "record_from_dict",
    "write_feedback",
]

__getattr__ = lazy_getattr(
    __name__,
    {
        "FeedbackStore": "rlhf_env.feedback.store:FeedbackStore",
        "QueueItem": "rlhf_env.feedback.store:QueueItem",
        "TerminalLabeler": "rlhf_env.feedback.terminal:TerminalLabeler",
        "build_report": "rlhf_env.feedback.report:build_report",
        "export_jsonl": "rlhf_env.feedback.io:export_jsonl",
        "import_hh_rlhf": "rlhf_env.feedback.io:import_hh_rlhf",
        "import_jsonl": "rlhf_env.feedback.io:import_jsonl",
        "read_feedback": "rlhf_env.feedback.io:read_feedback",
        "write_feedback": "rlhf_env.feedback.io:write_feedback",
        "import_feedback": "rlhf_env.feedback.io:import_feedback",
        "ImportResult": "rlhf_env.feedback.io:ImportResult",
        "ExportResult": "rlhf_env.feedback.io:ExportResult",
        "FORMATS": "rlhf_env.feedback.formats:FORMATS",
    },
)
