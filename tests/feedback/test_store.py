"""FeedbackStore: queries, duplicates, append-only history, the labeling queue."""

from __future__ import annotations

import sqlite3

import pytest

from rlhf_env.errors import ConfigError, FeedbackError
from rlhf_env.feedback.records import Annotator, Comparison, Rating
from rlhf_env.feedback.store import FeedbackStore


def comp(i: int, annotator: str = "a1", task: str = "t", ts: float = 1000.0, pref="a"):
    return Comparison(f"p{i}", "x", "y", pref, annotator=annotator, task=task, timestamp=ts)


@pytest.fixture
def store(tmp_path):
    with FeedbackStore(tmp_path / "fb.sqlite") as s:
        yield s


def test_file_store_uses_wal_and_persists(tmp_path):
    path = tmp_path / "sub" / "fb.sqlite"
    with FeedbackStore(path) as s:
        s.add(comp(1))
        mode = s._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    with FeedbackStore(path) as s:
        assert s.records() == [comp(1)]


def test_queries_by_kind_task_annotator_and_time(store):
    store.add_many(
        [
            comp(1, "a1", "t1", 100.0),
            comp(2, "a2", "t1", 200.0),
            comp(3, "a1", "t2", 300.0),
            Rating("p", "r", 3, annotator="a2", task="t2", timestamp=400.0),
        ]
    )
    assert store.count() == 4
    assert store.count("comparison") == 3
    assert store.count("rating", task="t2") == 1
    assert [r.prompt for r in store.iter(annotator="a1")] == ["p1", "p3"]
    assert [r.prompt for r in store.iter(since=200.0, until=400.0)] == ["p2", "p3"]
    assert store.count(since="1970-01-01T00:05:00Z") == 2  # since is inclusive: 300, 400
    assert store.count(since="1970-01-01T00:04:00") == 2  # naive ISO = UTC: 240 s → 300, 400
    assert store.tasks() == ["t1", "t2"]
    with pytest.raises(FeedbackError, match="unknown record kind 'vote'"):
        store.count("vote")


def test_duplicates_skip_keep_raise(tmp_path):
    s = FeedbackStore(tmp_path / "a.sqlite")
    assert s.add(comp(1)) is True
    assert s.add(comp(1)) is False
    assert s.add_many([comp(1), comp(2), comp(2)]) == 1
    assert s.count() == 2
    keep = FeedbackStore(tmp_path / "b.sqlite", on_duplicate="keep")
    assert keep.add(comp(1)) and keep.add(comp(1))
    assert keep.count() == 2
    strict = FeedbackStore(":memory:", on_duplicate="raise")
    strict.add(comp(1))
    with pytest.raises(FeedbackError, match="duplicate comparison record"):
        strict.add(comp(1))
    with pytest.raises(ConfigError, match="on_duplicate"):
        FeedbackStore(":memory:", on_duplicate="drop")  # type: ignore[arg-type]


def test_contradictory_labels_are_both_kept(store):
    store.add_many([comp(1, "a1", pref="a"), comp(1, "a2", pref="b")])
    assert sorted(r.preference for r in store.iter()) == ["a", "b"]


def test_add_many_is_all_or_nothing(store):
    store.add(comp(0))
    bad = Comparison("p", "x", "y", "a", annotator="ghost")
    store.require_known_annotators = True
    store.add_annotator(Annotator("a1"))
    with pytest.raises(FeedbackError, match=r"unknown annotator 'ghost'.*add_annotator"):
        store.add_many([comp(1), comp(2), bad])
    assert store.count() == 1


def test_annotators_latest_attributes_win(store):
    store.add_annotator(Annotator("doc", {"expertise": "nurse"}))
    store.add_annotator(Annotator("law", {"expertise": "lawyer"}))
    store.add_annotator(Annotator("doc", {"expertise": "doctor"}))
    assert store.annotators() == [
        Annotator("doc", {"expertise": "doctor"}),
        Annotator("law", {"expertise": "lawyer"}),
    ]
    assert store.annotator("law").attributes == {"expertise": "lawyer"}
    with pytest.raises(FeedbackError, match="unknown annotator 'x'"):
        store.annotator("x")


def test_retract_and_supersede_append_rows(store):
    old = comp(1, pref="a")
    store.add(old)
    new = comp(1, pref="b", ts=2000.0)
    store.supersede(old.id, new, reason="typo")
    assert store.records() == [new]
    assert store.records(include_retracted=True) == [old, new]
    store.retract(new.content_hash[:10])
    assert store.count() == 0
    rows = store._conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    assert rows == 2  # nothing deleted or updated in place
    with pytest.raises(FeedbackError, match="no record with id"):
        store.retract("deadbeefdeadbeef")


def test_queue_next_complete_skip_and_resume(tmp_path):
    path = tmp_path / "q.sqlite"
    s = FeedbackStore(path)
    i1 = s.enqueue("comparison", "p1", ["x", "y"], task="t")
    i2 = s.enqueue("rating", "p2", ["r"], scale=(1, 5), gold=4)
    i3 = s.enqueue("comparison", "p3", ["x", "y"], priority=5.0)
    assert [it.item_id for it in s.pending("ann")] == [i3, i1, i2]
    assert s.pending_count("ann") == 3 and s.pending_count("ann", task="t") == 1
    item = s.next_pending("ann")
    assert item is not None and item.item_id == i3
    stored = s.complete(i3, Comparison("p3", "x", "y", "b", annotator="ann"))
    assert stored.metadata["queue_item"] == i3
    s.skip(i1, "ann")
    s.close()

    s = FeedbackStore(path)  # a new process would see the same
    item = s.next_pending("ann")
    assert item is not None and item.item_id == i2 and item.is_gold and item.scale == (1, 5)
    stored = s.complete(i2, Rating("p2", "r", 2, scale=(1, 5), annotator="ann"))
    assert stored.metadata == {"queue_item": i2, "gold_answer": 4}
    assert s.next_pending("ann") is None
    assert s.next_pending("other", task="t").item_id == i1  # type: ignore[union-attr]
    assert s.queue_status() == {
        "items": 3,
        "answers": 2,
        "skips": 1,
        "gold_items": 1,
        "repeat_items": 0,
    }


def test_queue_rejects_wrong_answers_and_double_answers(store):
    i = store.enqueue("comparison", "p", ["x", "y"])
    with pytest.raises(FeedbackError, match="asks for a comparison, got a rating"):
        store.complete(i, Rating("p", "x", 3, annotator="a"))
    store.complete(i, Comparison("p", "x", "y", "a", annotator="a"))
    with pytest.raises(FeedbackError, match="already done queue item"):
        store.complete(i, Comparison("p", "x", "y", "b", annotator="a"))
    assert store.count() == 1
    with pytest.raises(FeedbackError, match="needs 2 response"):
        store.enqueue("comparison", "p", ["x"])
    with pytest.raises(FeedbackError, match="needs a scale"):
        store.enqueue("rating", "p", ["x"])
    with pytest.raises(FeedbackError, match="unknown queue item kind"):
        store.enqueue("vote", "p", ["x"])


def test_queue_labels_wanted_and_repeats(store):
    i = store.enqueue("comparison", "p", ["x", "y"], labels_wanted=2)
    rep = store.enqueue_repeat(i)
    assert [it.item_id for it in store.pending("a")] == [i]  # repeat waits for the original
    store.complete(i, Comparison("p", "x", "y", "a", annotator="a"))
    assert [it.item_id for it in store.pending("a")] == [rep]
    assert [it.item_id for it in store.pending("b")] == [i]
    store.complete(i, Comparison("p", "x", "y", "a", annotator="b"))
    assert store.pending("c") == []  # two labels were wanted and given
    stored = store.complete(rep, Comparison("p", "x", "y", "tie", annotator="a"))
    assert stored.metadata["repeat_of"] == i
    assert store.integrity_check() == "ok"


def test_store_is_plain_sqlite(tmp_path):
    path = tmp_path / "fb.sqlite"
    with FeedbackStore(path) as s:
        s.add(comp(1))
    con = sqlite3.connect(path)
    assert con.execute("SELECT kind, task FROM records").fetchall() == [("comparison", "t")]


def test_iter_pages_through_large_stores(monkeypatch, store):
    monkeypatch.setattr("rlhf_env.feedback.store._PAGE", 7)
    store.add_many([comp(i, ts=float(i)) for i in range(30)])
    store.retract(comp(3, ts=3.0).id)
    prompts = [r.prompt for r in store.iter(since=1.0)]
    assert prompts == [f"p{i}" for i in range(1, 30) if i != 3]
