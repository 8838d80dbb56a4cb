"""Benchmark reports: ``write_report(results, out)`` and ``compare(a, b)``.

``write_report`` writes into ``out`` (every file atomically)::

    summary.json      statistics (stats.Summary), over-optimisation fits, failures, notes
    results.csv       one row per run × eval point (suite, algorithm, task, seed, state, step…)
    results.md        per-task table, aggregate with CIs, P(X > Y), over-optimisation
    *.png             learning curves, aggregate intervals, performance profiles,
                      gold/proxy vs √KL with the fitted curves (needs matplotlib)
    index.html        all of the above on one page; no scripts, no CDN, text escaped

``compare(a, b)`` takes two report folders (``summary.json``) or run folders and lines up
their metrics with the differences ``b − a``.
"""

from __future__ import annotations

import csv
import html
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_env.bench.overopt import FORMS, Fit, curves, overoptimisation
from rlhf_env.bench.results import Results, load_results
from rlhf_env.bench.stats import DEFAULT_STATS, STATISTICS, StatsConfig, Summary, summarise
from rlhf_env.errors import BenchmarkError
from rlhf_env.files import json_safe, read_json, write_bytes, write_json, write_text

CSV_COLUMNS = ("suite", "algorithm", "task", "seed", "state", "step", "proxy", "gold", "kl",
               "sqrt_kl", "labels_used", "wall_time")


@dataclass(frozen=True)
class Table:
    """A titled table, rendered to Markdown and HTML alike."""

    title: str
    """Section heading."""
    headers: tuple[str, ...]
    """Column names."""
    rows: tuple[tuple[str, ...], ...]
    """Cells, already formatted."""

    def markdown(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        body = [line(self.headers), line(["---"] * len(self.headers))]
        body += [line(r) for r in self.rows] or [line(["(none)"] + [""] * (len(self.headers) - 1))]
        return f"## {self.title}\n\n" + "\n".join(body) + "\n"

    def html(self) -> str:
        e = html.escape
        head = "".join(f"<th>{e(h)}</th>" for h in self.headers)
        rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>"
                       for r in self.rows)
        return f"<h2>{e(self.title)}</h2>\n<table><tr>{head}</tr>{rows}</table>\n"


def fmt(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; ``–`` for None/NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}g}"
    return str(value)


def _ci(interval: Mapping[str, Any]) -> str:
    return (f"{fmt(interval.get('estimate'))} [{fmt(interval.get('low'))}, "
            f"{fmt(interval.get('high'))}]")


def _fitted_peak(row: Mapping[str, Any]) -> tuple[str, str]:
    """The fitted peak's gold and KL cells: ``beyond the data`` when the peak lies past the
    largest KL the run reached (a nearly flat fit puts it at absurd values; its location is
    not measured, only that the gold was still rising)."""
    if row.get("fitted_peak_extrapolated"):
        return "beyond the data", "beyond the data"
    return fmt(row.get("fitted_peak_gold")), fmt(row.get("fitted_peak_kl"))


def _gap_ratio(ref: Mapping[str, Any]) -> str:
    """``(one − zero) / SE`` of a reference row, ``–`` when either is unknown."""
    values = [ref.get(k) for k in ("one", "zero", "gap_se")]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        return "–"
    one, zero, se = (float(v) for v in values)  # type: ignore[arg-type]
    return fmt((one - zero) / se) if se else "–"


# ----------------------------------------------------------------------------- tables


def tables(summary: Mapping[str, Any]) -> list[Table]:
    """The report's tables from ``summary.json``'s body."""
    per_task = Table("Final gold per task", (
        "task", "algorithm", "runs", "failed", "unfinished", "gold mean", "gold std",
        "normalised IQM", "normalised mean", "proxy mean", "KL mean"), tuple(
        (r["task"], r["algorithm"], fmt(r["runs"]), fmt(r["failed"]), fmt(r["unfinished"]),
         fmt(r["final_gold_mean"]), fmt(r["final_gold_std"]), fmt(r.get("normalised_iqm")),
         fmt(r["normalised_mean"]), fmt(r["final_proxy_mean"]), fmt(r["final_kl_mean"]))
        for r in sorted(summary["per_task"], key=lambda r: (r["task"], r["algorithm"]))))
    conf = summary["config"]
    aggregated = {r["task"] for r in summary["per_task"] if r.get("in_aggregates", True)}
    level = f"{round(conf['confidence'] * 100)}%"
    agg = Table(f"Aggregate normalised score ({level} stratified-bootstrap CIs, "
                f"{conf['reps']} reps)",
                ("algorithm", "IQM", "median", "mean", "tasks", "runs"), tuple(
        (a, *(_ci(d[s]) for s in STATISTICS), fmt(d["tasks"]), fmt(d["runs"]))
        for a, d in sorted(summary["aggregate"].items())))
    improvement = Table(f"Probability of improvement P(X > Y) ({level} CI)",
                        ("X", "Y", "P(X > Y)", "tasks"), tuple(
        (p["x"], p["y"], _ci(p), fmt(p["tasks"])) for p in summary["improvement"]))
    refs = Table("Normalisation references", (
        "task", "zero", "from", "one", "from", "gap / SE", "in aggregates"), tuple(
        (t, fmt(r["zero"]), r["zero_from"], fmt(r["one"]), r["one_from"], _gap_ratio(r),
         "yes" if t in aggregated else "no")
        for t, r in sorted(summary["references"].items())))
    over = Table("Over-optimisation (gold gain vs d = √KL, Gao et al. 2022 fits)", (
        "task", "algorithm", "form", "α", "β", "R²", "observed peak gold", "KL at peak",
        "fitted peak gold", "fitted KL at peak"), tuple(
        (o["task"], o["algorithm"], o["form"], fmt(o["fits"][o["form"]]["alpha"]),
         fmt(o["fits"][o["form"]]["beta"]), fmt(o["fits"][o["form"]]["r2"]),
         fmt(o["observed_peak_gold"]), fmt(o["observed_peak_kl"]), *_fitted_peak(o))
        for o in summary.get("overoptimisation", [])))
    failures = Table("Runs that did not finish", ("algorithm", "task", "seed", "state", "error"),
                     tuple((f["algorithm"], f["task"], fmt(f["seed"]), f["state"],
                            (f["error"] or "")[:300]) for f in summary.get("failures", [])))
    return [per_task, agg, improvement, refs, over, failures]


# ----------------------------------------------------------------------------- plots


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _learning_curves(results: Results, plt: Any) -> bytes:
    tasks = results.task_names
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for algo in results.algorithms:
            runs = [r for r in results.done if r.task == task and r.algorithm == algo]
            if not runs:
                continue
            steps = sorted({p.step for r in runs for p in r.points})
            golds = [[p.gold for r in runs for p in r.points if p.step == s] for s in steps]
            mean = np.array([np.mean(g) for g in golds])
            std = np.array([np.std(g) for g in golds])
            ax.plot(steps, mean, label=algo)
            ax.fill_between(steps, mean - std, mean + std, alpha=0.2)
        ax.set(title=task, xlabel="step", ylabel="gold")
        ax.legend(fontsize=7)
    return _png(fig)


def _aggregate_plot(summary: Mapping[str, Any], plt: Any) -> bytes:
    algos = sorted(summary["aggregate"])
    fig, axes = plt.subplots(1, len(STATISTICS), figsize=(3.6 * len(STATISTICS),
                                                        0.5 + 0.45 * len(algos)), squeeze=False)
    for ax, stat in zip(axes[0], STATISTICS, strict=True):
        for i, algo in enumerate(algos):
            iv = summary["aggregate"][algo][stat]
            if iv["estimate"] is None:
                continue
            low, high = iv["low"], iv["high"]
            ax.plot([low, high], [i, i], lw=6, alpha=0.5)
            ax.plot([iv["estimate"]], [i], "k|", ms=14)
        ax.set_yticks(range(len(algos)), algos)
        ax.set(title=stat.upper() if stat == "iqm" else stat, xlabel="normalised score")
    return _png(fig)


def _profiles_plot(summary: Mapping[str, Any], plt: Any) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 3.4))
    taus = summary["profiles"]["taus"]
    for algo, fractions in sorted(summary["profiles"]["algorithms"].items()):
        ax.plot(taus, fractions, label=algo)
    ax.set(xlabel="normalised score τ", ylabel="fraction of runs > τ", ylim=(-0.02, 1.02))
    ax.legend(fontsize=7)
    return _png(fig)


def _overopt_plot(results: Results, task: str, analyses: Sequence[Mapping[str, Any]],
                  plt: Any) -> bytes:
    found = [c for c in curves(results) if c.task == task]
    forms = {a["algorithm"]: a["form"] for a in analyses if a["task"] == task}
    groups = [f for f in FORMS if any(forms.get(c.algorithm) == f for c in found)]
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 3.6), squeeze=False)
    for ax, form in zip(axes[0], groups, strict=True):
        right = ax.twinx()  # gold and proxy have their own units: one axis each
        for c in (c for c in found if forms.get(c.algorithm) == form):
            line = ax.plot(c.by_step[:, 1], c.by_step[:, 2], "o-", label=f"{c.algorithm} gold")
            right.plot(c.by_step[:, 1], c.by_step[:, 3], "s--", color=line[0].get_color(),
                       alpha=0.5, label=f"{c.algorithm} proxy (right)")
            fit_json = next(a for a in analyses if a["algorithm"] == c.algorithm
                            and a["task"] == task)["fits"][form]
            if fit_json["alpha"] is not None and fit_json["beta"] is not None:
                fit = Fit(form, fit_json["alpha"], fit_json["beta"], 0.0, 0)
                grid = np.linspace(0, max(float(c.d.max()), 1e-9) * 1.1, 100)
                ax.plot(grid, c.initial_gold + fit.predict(grid), ":",
                        color=line[0].get_color(), label=f"{c.algorithm} gold fit ({form})")
        title = "best-of-n" if form == "bon" else "RL"
        ax.set(title=f"{task}: {title}", xlabel="d = √KL", ylabel="gold score")
        right.set_ylabel("proxy score")
        handles = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7)
    fig.tight_layout()
    return _png(fig)


def write_plots(results: Results, summary: Mapping[str, Any], out: Path) -> list[str]:
    """Write the PNGs into ``out``; returns their file names (none without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    names: list[str] = []

    def save(name: str, data: bytes) -> None:
        write_bytes(out / name, data)
        names.append(name)

    if results.done:
        save("learning_curves.png", _learning_curves(results, plt))
    if summary["aggregate"]:
        save("aggregate.png", _aggregate_plot(summary, plt))
    if summary["profiles"]["taus"]:
        save("profiles.png", _profiles_plot(summary, plt))
    for task in sorted({o["task"] for o in summary["overoptimisation"]}):
        save(f"overopt_{task}.png", _overopt_plot(results, task, summary["overoptimisation"],
                                                  plt))
    return names


# ----------------------------------------------------------------------------- files


def _csv(results: Results) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in results.rows():
        kl = row["kl"]
        row["sqrt_kl"] = math.sqrt(max(kl, 0.0)) if kl is not None else None
        writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_COLUMNS})
    return buf.getvalue()


def _failures(results: Results) -> list[dict[str, Any]]:
    """Trials that are not done: failed ones with their error, and unfinished ones."""
    return [{"algorithm": r.algorithm, "task": r.task, "seed": r.seed, "state": r.state,
             "error": r.status.get("error"), "traceback": r.status.get("traceback")}
            for r in (*results.failed, *results.unfinished)]


def report_body(results: Results, config: StatsConfig = DEFAULT_STATS,
                forms: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``summary.json``'s body: statistics, over-optimisation, failures, notes."""
    summary: Summary = summarise(results, config)
    body = summary.to_json()
    body["overoptimisation"] = overoptimisation(results, forms)
    body["runs"] = {"total": len(results.runs), "done": len(results.done),
                    "failed": len(results.failed), "unfinished": len(results.unfinished)}
    body["failures"] = _failures(results)
    body["suites"] = sorted(results.manifests)
    revisions = results.revisions()
    body["revisions"] = {rev: len(keys) for rev, keys in revisions.items()}
    body["notes"] = [*body["notes"], *results.notes, *_revision_notes(revisions)]
    return json_safe(body, fallback=repr)


def _revision_notes(revisions: Mapping[str, Sequence[str]]) -> list[str]:
    """A note when the done runs ran at more than one revision of the package: how many at
    each, and on which tasks (``summary.json``'s ``revisions`` has the counts)."""
    if len(revisions) < 2:
        return []
    parts = []
    for rev, keys in sorted(revisions.items(), key=lambda kv: -len(kv[1])):
        tasks = sorted({k.split("/")[1] for k in keys})
        parts.append(f"{len(keys)} at {rev} ({', '.join(tasks)})")
    return ["the done runs ran at more than one revision of the package: " + "; ".join(parts)
            + ". Each trial's status.json names its own; the manifest's sweeps list when each "
              "revision ran."]


def _html(body: Mapping[str, Any], images: Sequence[str]) -> str:
    e = html.escape
    title = "Benchmark report: " + ", ".join(body["suites"] or ["(no manifest)"])
    runs = body["runs"]
    parts = [f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
             "img{max-width:100%}</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f"<p>{runs['done']} of {runs['total']} runs done, {runs['failed']} failed, "
             f"{runs['unfinished']} unfinished (running, interrupted or not started). "
             "Files: <a href='summary.json'>summary.json</a>, "
             "<a href='results.csv'>results.csv</a>, <a href='results.md'>results.md</a>.</p>"]
    parts += [t.html() for t in tables(body)]
    parts += [f"<h2>{e(name)}</h2><img src='{e(name)}' alt='{e(name)}'>" for name in images]
    if body["notes"]:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(str(n))}</li>"
                                                   for n in body["notes"]) + "</ul>")
    return "\n".join([*parts, "</body></html>\n"])


def write_report(results: Results | str | os.PathLike[str], out: str | os.PathLike[str], *,
                 config: StatsConfig = DEFAULT_STATS, forms: Mapping[str, Any] | None = None,
                 plots: bool = True) -> Path:
    """Write the report of ``results`` (or of the runs under that path) into ``out``."""
    if not isinstance(results, Results):
        results = load_results(results)
    out = Path(out)
    body = report_body(results, config, forms)
    write_json(out / "summary.json", body)
    write_text(out / "results.csv", _csv(results))
    md = ["# Benchmark report\n", *(t.markdown() for t in tables(body))]
    if body["notes"]:
        md.append("## Notes\n\n" + "".join(f"- {n}\n" for n in body["notes"]))
    write_text(out / "results.md", "\n".join(md))
    images = write_plots(results, body, out) if plots else []
    write_text(out / "index.html", _html(body, images))
    return out


# ----------------------------------------------------------------------------- compare


def _summary_of(path: Path) -> dict[str, Any]:
    found = read_json(path / "summary.json", default=None)
    if isinstance(found, dict) and "aggregate" in found:
        return found
    if not path.is_dir():
        raise BenchmarkError(f"{path} is neither a report folder (with summary.json) nor a "
                             f"folder of benchmark runs.")
    return report_body(load_results(path))


def metrics(body: Mapping[str, Any]) -> dict[str, float | None]:
    """Flat ``name → value`` of a summary: aggregates, per-task finals, observed peaks."""
    out: dict[str, float | None] = {}
    for algo, agg in sorted(body["aggregate"].items()):
        for stat in STATISTICS:
            out[f"{algo} {stat}"] = agg[stat]["estimate"]
    for r in sorted(body["per_task"], key=lambda r: (r["algorithm"], r["task"])):
        out[f"{r['algorithm']} / {r['task']} final gold"] = r["final_gold_mean"]
        out[f"{r['algorithm']} / {r['task']} normalised"] = r["normalised_mean"]
    for o in body.get("overoptimisation", []):
        out[f"{o['algorithm']} / {o['task']} peak gold"] = o["observed_peak_gold"]
    return out


@dataclass(frozen=True)
class Comparison:
    """Two summaries' metrics side by side."""

    a: str
    """First folder."""
    b: str
    """Second folder."""
    rows: tuple[tuple[str, float | None, float | None, float | None], ...]
    """``(metric, a, b, b − a)``; ``None`` where a side lacks the metric."""

    def table(self) -> Table:
        return Table(f"{self.a} vs {self.b}", ("metric", "A", "B", "B − A"),
                     tuple((m, fmt(x), fmt(y), fmt(d)) for m, x, y, d in self.rows))

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "rows": [
            {"metric": m, "a": x, "b": y, "diff": d} for m, x, y, d in self.rows]}


def compare(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> Comparison:
    """Metrics of two report folders or run folders, with ``b − a``."""
    ma, mb = metrics(_summary_of(Path(a))), metrics(_summary_of(Path(b)))
    rows = []
    for name in [*ma, *(k for k in mb if k not in ma)]:
        x, y = ma.get(name), mb.get(name)
        diff = y - x if x is not None and y is not None else None
        rows.append((name, x, y, diff))
    return Comparison(str(a), str(b), tuple(rows))
