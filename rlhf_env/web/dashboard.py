"""The admin dashboard's numbers: live volume, agreement, gold accuracy, self-consistency,
time per label, and flags on annotators who answer too fast or always pick one side.

The quality numbers are :func:`rlhf_env.feedback.report.build_report`'s (which uses
:mod:`rlhf_env.feedback.quality`); this module only adds what a *live* view needs: recent
volume, the queue's load and the two flags.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rlhf_env.feedback.records import Comparison, FeedbackRecord
from rlhf_env.feedback.report import FeedbackReport, build_report
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.web.config import ServeConfig


@dataclass(frozen=True)
class AnnotatorRow:
    """One annotator's line on the dashboard."""

    annotator: str
    labels: int
    median_seconds: float
    gold: str
    consistency: str
    left_share: float
    """Share of non-tie comparisons where the response shown on the left was picked."""
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard page shows (also served as JSON at ``/api/stats``)."""

    total: int
    last_5_min: int
    last_hour: int
    by_kind: dict[str, int]
    queue: dict[str, int]
    agreement: dict[str, dict[str, float]]
    median_seconds: float
    annotators: list[AnnotatorRow]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes ``None``)."""
        def clean(x: Any) -> Any:
            if isinstance(x, float) and not math.isfinite(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [clean(v) for v in x]
            if hasattr(x, "__dataclass_fields__"):
                return clean(dict(x.__dict__))
            return x
        return dict(clean(dict(self.__dict__)))


def side_counts(records: Sequence[FeedbackRecord]) -> dict[str, Counter[str]]:
    """Annotator → how often they picked the ``left``/``right`` screen side (non-tie
    comparisons that stored their ``shown_order``)."""
    out: dict[str, Counter[str]] = {}
    for r in records:
        order = r.metadata.get("shown_order")
        if not isinstance(r, Comparison) or r.preference == "tie" or not order:
            continue
        chosen = 0 if r.preference == "a" else 1
        side = "left" if order[0] == chosen else "right"
        out.setdefault(r.annotator, Counter())[side] += 1
    return out


def _rate(hits: int, total: int) -> str:
    return f"{hits}/{total} ({hits / total:.0%})" if total else "–"


def _flags(labels: int, median_s: float, sides: Counter[str], config: ServeConfig) -> tuple[
        str, ...]:
    flags = []
    if labels >= config.min_flag_labels and median_s < config.fast_label_s:
        flags.append(f"fast: median {median_s:.1f} s per label")
    decided = sides["left"] + sides["right"]
    if decided >= config.min_flag_labels:
        side, n = sides.most_common(1)[0]
        if n / decided >= config.one_side_share:
            flags.append(f"one side: picked {side} {n}/{decided}")
    return tuple(flags)


def _rows(report: FeedbackReport, records: Sequence[FeedbackRecord],
          config: ServeConfig) -> list[AnnotatorRow]:
    sides = side_counts(records)
    rows = []
    for a in report.annotators:
        s = sides.get(a.annotator, Counter())
        decided = s["left"] + s["right"]
        rel = a.reliability
        rows.append(AnnotatorRow(
            a.annotator, a.labels, a.median_seconds,
            _rate(rel.gold.hits, rel.gold.total),
            _rate(rel.consistency.hits, rel.consistency.total),
            s["left"] / decided if decided else float("nan"),
            _flags(a.labels, a.median_seconds, s, config),
        ))
    return rows


def build_dashboard(store: FeedbackStore, config: ServeConfig) -> Dashboard:
    """Compute the dashboard from the store now."""
    report = build_report(store)
    records = store.records()
    now = time.time()
    return Dashboard(
        total=report.total,
        last_5_min=sum(r.timestamp >= now - 300 for r in records),
        last_hour=sum(r.timestamp >= now - 3600 for r in records),
        by_kind=report.by_kind,
        queue={**report.queue, **store.queue_load()},
        agreement={k: {"items": v.items, "percent_agreement": v.percent_agreement,
                       "fleiss_kappa": v.fleiss_kappa}
                   for k, v in report.agreement.items()},
        median_seconds=report.median_seconds,
        annotators=_rows(report, records, config),
    )


__all__ = ["AnnotatorRow", "Dashboard", "build_dashboard", "side_counts"]
