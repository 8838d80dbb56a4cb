"""Bad input to the feedback layer: stores, queue items, answers, records and files."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlhf_env.errors import FeedbackError, StoreError
from rlhf_env.feedback import Comparison, Rating
from rlhf_env.feedback.io import export_jsonl, import_jsonl
from rlhf_env.feedback.records import Annotator, Ranking, record_from_dict
from rlhf_env.feedback.store import FeedbackStore

# -- store files ---------------------------------------------------------------------------


def _foreign(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()
    return path


def _newer(path):
    with FeedbackStore(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    return path


def _truncated(path):
    with FeedbackStore(path) as store:
        store.add_many([Comparison(f"p{i}", "x" * 500, "y" * 500, "a") for i in range(50)])
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: p.write_text('{"kind": "comparison"}\n') and p, ["not a feedback store",
                                                                "not an SQLite file"]),
    (lambda p: p.write_bytes(b"\x00" * 64) and p, ["not an SQLite file"]),
    (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x01" * 20) and p, ["truncated"]),
    (_foreign, ["not a feedback store", "users"]),
    (_newer, ["newer rlhf-env", "schema 99", "Upgrade"]),
    (_truncated, ["corrupt", "feedback check"]),
])
@pytest.mark.parametrize("read_only", [False, True])
def test_foreign_corrupt_and_newer_files_are_refused_naming_the_path(tmp_path, make, words,
                                                                     read_only):
    path = make(tmp_path / "fb.sqlite")
    with pytest.raises(StoreError) as info:
        store = FeedbackStore(path, read_only=read_only)
        store.count()  # a corrupt page may only show on the first read
    assert str(path) in str(info.value)
    assert any(w in str(info.value) for w in words), str(info.value)


def test_a_folder_is_not_a_store(tmp_path):
    with pytest.raises(StoreError, match="is a folder"):
        FeedbackStore(tmp_path)


def test_read_only_store_reads_and_refuses_writes(tmp_path):
    path = tmp_path / "fb.sqlite"
    with FeedbackStore(path) as store:
        store.add(Comparison("p", "x", "y", "a"))
    before = path.read_bytes()
    with FeedbackStore(path, read_only=True) as store:
        assert store.count() == 1 and store.check() == []
        with pytest.raises(StoreError, match="opened read-only"):
            store.add(Comparison("p", "x", "z", "a"))
    with pytest.raises(StoreError, match="no feedback store"):
        FeedbackStore(tmp_path / "missing.sqlite", read_only=True)
    assert path.read_bytes() == before


def test_check_finds_orphan_queue_entries_and_unreadable_records(tmp_path):
    path = tmp_path / "fb.sqlite"
    with FeedbackStore(path) as store:
        item = store.enqueue("comparison", "p", ["x", "y"])
        store.complete(item, Comparison("p", "x", "y", "a", annotator="ann"))
        assert store.check() == []
        store._conn.execute("PRAGMA foreign_keys=OFF")
        store._conn.execute("INSERT INTO queue_done VALUES (77, 'ann', 'done', 'nope', 0)")
        store._conn.execute("UPDATE records SET data = '{\"kind\": \"comparison\"}'")
        problems = store.check()
    text = " | ".join(problems)
    assert "refer to a missing queue item" in text and "do not parse" in text
    assert "refer to a missing record" in text


# -- queue items and answers -------------------------------------------------------------
@pytest.mark.parametrize(("args", "kwargs", "words"), [
    (("comparison", "p", ["same", "same"]), {}, ["must all differ"]),
    (("ranking", "p", ["a", "b", "a"]), {}, ["must all differ"]),
    (("comparison", "p", "xy"), {}, ["list of texts"]),
    (("rating", "p", ["r"]), {"scale": ("a", 5)}, ["scale min", "'a'"]),
    (("rating", "p", ["r"]), {"scale": (1, math.nan)}, ["scale max", "nan"]),
    (("rating", "p", ["r"]), {"scale": (1, 5), "gold": 9}, ["gold 9", "outside", "[1, 5]"]),
    (("rating", "p", ["r"]), {"scale": (1, 5), "gold": "high"}, ["gold", "'high'"]),
    (("comparison", "p", ["x", "y"]), {"gold": "c"}, ["gold must be 'a', 'b' or 'tie'"]),
    (("ranking", "p", ["x", "y"]), {"gold": [["x"], ["z"]]}, ["every response", "once"]),
    (("comparison", "p", ["x", "y"]), {"labels_wanted": 1.5}, ["labels_wanted", "1.5"]),
    (("comparison", "p", ["x", "y"]), {"labels_wanted": 0}, ["labels_wanted", ">= 1"]),
    (("comparison", "p", ["x", "y"]), {"priority": math.inf}, ["priority", "inf"]),
    (("comparison", "p", ["x", "y"]), {"task": ""}, ["task"]),
    (("comparison", "p", ["x", "y"]), {"metadata": {"v": math.nan}}, ["metadata", "finite"]),
    (("comparison", "p\ud800", ["x", "y"]), {}, ["UTF-8"]),
])
def test_queue_items_no_labeler_could_answer_are_refused(args, kwargs, words):
    store = FeedbackStore()
    with pytest.raises(FeedbackError) as info:
        store.enqueue(*args, **kwargs)
    for word in words:
        assert word in str(info.value)
    assert store.queue_items() == []


@pytest.mark.parametrize(("item", "answer", "words"), [
    (("comparison", "p", ["x", "y"], {}), Comparison("other", "x", "y", "a", annotator="a"),
     ["another prompt"]),
    (("comparison", "p", ["x", "y"], {}), Comparison("p", "x", "z", "a", annotator="a"),
     ["other responses"]),
    (("rating", "p", ["r"], {"scale": (1, 5)}), Rating("p", "r", 3, scale=(1, 7), annotator="a"),
     ["scale", "(1.0, 7.0)"]),
    (("rating", "p", ["r"], {"scale": (1, 5)}), Comparison("p", "x", "y", "a", annotator="a"),
     ["asks for a rating"]),
    (("ranking", "p", ["x", "y", "z"], {}), Ranking("p", [["x"], ["y"]], annotator="a"),
     ["other responses"]),
])
def test_complete_refuses_an_answer_about_something_else(item, answer, words):
    store = FeedbackStore()
    kind, prompt, responses, kwargs = item
    item_id = store.enqueue(kind, prompt, responses, **kwargs)
    with pytest.raises(FeedbackError) as info:
        store.complete(item_id, answer)
    for word in words:
        assert word in str(info.value)
    assert store.count() == 0 and store.pending_count("a") == 1


def test_a_swapped_comparison_still_answers_its_item():
    store = FeedbackStore()
    item_id = store.enqueue("comparison", "p", ["x", "y"])
    store.complete(item_id, Comparison("p", "y", "x", "b", annotator="a"))
    assert store.count() == 1


# -- records and files ---------------------------------------------------------------------
@pytest.mark.parametrize(("build", "words"), [
    (lambda: Comparison("p\ud800", "x", "y", "a"), ["prompt", "UTF-8", "surrogate"]),
    (lambda: Comparison("p", "x", "y", "a", metadata={"s": math.nan}), ["metadata", "finite"]),
    (lambda: Rating("p", "r", math.inf, scale=(1, 5)), ["score", "finite"]),
    (lambda: Rating("p", "r", "4", scale=(1, 5)), ["score", "'4'"]),
    (lambda: Comparison("p", "x", "x", "a"), ["identical"]),
    (lambda: Ranking("p", [["x"], ["x", "y"]]), ["listed twice"]),
    (lambda: Annotator("a", {"age": math.inf}), ["attributes", "finite"]),
])
def test_bad_records_raise_feedback_error(build, words):
    with pytest.raises(FeedbackError) as info:
        build()
    for word in words:
        assert word in str(info.value)


def _line(**changes):
    return json.dumps({**Comparison("p", "x", "y", "a", timestamp=1.0).to_dict(), **changes})


@pytest.mark.parametrize(("raw", "words"), [
    (_line().encode() + b"\n" + b'{"kind": "comparison", "prompt": "caf\xe9"}\n',
     ["line 3", "not UTF-8", "0xe9"]),
    ((_line() + "\n" + _line(strength=None).replace("null", "NaN") + "\n").encode(),
     ["line 3", "NaN is not valid JSON"]),
    ((_line() + "\n" + _line(prompt="p\ud800") + "\n").encode(), ["line 3", "UTF-8"]),
])
def test_import_names_the_line_and_writes_nothing(tmp_path, raw, words):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"kind": "annotator", "id": "ann1"}\n' + raw)
    store = FeedbackStore()
    with pytest.raises(FeedbackError) as info:
        import_jsonl(store, path)
    for word in words:
        assert word in str(info.value)
    assert store.count() == 0 and store.annotators() == []


def test_import_registers_annotators_in_the_records_transaction(tmp_path, monkeypatch):
    path = tmp_path / "in.jsonl"
    path.write_text('{"kind": "annotator", "id": "ann1"}\n' + _line(annotator="ann1") + "\n")
    store = FeedbackStore()
    real = store._insert

    def fail(*args):
        real(*args)
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_insert", fail)
    with pytest.raises(RuntimeError):
        import_jsonl(store, path)
    assert store.annotators() == [] and store.count() == 0


def test_export_is_strict_json(tmp_path):
    store = FeedbackStore()
    store.add(Comparison("p", "x", "y", "a", strength=2.0))
    out = tmp_path / "out.jsonl"
    export_jsonl(store, out)
    for line in out.read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in export"))


_text = st.one_of(st.text(max_size=6), st.integers(), st.none(), st.floats())
_record = st.fixed_dictionaries({"kind": st.sampled_from(["comparison", "rating", "ranking",
                                                          "nope"])},
                                optional={"prompt": _text, "response_a": _text,
                                          "response_b": _text, "preference": _text,
                                          "response": _text, "score": _text,
                                          "scale": st.lists(_text, max_size=3),
                                          "groups": st.lists(st.lists(_text, max_size=2),
                                                             max_size=3),
                                          "timestamp": _text, "annotator": _text})


@settings(max_examples=300, deadline=None)
@given(data=_record)
def test_fuzzed_records_parse_or_raise_feedback_error(data):
    try:
        record = record_from_dict(data)
    except FeedbackError:
        return
    json.dumps(record.to_dict(), allow_nan=False)  # whatever parses exports as strict JSON
    FeedbackStore().add(record)
