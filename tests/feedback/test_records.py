"""Feedback records: validation messages, round trips, identity."""

from __future__ import annotations

import pytest

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.records import (
    Annotator,
    Comparison,
    Correction,
    Demonstration,
    Ranking,
    Rating,
    record_from_dict,
)

ENV = {"annotator": "ann1", "task": "sentiment", "timestamp": 1_700_000_000.0}


def all_kinds() -> list:
    return [
        Comparison("Say hi", "Hello!", "Go away.", "a", strength=2.0, **ENV),
        Ranking("Say hi", (("Hello!", "Hi!"), ("Go away.",)), **ENV),
        Rating("Say hi", "Hello!", 6, scale=(1, 7), **ENV),
        Demonstration("Say hi", "Hello there!", metadata={"segment": [0, 25]}, **ENV),
        Correction("Say hi", "Go away.", "Hello, welcome!", duration_s=3.5, **ENV),
    ]


@pytest.mark.parametrize("record", all_kinds(), ids=lambda r: r.KIND)
def test_round_trip_through_dict(record):
    data = record.to_dict()
    assert data["kind"] == record.KIND
    back = record_from_dict(data)
    assert back == record
    assert back.content_hash == record.content_hash
    assert hash(back) == hash(record)


def test_content_hash_changes_with_answer_and_annotator():
    c = Comparison("p", "x", "y", "a", **ENV)
    assert c.content_hash != Comparison("p", "x", "y", "b", **ENV).content_hash
    other = {**ENV, "annotator": "ann2"}
    assert c.content_hash != Comparison("p", "x", "y", "a", **other).content_hash
    assert len(c.id) == 16 and c.content_hash.startswith(c.id)


def test_item_key_ignores_answer_annotator_and_display_order():
    c = Comparison("p", "x", "y", "a", **ENV)
    assert c.item_key() == c.swapped().item_key()
    assert c.swapped().preference == "b" and c.swapped().chosen == "x"
    assert (
        c.item_key() == Comparison("p", "x", "y", "tie", annotator="z", task="sentiment").item_key()
    )
    assert c.item_key() != Comparison("p", "x", "w", "a", **ENV).item_key()


def test_comparison_chosen_rejected_and_tie():
    c = Comparison("p", "x", "y", "b")
    assert (c.chosen, c.rejected) == ("y", "x")
    t = Comparison("p", "x", "y", "tie")
    assert t.chosen is None and t.rejected is None


def test_ranking_ties_and_ranks():
    r = Ranking("p", (("a", "b"), ("c",)))
    assert r.responses == ("a", "b", "c")
    assert r.ranks == {"a": 0, "b": 0, "c": 1}
    assert Ranking.from_order("p", ["c", "a"]).ranks == {"c": 0, "a": 1}


def test_rating_normalized_and_iso_timestamp():
    r = Rating("p", "x", 4, scale=(1, 7), timestamp="2024-01-01T00:00:00Z")
    assert r.normalized == pytest.approx(0.5)
    assert r.timestamp == 1704067200.0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Comparison("p", "", "y", "a"), "response_a is empty"),
        (lambda: Comparison("p", "x", "x", "a"), "identical"),
        (lambda: Comparison("p", "x", "y", "A"), "unknown preference 'A'"),
        (lambda: Comparison("p", "x", "y", "a", strength=-1), "strength must be >= 0"),
        (lambda: Comparison(" ", "x", "y", "a"), "prompt is empty"),
        (lambda: Rating("p", "x", 8, scale=(1, 7)), "score 8 is outside the scale [1, 7]"),
        (lambda: Rating("p", "x", 0.5, scale=(1, 1)), "min must be below max"),
        (lambda: Rating("p", "x", float("nan")), "must be finite"),
        (lambda: Ranking("p", (("a",),)), "at least 2 responses"),
        (lambda: Ranking("p", (("a",), ("a",))), "listed twice"),
        (lambda: Ranking("p", (("a",), ())), "group 1 is empty"),
        (lambda: Correction("p", "same", "same"), "identical to original"),
        (lambda: Demonstration("p", "x", metadata={"f": object()}), "JSON-serialisable"),
        (lambda: Demonstration("p", "x", annotator=""), "annotator is empty"),
        (lambda: Demonstration("p", "x", timestamp="yesterday"), "not ISO-8601"),
        (lambda: Annotator(""), "id is empty"),
    ],
)
def test_invalid_records_raise_clear_errors(make, message):
    with pytest.raises(FeedbackError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_from_dict_rejects_unknown_and_missing_keys_and_kinds():
    data = Comparison("p", "x", "y", "a").to_dict()
    with pytest.raises(FeedbackError, match=r"unknown key.*'colour'"):
        record_from_dict({**data, "colour": "red"})
    del data["preference"]
    with pytest.raises(FeedbackError, match=r"missing key.*'preference'"):
        record_from_dict(data)
    with pytest.raises(FeedbackError, match="unknown record kind 'vote'"):
        record_from_dict({"kind": "vote"})


def test_annotator_round_trip_and_unknown_keys():
    a = Annotator("doc1", {"expertise": "doctor", "language": "en"})
    assert Annotator.from_dict(a.to_dict()) == a
    assert hash(a) == hash(Annotator.from_dict(a.to_dict()))
    with pytest.raises(FeedbackError, match=r"unknown key.*'age'"):
        Annotator.from_dict({"id": "x", "age": 3})
