"""Feedback reports: volume, coverage, agreement, gold accuracy, annotators, time per label.

    >>> from rlhf_env.feedback.store import FeedbackStore
    >>> report = build_report(FeedbackStore(":memory:"))
    >>> report.total
    0

:func:`build_report` computes a :class:`FeedbackReport` from a store;
:func:`format_text` prints it for a terminal, and :func:`write_report` writes Markdown
(``.md``) or HTML (``.html``) with PNG plots next to it (matplotlib, imported lazily).

Time per label comes from each record's ``duration_s`` when the labeler recorded it;
otherwise from the gaps between one annotator's consecutive labels, ignoring gaps longer
than ``max_gap_s`` (breaks).
"""

from __future__ import annotations

import html
import io
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlhf_env.errors import ConfigError, MissingDependencyError
from rlhf_env.feedback.quality import (
    AgreementSummary,
    AnnotatorReliability,
    agreement,
    item_label,
    reliability_scores,
)
from rlhf_env.feedback.records import FeedbackRecord
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.files import write_bytes, write_text

_AGREEMENT_KINDS = ("comparison", "ranking", "rating")


@dataclass(frozen=True)
class AnnotatorStats:
    """One annotator's row of the report."""

    annotator: str
    labels: int
    median_seconds: float
    reliability: AnnotatorReliability
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedbackReport:
    """Everything the report shows (numbers only; see :func:`format_text`)."""

    source: str
    total: int
    by_kind: dict[str, int]
    by_task: dict[str, int]
    by_annotator: dict[str, int]
    distinct_prompts: int
    distinct_items: int
    labels_per_item: float
    items_multi_annotator: int
    agreement: dict[str, AgreementSummary]
    annotators: list[AnnotatorStats]
    median_seconds: float
    queue: dict[str, int]
    retracted: int

    def gold_accuracy(self) -> dict[str, float]:
        """Annotator → gold accuracy, for annotators who answered gold items."""
        return {
            a.annotator: a.reliability.gold.rate
            for a in self.annotators
            if a.reliability.gold.total
        }


# -- computing ------------------------------------------------------------------------------
def label_seconds(records: Sequence[FeedbackRecord], *, max_gap_s: float = 600.0) -> list[float]:
    """Seconds per label: ``duration_s`` where recorded, else gaps between one annotator's
    consecutive labels (gaps over ``max_gap_s`` are breaks and ignored)."""
    out: list[float] = []
    by_annotator: dict[str, list[FeedbackRecord]] = defaultdict(list)
    for r in records:
        by_annotator[r.annotator].append(r)
    for recs in by_annotator.values():
        recs = sorted(recs, key=lambda r: r.timestamp)
        for prev, cur in zip([None, *recs[:-1]], recs, strict=True):
            if cur.duration_s is not None:
                out.append(cur.duration_s)
            elif prev is not None and 0 < cur.timestamp - prev.timestamp <= max_gap_s:
                out.append(cur.timestamp - prev.timestamp)
    return out


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def build_report(store: FeedbackStore, *, max_gap_s: float = 600.0) -> FeedbackReport:
    """Compute the report numbers from every (non-retracted) record in ``store``."""
    records = store.records()
    keys = [item_label(r) for r in records]
    items = Counter(k[0] for k in keys if k is not None)
    annotators_per_item: dict[str, set[str]] = defaultdict(set)
    for r, k in zip(records, keys, strict=True):
        if k is not None:
            annotators_per_item[k[0]].add(r.annotator)
    attrs = {a.id: dict(a.attributes) for a in store.annotators()}
    rel = reliability_scores(records)
    return FeedbackReport(
        source=store.path,
        total=len(records),
        by_kind=dict(Counter(r.KIND for r in records).most_common()),
        by_task=dict(Counter(r.task for r in records).most_common()),
        by_annotator=dict(Counter(r.annotator for r in records).most_common()),
        distinct_prompts=len({getattr(r, "prompt", "") for r in records}),
        distinct_items=len(items),
        labels_per_item=sum(items.values()) / len(items) if items else float("nan"),
        items_multi_annotator=sum(len(s) >= 2 for s in annotators_per_item.values()),
        agreement={
            kind: agreement(records, kind=kind)
            for kind in _AGREEMENT_KINDS
            if any(kind == r.KIND for r in records)
        },
        annotators=[
            AnnotatorStats(
                a,
                rel[a].labels,
                _median(
                    label_seconds([r for r in records if r.annotator == a], max_gap_s=max_gap_s)
                ),
                rel[a],
                attrs.get(a, {}),
            )
            for a in sorted(rel)
        ],
        median_seconds=_median(label_seconds(records, max_gap_s=max_gap_s)),
        queue=store.queue_status(),
        retracted=store.count(include_retracted=True) - len(records),
    )


# -- rendering ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    """A titled table, rendered the same way in text, Markdown and HTML."""

    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


def _fmt(x: float, digits: int = 3) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _pct(stat_rate: float, total: int) -> str:
    return "–" if not total else f"{100 * stat_rate:.0f}% ({total})"


def sections(report: FeedbackReport) -> list[Section]:
    """The report as a list of tables."""
    q = report.queue
    overview = [
        ("records", str(report.total)),
        ("retracted records (hidden)", str(report.retracted)),
        ("distinct prompts", str(report.distinct_prompts)),
        ("distinct labeled items", str(report.distinct_items)),
        ("labels per item", _fmt(report.labels_per_item, 2)),
        ("items labeled by 2+ annotators", str(report.items_multi_annotator)),
        ("median seconds per label", _fmt(report.median_seconds, 1)),
        ("queue items / answers / skips", f"{q['items']} / {q['answers']} / {q['skips']}"),
        ("gold items / repeat items in queue", f"{q['gold_items']} / {q['repeat_items']}"),
    ]
    out = [Section("Overview", ("", "value"), overview)]
    for title, counts in (("By kind", report.by_kind), ("By task", report.by_task)):
        out.append(Section(title, ("", "records"), [(k, str(v)) for k, v in counts.items()]))
    out.append(
        Section(
            "Agreement",
            ("kind", "items (2+ annotators)", "% pair agreement", "Fleiss κ", "contradictory"),
            [
                (
                    k,
                    str(s.items),
                    _fmt(100 * s.percent_agreement, 1),
                    _fmt(s.fleiss_kappa),
                    str(s.contradictory),
                )
                for k, s in report.agreement.items()
            ],
        )
    )
    out.append(
        Section("Annotators", _ANNOTATOR_HEADERS, [_annotator_row(a) for a in report.annotators])
    )
    return out


_ANNOTATOR_HEADERS = (
    "annotator",
    "attributes",
    "labels",
    "gold accuracy",
    "self-consistency",
    "majority agreement",
    "reliability",
    "weight",
    "median s/label",
)


def _annotator_row(a: AnnotatorStats) -> tuple[str, ...]:
    r = a.reliability
    return (
        a.annotator,
        ", ".join(f"{k}={v}" for k, v in sorted(a.attributes.items())) or "–",
        str(a.labels),
        _pct(r.gold.rate, r.gold.total),
        _pct(r.consistency.rate, r.consistency.total),
        _pct(r.majority.rate, r.majority.total),
        _fmt(r.reliability, 2),
        _fmt(r.weight, 2),
        _fmt(a.median_seconds, 1),
    )


def format_text(report: FeedbackReport) -> str:
    """A plain-text report for the terminal."""
    lines = [f"Feedback report: {report.source}"]
    for s in sections(report):
        lines += ["", s.title, "-" * len(s.title)]
        table = [s.headers, *s.rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(s.headers))]
        for row in table:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if not s.rows:
            lines.append("(none)")
    return "\n".join(lines) + "\n"


def to_markdown(report: FeedbackReport, images: Sequence[str] = ()) -> str:
    """The report as Markdown, with ``images`` (relative paths) embedded at the end."""

    def esc(c: str) -> str:
        return c.replace("|", "\\|")

    lines = [f"# Feedback report\n\nStore: `{report.source}`"]
    for s in sections(report):
        lines += ["", f"## {s.title}", ""]
        if not s.rows:
            lines.append("(none)")
            continue
        lines.append("| " + " | ".join(map(esc, s.headers)) + " |")
        lines.append("|" + "---|" * len(s.headers))
        lines += ["| " + " | ".join(map(esc, row)) + " |" for row in s.rows]
    if images:
        lines += ["", "## Plots", ""] + [f"![{Path(i).stem}]({i})" for i in images]
    return "\n".join(lines) + "\n"


def to_html(report: FeedbackReport, images: Sequence[str] = ()) -> str:
    """The report as a standalone HTML page, with ``images`` (relative paths)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback report</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}"
        "</style></head><body>",
        f"<h1>Feedback report</h1><p>Store: <code>{e(report.source)}</code></p>",
    ]
    for s in sections(report):
        parts.append(f"<h2>{e(s.title)}</h2>")
        if not s.rows:
            parts.append("<p>(none)</p>")
            continue
        head = "".join(f"<th>{e(h)}</th>" for h in s.headers)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in s.rows)
        parts.append(f"<table><tr>{head}</tr>{body}</table>")
    for i in images:
        parts.append(f"<h2>{e(Path(i).stem)}</h2><img src='{e(i)}' alt='{e(Path(i).stem)}'>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# -- plots and files ------------------------------------------------------------------------
def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError(
            "matplotlib", "Report plots", "pip install matplotlib"
        ) from exc
    return plt


def _save_png(fig: Any, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    write_bytes(path, buffer.getvalue())


def write_plots(report: FeedbackReport, folder: Path, stem: str) -> list[Path]:
    """PNG plots: labels per annotator (by kind) and per-annotator quality. Returns paths."""
    plt = _pyplot()
    names = [a.annotator for a in report.annotators]
    paths = []
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(names) + 2), 3.2))
    ax.bar(names, [a.labels for a in report.annotators], color="#4c72b0")
    ax.set_ylabel("labels")
    ax.set_title("Labels per annotator")
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    paths.append(folder / f"{stem}_volume.png")
    _save_png(fig, paths[-1])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(names) + 2), 3.2))
    width = 0.27
    for j, (label, get) in enumerate(
        (
            ("gold accuracy", lambda r: r.gold.rate),
            ("self-consistency", lambda r: r.consistency.rate),
            ("reliability", lambda r: r.reliability),
        )
    ):
        xs = [i + (j - 1) * width for i in range(len(names))]
        ax.bar(xs, [get(a.reliability) for a in report.annotators], width, label=label)
    ax.set_xticks(range(len(names)), names, rotation=45)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylim(0, 1.05)
    ax.set_title("Annotator quality")
    ax.legend(fontsize="small")
    fig.tight_layout()
    paths.append(folder / f"{stem}_quality.png")
    _save_png(fig, paths[-1])
    plt.close(fig)
    return paths


def write_report(report: FeedbackReport, out: str | Path, *, plots: bool = True) -> Path:
    """Write ``out`` (``.md`` → Markdown, ``.html``/``.htm`` → HTML) and PNG plots next to it."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".md", ".markdown", ".html", ".htm"):
        raise ConfigError(f"report file {out.name!r} must end in .md or .html.")
    out.parent.mkdir(parents=True, exist_ok=True)
    images = write_plots(report, out.parent, out.stem) if plots and report.annotators else []
    rel = [p.name for p in images]
    text = to_markdown(report, rel) if suffix in (".md", ".markdown") else to_html(report, rel)
    write_text(out, text)
    return out


__all__ = [
    "AnnotatorStats",
    "FeedbackReport",
    "Section",
    "build_report",
    "format_text",
    "label_seconds",
    "sections",
    "to_html",
    "to_markdown",
    "write_plots",
    "write_report",
]
