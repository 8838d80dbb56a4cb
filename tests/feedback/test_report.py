"""Feedback report numbers, text/Markdown/HTML output and plots."""

from __future__ import annotations

import pytest

from rlhf_env.errors import ConfigError
from rlhf_env.feedback.records import Annotator, Comparison, Demonstration, Rating
from rlhf_env.feedback.report import (
    build_report,
    format_text,
    label_seconds,
    to_markdown,
    write_report,
)
from rlhf_env.feedback.store import FeedbackStore


@pytest.fixture
def store():
    s = FeedbackStore(":memory:")
    s.add_annotator(Annotator("u1", {"expertise": "doctor"}))
    t = 1000.0
    for i in range(4):  # u1 and u2 agree on p0, p1; contradict on p2, p3
        for ann, pref in (("u1", "a"), ("u2", "a" if i < 2 else "b")):
            t += 10.0
            s.add(Comparison(f"p{i}", "x", "y", pref, annotator=ann, task="t1", timestamp=t))
    s.add(Rating("p0", "x", 5, annotator="u3", task="t2", timestamp=t, duration_s=4.0))
    s.add(Demonstration("p9", "hello", annotator="u3", task="t2", timestamp=t + 1))
    i = s.enqueue("comparison", "g", ["right", "wrong"], gold="a", labels_wanted=2)
    s.complete(i, Comparison("g", "right", "wrong", "a", annotator="u1", timestamp=t + 2))
    s.complete(i, Comparison("g", "right", "wrong", "b", annotator="u2", timestamp=t + 3))
    return s


def test_report_numbers(store):
    r = build_report(store)
    assert r.total == 12
    assert r.by_kind == {"comparison": 10, "rating": 1, "demonstration": 1}
    assert r.by_task == {"t1": 8, "default": 2, "t2": 2}
    assert r.by_annotator["u1"] == 5 and r.by_annotator["u3"] == 2
    assert r.distinct_prompts == 6  # p0..p3, p9, g
    assert r.distinct_items == 6  # 4 comparisons, the gold item, one rating
    assert r.items_multi_annotator == 5
    cmp = r.agreement["comparison"]
    assert (cmp.items, cmp.contradictory) == (5, 3)
    assert cmp.percent_agreement == pytest.approx(2 / 5)
    assert r.gold_accuracy() == {"u1": 1.0, "u2": 0.0}
    u1 = next(a for a in r.annotators if a.annotator == "u1")
    assert u1.attributes == {"expertise": "doctor"} and u1.labels == 5
    assert r.queue["gold_items"] == 1 and r.queue["answers"] == 2


def test_time_per_label_from_durations_and_gaps():
    recs = [
        Comparison("p", "x", "y", "a", annotator="u", timestamp=100.0),
        Comparison("q", "x", "y", "a", annotator="u", timestamp=112.0),
        Comparison("r", "x", "y", "a", annotator="u", timestamp=5000.0),  # a break
        Comparison("s", "x", "y", "a", annotator="u", timestamp=5001.0, duration_s=7.5),
        Comparison("p", "x", "y", "b", annotator="v", timestamp=101.0),
        Comparison("q", "x", "y", "b", annotator="v", timestamp=104.0),
    ]
    assert sorted(label_seconds(recs)) == [3.0, 7.5, 12.0]


def test_text_and_markdown_show_the_numbers(store):
    r = build_report(store)
    text = format_text(r)
    assert "records                             12" in text
    assert "comparison  5" in text.split("Agreement")[1]
    md = to_markdown(r, ["r_volume.png"])
    assert "| u2 | – | 5 | 0% (1) |" in md
    assert "![r_volume](r_volume.png)" in md


def test_write_markdown_and_html_with_plots(store, tmp_path):
    md = write_report(build_report(store), tmp_path / "out" / "report.md")
    assert (tmp_path / "out" / "report_volume.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out" / "report_quality.png").stat().st_size > 1000
    assert "](report_quality.png)" in md.read_text()
    page = write_report(build_report(store), tmp_path / "r.html", plots=False).read_text()
    assert page.startswith("<!DOCTYPE html>") and "<td>u1</td>" in page
    assert "<img" not in page
    with pytest.raises(ConfigError, match=r"must end in \.md or \.html"):
        write_report(build_report(store), tmp_path / "r.pdf")


def test_empty_store_report():
    r = build_report(FeedbackStore(":memory:"))
    assert r.total == 0 and r.agreement == {}
    assert "(none)" in format_text(r)
