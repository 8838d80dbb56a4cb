"""Import/export: JSONL (all-or-nothing, line numbers), HH-RLHF layout, HF datasets."""

from __future__ import annotations

import json
import sys

import pytest

from rlhf_env.errors import FeedbackError, MissingDependencyError
from rlhf_env.feedback.io import (
    export_jsonl,
    from_hf_dataset,
    import_hh_rlhf,
    import_jsonl,
    read_hh_rlhf,
    read_jsonl,
    split_hh_transcript,
    to_hf_dataset,
)
from rlhf_env.feedback.records import (
    Annotator,
    Comparison,
    Correction,
    Demonstration,
    Ranking,
    Rating,
)
from rlhf_env.feedback.store import FeedbackStore

ENV = {"annotator": "ann1", "task": "t", "timestamp": 1_700_000_000.0}


def sample_records():
    return [
        Comparison("Say hi", "Hello!", "Go away.", "a", strength=1.5, **ENV),
        Ranking("Say hi", (("Hello!", "Hi!"), ("Go away.",)), **ENV),
        Rating("Say hi", "Hello!", 6, scale=(1, 7), metadata={"src": "x"}, **ENV),
        Demonstration("Say hi", "Hello there!", duration_s=4.0, **ENV),
        Correction("Say hi", "Go away.", "Hello, welcome!", **ENV),
    ]


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_round_trip_through_store(tmp_path):
    src = FeedbackStore(":memory:")
    src.add_annotator(Annotator("ann1", {"expertise": "doctor"}))
    src.add_many(sample_records())
    path = tmp_path / "fb.jsonl"
    assert export_jsonl(src, path) == 5
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {"kind": "annotator", "id": "ann1", "attributes": {"expertise": "doctor"}}

    dst = FeedbackStore(":memory:")
    result = import_jsonl(dst, path)
    assert result.ok and result.added == 5
    assert dst.records() == sample_records()
    assert dst.annotators() == [Annotator("ann1", {"expertise": "doctor"})]
    assert import_jsonl(dst, path).added == 0  # same file again: all duplicates


def test_malformed_jsonl_is_all_or_nothing_with_line_numbers(tmp_path):
    good = json.dumps(sample_records()[0].to_dict())
    bad_key = json.dumps({**sample_records()[3].to_dict(), "colour": "red"})
    path = write_lines(tmp_path / "bad.jsonl", [good, "{not json", "", bad_key, good])
    store = FeedbackStore(":memory:")
    with pytest.raises(FeedbackError) as info:
        import_jsonl(store, path)
    msg = str(info.value)
    assert "2 bad line(s), nothing was imported" in msg
    assert "line 2: not valid JSON" in msg
    assert "line 4: demonstration: unknown key(s) 'colour'" in msg
    assert store.count() == 0


def test_skip_bad_lines_imports_the_rest_and_reports(tmp_path):
    good = json.dumps(sample_records()[0].to_dict())
    empty = json.dumps({**sample_records()[2].to_dict(), "response": ""})
    outside = json.dumps({**sample_records()[2].to_dict(), "score": 9})
    path = write_lines(tmp_path / "mixed.jsonl", [good, empty, outside])
    store = FeedbackStore(":memory:")
    result = import_jsonl(store, path, on_error="skip")
    assert result.added == 1 and store.count() == 1
    assert [(e.line, e.message) for e in result.errors] == [
        (2, "rating: response is empty; every response needs some text."),
        (3, "rating: score 9 is outside the scale [1, 7]."),
    ]
    with pytest.raises(FeedbackError, match="on_error must be"):
        read_jsonl(path, on_error="ignore")  # type: ignore[arg-type]


HH_PROMPT = "\n\nHuman: What is 2+2?\n\nAssistant: Let me think.\n\nHuman: And?\n\nAssistant:"


def test_split_hh_transcript():
    prompt, chosen, rejected = split_hh_transcript(HH_PROMPT + " It is 4.", HH_PROMPT + " 5.")
    assert prompt == HH_PROMPT
    assert (chosen, rejected) == ("It is 4.", "5.")
    with pytest.raises(FeedbackError, match="differ before their final Assistant turn"):
        split_hh_transcript(HH_PROMPT + " 4", "\n\nHuman: Hi\n\nAssistant: 5")
    with pytest.raises(FeedbackError, match=r"no '.*Assistant:' turn"):
        split_hh_transcript("\n\nHuman: only a question", HH_PROMPT + " x")


def test_hh_rlhf_file_import(tmp_path):
    rows = [
        {"chosen": HH_PROMPT + " It is 4.", "rejected": HH_PROMPT + " It is 5."},
        {
            "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!",
            "rejected": "\n\nHuman: Hi\n\nAssistant: No.",
        },
        {"chosen": HH_PROMPT + " same", "rejected": HH_PROMPT + " same"},
        {"chosen": HH_PROMPT + " x", "rejected": HH_PROMPT + " y", "label": 1},
    ]
    path = write_lines(tmp_path / "hh.jsonl", [json.dumps(r) for r in rows])
    with pytest.raises(FeedbackError, match=r"line 3: comparison: response_a and response_b"):
        read_hh_rlhf(path)
    store = FeedbackStore(":memory:")
    result = import_hh_rlhf(store, path, on_error="skip", task="hh")
    assert [e.line for e in result.errors] == [3]
    first, second, third = store.records()
    assert (first.prompt, first.chosen, first.rejected) == (HH_PROMPT, "It is 4.", "It is 5.")
    assert first.preference == "a" and first.task == "hh" and first.annotator == "hh-rlhf"
    # a one-turn conversation is stored as its plain question (docs/formats.md)
    assert second.prompt == "Hi" and second.chosen == "Hello!"
    # a column beyond the layout's own is kept, not refused
    assert third.metadata == {"source": "hh-rlhf", "extra": {"label": 1}}
    assert import_hh_rlhf(store, path, on_error="skip", task="hh").added == 0  # duplicates


def test_hf_dataset_round_trip():
    pytest.importorskip("datasets")
    ds = to_hf_dataset(sample_records())
    assert len(ds) == 5
    assert ds[0]["kind"] == "comparison" and ds[0]["strength"] == 1.5
    assert ds[1]["groups"] == [["Hello!", "Hi!"], ["Go away."]]
    assert json.loads(ds[2]["metadata"]) == {"src": "x"}
    assert from_hf_dataset(ds).records == sample_records()


def test_hf_dataset_in_hh_and_trl_layouts():
    datasets = pytest.importorskip("datasets")
    hh = datasets.Dataset.from_dict({"chosen": [HH_PROMPT + " 4"], "rejected": [HH_PROMPT + " 5"]})
    (c,) = from_hf_dataset(hh).records
    assert (c.prompt, c.chosen, c.rejected) == (HH_PROMPT, "4", "5")
    trl = datasets.Dataset.from_dict({"prompt": ["Hi"], "chosen": ["Hello"], "rejected": ["No"]})
    (c,) = from_hf_dataset(trl).records
    assert (c.prompt, c.chosen, c.rejected) == ("Hi", "Hello", "No")  # TRL rows as they are


def test_bad_dataset_rows_are_numbered():
    rows = [sample_records()[0].to_dict(), {**sample_records()[0].to_dict(), "preference": "x"}]
    with pytest.raises(FeedbackError, match=r"row 2: comparison: unknown preference 'x'"):
        from_hf_dataset(rows)


def test_missing_datasets_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import now fails
    with pytest.raises(MissingDependencyError, match="pip install datasets"):
        to_hf_dataset(sample_records())
