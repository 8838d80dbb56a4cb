"""Feedback file formats: ours, TRL (standard, conversational), HH-RLHF; detection, errors,
export limits and round trips, through the Python API and the ``rlhf-env`` command."""

from __future__ import annotations

import gzip
import json

import pytest

from rlhf_env.cli import main
from rlhf_env.errors import FeedbackError, UnknownNameError
from rlhf_env.feedback import (
    Annotator,
    Comparison,
    Correction,
    Demonstration,
    FeedbackStore,
    Ranking,
    Rating,
    import_feedback,
    read_feedback,
    write_feedback,
)
from rlhf_env.feedback.formats import (
    LAYOUTS,
    detect_format,
    messages_text,
    prompt_messages,
    split_shared_prefix,
)

SKY = "What color is the sky?"
ENV = {"annotator": "ann1", "task": "t", "timestamp": 1_700_000_000.0}


def user(text):
    return [{"role": "user", "content": text}]


def bot(text):
    return [{"role": "assistant", "content": text}]


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_one(tmp_path, row, **kwargs):
    result = read_feedback(write_rows(tmp_path / "in.jsonl", [row]), **kwargs)
    (record,) = result.records
    return result.format, record


# -- each layout ---------------------------------------------------------------------------
@pytest.mark.parametrize(("row", "fmt", "expected"), [
    ({"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}, "trl",
     Comparison("The sky is", " blue.", " green.", "a")),
    ({"chosen": "The sky is blue.", "rejected": "The sky is green."}, "trl",
     Comparison("The sky is", " blue.", " green.", "a")),
    ({"prompt": "The sky is", "completion": " blue.", "label": True}, "trl",
     Rating("The sky is", " blue.", 1.0, scale=(0, 1))),
    ({"prompt": "The sky is", "completion": " green.", "label": False}, "trl",
     Rating("The sky is", " green.", 0.0, scale=(0, 1))),
    ({"prompt": "The sky is", "completion": " blue."}, "trl",
     Demonstration("The sky is", " blue.")),
    ({"prompt": user(SKY), "chosen": bot("Blue."), "rejected": bot("Green.")},
     "trl-conversational", Comparison(SKY, "Blue.", "Green.", "a")),
    ({"chosen": user(SKY) + bot("Blue."), "rejected": user(SKY) + bot("Green.")},
     "trl-conversational", Comparison(SKY, "Blue.", "Green.", "a")),
    # a string prompt with full conversations as chosen/rejected (UltraFeedback-style)
    ({"prompt": SKY, "chosen": user(SKY) + bot("Blue."), "rejected": user(SKY) + bot("Green.")},
     "trl-conversational", Comparison(SKY, "Blue.", "Green.", "a")),
    ({"prompt": user(SKY), "completion": bot("Blue."), "label": True}, "trl-conversational",
     Rating(SKY, "Blue.", 1.0, scale=(0, 1))),
    ({"prompt": user(SKY), "completion": bot("Blue.")}, "trl-conversational",
     Demonstration(SKY, "Blue.")),
    ({"chosen": f"\n\nHuman: {SKY}\n\nAssistant: Blue.",
      "rejected": f"\n\nHuman: {SKY}\n\nAssistant: Green."}, "hh-rlhf",
     Comparison(SKY, "Blue.", "Green.", "a")),
])
def test_each_layout_imports_as_the_record_it_stands_for(tmp_path, row, fmt, expected):
    found, record = read_one(tmp_path, row)
    assert found == fmt
    family = "trl" if fmt.startswith("trl") else fmt
    want = type(expected).from_dict({**expected.to_dict(), "task": family, "annotator": family,
                                     "timestamp": 0.0, "metadata": {"source": fmt}})
    assert record == want


def test_our_own_records_and_annotators_import_with_their_envelope(tmp_path):
    records = [Comparison("p", "x", "y", "b", strength=2.0, **ENV),
               Ranking.from_order("p", ["x", "y", "z"], **ENV),
               Rating("p", "x", 3, scale=(1, 5), **ENV), Demonstration("p", "x", **ENV),
               Correction("p", "x", "x!", **ENV)]
    rows = [{"kind": "annotator", "id": "ann1", "attributes": {"lang": "fr"}},
            *(r.to_dict() for r in records)]
    result = read_feedback(write_rows(tmp_path / "ours.jsonl", rows))
    assert result.format == "rlhf-env" and result.records == records
    assert result.annotators == [Annotator("ann1", {"lang": "fr"})]


def test_every_layouts_example_line_is_detected_as_its_own_format(tmp_path):
    for i, layout in enumerate(LAYOUTS):
        result = read_feedback(write_rows(tmp_path / f"{i}.jsonl", [layout.example]))
        assert result.ok and result.format == layout.format, layout.name
        assert len(result.records) + len(result.annotators) == 1


def test_extra_columns_are_kept_in_metadata_and_written_back(tmp_path):
    row = {"chosen": user(SKY) + bot("Blue."), "rejected": user(SKY) + bot("Green."),
           "score_chosen": 9.0, "score_rejected": 2.5}
    _, record = read_one(tmp_path, row)
    assert record.metadata == {"source": "trl-conversational",
                               "extra": {"score_chosen": 9.0, "score_rejected": 2.5}}
    result = write_feedback([record], tmp_path / "out.jsonl", "trl-conversational")
    assert result.written == 1
    (line,) = (tmp_path / "out.jsonl").read_text().splitlines()
    assert json.loads(line) == {"score_chosen": 9.0, "score_rejected": 2.5, "prompt": user(SKY),
                                "chosen": bot("Blue."), "rejected": bot("Green.")}


def test_task_annotator_and_timestamp_for_foreign_rows(tmp_path):
    row = {"prompt": "p", "chosen": "x", "rejected": "y"}
    _, record = read_one(tmp_path, row, task="sky", annotator="crowd",
                         timestamp="2024-05-01T00:00:00Z")
    assert (record.task, record.annotator, record.timestamp) == ("sky", "crowd", 1714521600.0)
    with pytest.raises(FeedbackError, match="carry their own task and annotator"):
        read_one(tmp_path, Comparison("p", "x", "y", "a").to_dict(), task="sky")


# -- detection -----------------------------------------------------------------------------
def test_detection_rules():
    assert detect_format({"kind": "comparison"}) == "rlhf-env"
    assert detect_format({"chosen": "a b", "rejected": "a c"}) == "trl"
    assert detect_format({"chosen": "\n\nHuman: a\n\nAssistant: b",
                          "rejected": "\n\nHuman: a\n\nAssistant: c"}) == "hh-rlhf"
    assert detect_format({"prompt": "p", "chosen": "\n\nAssistant: b",
                          "rejected": "c"}) == "trl"  # an explicit prompt: never HH
    assert detect_format({"prompt": user("p"), "completion": bot("c")}) == "trl-conversational"
    assert detect_format({"prompt": "p"}) is None
    assert detect_format(["not", "an", "object"]) is None


def test_a_named_format_overrides_detection(tmp_path):
    hh_looking = {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello", "rejected":
                  "\n\nHuman: Hi\n\nAssistant: Go"}
    path = write_rows(tmp_path / "in.jsonl", [hh_looking])
    (auto,) = read_feedback(path).records
    (trl,) = read_feedback(path, "trl").records
    assert (auto.prompt, auto.chosen) == ("Hi", "Hello")
    assert (trl.prompt, trl.chosen) == ("\n\nHuman: Hi\n\nAssistant:", " Hello")
    with pytest.raises(UnknownNameError, match="Did you mean 'trl'"):
        read_feedback(path, "tlr")


@pytest.mark.parametrize(("chosen", "rejected", "split"), [
    ("The sky is blue.", "The sky is blurry.", ("The sky is", " blue.", " blurry.")),
    ("Hi there", "Hi there!", ("Hi", " there", " there!")),
    ("abc", "abd", ("ab", "c", "d")),  # no word boundary: cut where they differ
    ("Q:\nyes", "Q:\nno", ("Q:", "\nyes", "\nno")),
])
def test_implicit_prompt_is_cut_at_a_word_boundary(chosen, rejected, split):
    assert split_shared_prefix(chosen, rejected) == split
    prompt, c, r = split
    assert prompt + c == chosen and prompt + r == rejected


@pytest.mark.parametrize(("chosen", "rejected", "words"), [
    ("Yes.", "No.", "share no prompt text"),
    ("same", "same", "identical"),
])
def test_implicit_prompt_that_cannot_be_split(chosen, rejected, words):
    with pytest.raises(FeedbackError, match=words):
        split_shared_prefix(chosen, rejected)


def test_messages_and_transcripts_convert_both_ways():
    convo = [{"role": "system", "content": "Be brief."}, *user("Hi"), *bot("Hello!"),
             *user("Sky?")]
    text = messages_text(convo)
    assert text == ("\n\nSystem: Be brief.\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Sky?"
                    "\n\nAssistant:")
    assert prompt_messages(text) == convo
    assert messages_text(user("Sky?")) == "Sky?" and prompt_messages("Sky?") == user("Sky?")


# -- bad rows ------------------------------------------------------------------------------
def test_a_row_that_fits_no_layout_names_line_keys_and_every_layout(tmp_path):
    good = {"prompt": "p", "chosen": "x", "rejected": "y"}
    path = write_rows(tmp_path / "in.jsonl", [good, {"question": "q", "answer": "a"}])
    store = FeedbackStore()
    with pytest.raises(FeedbackError) as info:
        import_feedback(store, path)
    msg = str(info.value)
    assert "line 2: it matches no trl layout (keys found: 'question', 'answer')" in msg
    assert "nothing was imported" in msg
    for layout in LAYOUTS:
        assert f"{layout.name}: {layout.example_line()}" in msg
    assert store.count() == 0


@pytest.mark.parametrize(("row", "words"), [
    ({"prompt": "p"}, "TRL prompt-only row, which holds no feedback"),
    ({"messages": user("hi")}, "language-modeling row"),
    ({"prompt": "p", "completions": ["a"], "labels": [True]}, "stepwise-supervision"),
    ({"prompt": "p", "completion": "c", "label": "yes"}, "'label' must be true or false"),
    ({"prompt": user("p"), "chosen": bot("x") + bot("y"), "rejected": bot("z")},
     "'chosen' must be one assistant message"),
    ({"prompt": [{"role": "tool", "content": "x"}], "completion": bot("c")},
     "role 'tool'; supported roles are system, user, assistant"),
    ({"prompt": "p", "chosen": 3, "rejected": "y"}, "'chosen' must be a string, got int"),
])
def test_bad_rows_say_what_is_wrong(tmp_path, row, words):
    path = write_rows(tmp_path / "in.jsonl", [row])
    with pytest.raises(FeedbackError, match="line 1: ") as info:
        read_feedback(path)
    assert words in str(info.value)


def test_mixed_formats_are_an_error_naming_both_lines(tmp_path):
    rows = [{"prompt": "p", "chosen": "x", "rejected": "y"},
            Comparison("q", "x", "y", "a").to_dict(),
            {"prompt": user("p"), "completion": bot("c")}]
    path = write_rows(tmp_path / "mixed.jsonl", rows)
    store = FeedbackStore()
    with pytest.raises(FeedbackError) as info:
        import_feedback(store, path)
    msg = str(info.value)
    assert "line 2: looks like rlhf-env, but line 1 is trl: a file holds one format" in msg
    assert "line 3: looks like trl-conversational, but line 1 is trl" in msg
    assert store.count() == 0
    result = import_feedback(store, path, on_error="skip")
    assert result.added == 1 and [e.line for e in result.errors] == [2, 3]


def test_a_named_format_that_the_rows_do_not_have(tmp_path):
    path = write_rows(tmp_path / "in.jsonl", [{"prompt": "p", "chosen": "x", "rejected": "y"}])
    with pytest.raises(FeedbackError, match="line 1: looks like trl, but the format was given "
                                            "as rlhf-env"):
        read_feedback(path, "rlhf-env")


def test_a_failing_store_write_leaves_nothing(tmp_path, monkeypatch):
    rows = [{"prompt": f"p{i}", "chosen": "x", "rejected": "y"} for i in range(3)]
    path = write_rows(tmp_path / "in.jsonl", rows)
    store = FeedbackStore()
    real, calls = store._insert, []

    def fail_on_third(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args)

    monkeypatch.setattr(store, "_insert", fail_on_third)
    with pytest.raises(RuntimeError):
        import_feedback(store, path)
    assert store.count() == 0


# -- files ---------------------------------------------------------------------------------
ROWS = [{"prompt": "p", "chosen": "x", "rejected": "y"},
        {"prompt": "q", "completion": "c"}]


@pytest.mark.parametrize("name", ["list.json", "lines.json", "rows.jsonl.gz", "list.json.gz",
                                  "bom.jsonl"])
def test_file_kinds(tmp_path, name):
    path = tmp_path / name
    lines = "".join(json.dumps(r) + "\n" for r in ROWS)
    data = {"list.json": json.dumps(ROWS, indent=2), "lines.json": lines,
            "rows.jsonl.gz": lines, "list.json.gz": json.dumps(ROWS),
            "bom.jsonl": "\ufeff" + lines}[name].encode("utf-8")
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    result = read_feedback(path)
    assert result.format == "trl"
    assert [type(r).__name__ for r in result.records] == ["Comparison", "Demonstration"]


def test_json_list_items_are_numbered(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps([ROWS[0], {"nope": 1}]))
    with pytest.raises(FeedbackError, match=r"item 2: it matches no trl layout"):
        read_feedback(path)
    path.write_text("[{\"prompt\": ")
    with pytest.raises(FeedbackError, match="not a valid JSON list"):
        read_feedback(path)


def test_damaged_gzip_is_named(tmp_path):
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"prompt": "p", "completion": "c"}\n' * 50)[:40])
    with pytest.raises(FeedbackError, match="damaged gzip"):
        read_feedback(path)


def test_parquet_and_save_to_disk_folders(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([
        {"prompt": user(SKY), "chosen": bot("Blue."), "rejected": bot("Green.")}])
    ds.to_parquet(str(tmp_path / "prefs.parquet"))
    ds.save_to_disk(str(tmp_path / "saved"))
    for path in (tmp_path / "prefs.parquet", tmp_path / "saved"):
        result = read_feedback(path)
        assert result.format == "trl-conversational"
        assert [(r.prompt, r.chosen) for r in result.records] == [(SKY, "Blue.")]
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "dict"))
    with pytest.raises(FeedbackError, match=r"DatasetDict with splits \['train'\]"):
        read_feedback(tmp_path / "dict")


# -- export --------------------------------------------------------------------------------
def mixed_records():
    return [Comparison("Say hi", "Hello!", "Go away.", "a", **ENV),
            Comparison("Say hi", "Hey", "Hello!", "b", **ENV),
            Comparison("Say hi", "Yo", "Hi", "tie", **ENV),
            Ranking.from_order("Say hi", ["Hello!", "Hi", "Go away."], **ENV),
            Rating("Say hi", "Hello!", 6, scale=(1, 7), **ENV),
            Rating("Say hi", "Go away.", 0, scale=(0, 1), **ENV),
            Demonstration("Say hi", "Hello there!", **ENV),
            Correction("Say hi", "Go away.", "Hello, welcome!", **ENV)]


@pytest.mark.parametrize(("fmt", "written", "skipped"), [
    ("rlhf-env", 8, {}),
    ("trl", 4, {"tie comparison": 1, "ranking": 1, "rating not 0/1 on a (0, 1) scale": 1,
                "correction": 1}),
    ("trl-conversational", 4, {"tie comparison": 1, "ranking": 1,
                               "rating not 0/1 on a (0, 1) scale": 1, "correction": 1}),
    ("hh-rlhf", 2, {"tie comparison": 1, "ranking": 1, "rating": 2, "demonstration": 1,
                    "correction": 1}),
])
def test_export_counts_what_a_format_cannot_hold(tmp_path, fmt, written, skipped):
    path = tmp_path / "out.jsonl"
    result = write_feedback(mixed_records(), path, fmt)
    assert (result.written, dict(result.skipped)) == (written, skipped)
    assert len(path.read_text().splitlines()) == written
    if skipped:
        assert f"skipped {sum(skipped.values())} record(s) that {fmt} cannot hold" in (
            result.summary())
    back = read_feedback(path)
    assert back.format == fmt and len(back.records) == written


def test_round_trip_ours_trl_ours_keeps_prompt_chosen_rejected(tmp_path):
    multi_turn = "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Sky?\n\nAssistant:"
    records = [*mixed_records(), Comparison(multi_turn, "Blue.", "Green.", "a")]
    pairs = [(r.prompt, r.chosen, r.rejected) for r in records
             if isinstance(r, Comparison) and r.chosen]
    for fmt in ("trl", "trl-conversational", "hh-rlhf"):
        path = tmp_path / f"{fmt}.jsonl"
        write_feedback(records, path, fmt)
        back = read_feedback(path).records
        assert [(r.prompt, r.chosen, r.rejected) for r in back
                if isinstance(r, Comparison)] == pairs, fmt
    demo = next(r for r in records if isinstance(r, Demonstration))
    binary = next(r for r in records if isinstance(r, Rating) and r.scale == (0, 1))
    for fmt in ("trl", "trl-conversational"):
        back = read_feedback(tmp_path / f"{fmt}.jsonl").records
        assert (demo.prompt, demo.response) in [(r.prompt, r.response) for r in back
                                                if isinstance(r, Demonstration)]
        assert (binary.response, binary.score) in [(r.response, r.score) for r in back
                                                   if isinstance(r, Rating)]


def test_round_trip_hh_ours_hh_is_byte_for_byte(tmp_path):
    rows = [{"chosen": "\n\nHuman: 2+2?\n\nAssistant: Let me think.\n\nHuman: And?"
                       "\n\nAssistant: 4.",
             "rejected": "\n\nHuman: 2+2?\n\nAssistant: Let me think.\n\nHuman: And?"
                         "\n\nAssistant: 5."},
            {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!",
             "rejected": "\n\nHuman: Hi\n\nAssistant: Go away."}]
    src = write_rows(tmp_path / "hh.jsonl", rows)
    write_feedback(read_feedback(src).records, tmp_path / "back.jsonl", "hh-rlhf")
    assert (tmp_path / "back.jsonl").read_text() == src.read_text()


@pytest.mark.parametrize("name", ["out.json", "out.jsonl.gz", "out.json.gz"])
def test_export_file_kinds_read_back(tmp_path, name):
    path = tmp_path / name
    assert write_feedback(mixed_records(), path, "trl").written == 4
    if name == "out.json":
        assert len(json.loads(path.read_text())) == 4
    assert len(read_feedback(path).records) == 4
    assert write_feedback([], tmp_path / "empty.json", "trl").written == 0
    assert json.loads((tmp_path / "empty.json").read_text()) == []


def test_export_refuses_table_suffixes_and_keeps_the_old_file(tmp_path):
    with pytest.raises(FeedbackError, match="to_hf_dataset"):
        write_feedback(mixed_records(), tmp_path / "out.parquet", "trl")
    path = tmp_path / "out.jsonl"
    write_feedback(mixed_records(), path, "trl")
    before = path.read_bytes()

    def breaks():
        yield mixed_records()[0]
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_feedback(breaks(), path, "trl")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temp file left


# -- the command ---------------------------------------------------------------------------
def test_cli_imports_each_format_and_exports_with_a_summary(tmp_path, capsys):
    store = str(tmp_path / "fb.sqlite")
    examples = {layout.name: layout.example for layout in LAYOUTS}
    files = {"trl": examples["trl preference"],
             "trl-conversational": examples["trl-conversational preference"],
             "hh-rlhf": examples["hh-rlhf"]}
    for fmt, row in files.items():
        path = write_rows(tmp_path / f"{fmt}.jsonl", [row])
        assert main(["feedback", "import", store, str(path)]) == 0
        assert f"as {fmt}." in capsys.readouterr().out
    path = write_rows(tmp_path / "ours.jsonl", [r.to_dict() for r in mixed_records()])
    assert main(["feedback", "import", store, str(path), "--format", "rlhf-env"]) == 0
    assert "imported 8 record(s) (0 duplicate)" in capsys.readouterr().out
    out = tmp_path / "out.jsonl"
    assert main(["feedback", "export", store, str(out), "--format", "hh-rlhf"]) == 0
    printed = capsys.readouterr().out
    assert ("(hh-rlhf); skipped 6 record(s) that hh-rlhf cannot hold: 1 correction, "
            "1 demonstration, 1 ranking, 2 rating, 1 tie comparison") in printed
    assert len(out.read_text().splitlines()) == 2 + 3  # 2 here + trl, trl-conv, hh examples
    assert main(["feedback", "export", store, str(out), "--format", "trl", "--kind",
                 "demonstration"]) == 0
    assert "exported 1 record(s)" in capsys.readouterr().out


def test_cli_import_options_and_errors(tmp_path, capsys):
    store = tmp_path / "fb.sqlite"
    path = write_rows(tmp_path / "trl.jsonl", [{"prompt": "p", "chosen": "x", "rejected": "y"}])
    assert main(["feedback", "import", str(store), str(path), "--task", "sky",
                 "--annotator", "crowd"]) == 0
    (record,) = FeedbackStore(store).records()
    assert (record.task, record.annotator) == ("sky", "crowd")
    bad = write_rows(tmp_path / "bad.jsonl", [{"question": "q"}])
    assert main(["feedback", "import", str(tmp_path / "new.sqlite"), str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "line 1: it matches no layout (keys found: 'question')" \
        in err and "trl preference: {" in err
    assert not (tmp_path / "new.sqlite").exists()  # a bad file creates no store
    ours = write_rows(tmp_path / "ours.jsonl", [Comparison("p", "x", "y", "a").to_dict()])
    assert main(["feedback", "import", str(store), str(ours), "--format", "jsonl"]) == 0  # old name
    with pytest.raises(SystemExit) as info:
        main(["feedback", "import", str(store), str(path), "--format", "tlr"])
    assert info.value.code == 2


# -- docs/formats.md stays true ------------------------------------------------------------
def test_the_example_lines_of_docs_formats_import_as_documented(tmp_path):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "formats.md").read_text("utf-8")
    blocks = doc.split("```json\n")[1:]
    lines = [line for b in blocks for line in b.split("```")[0].splitlines() if line]
    cells = [m for m in doc.split("`") if m.startswith('{"') and '": ' in m and "…" not in m]
    assert len(cells) == 4  # the trl table
    lines += cells
    formats = {}
    for i, line in enumerate(lines):
        path = tmp_path / f"{i}.jsonl"
        path.write_text(line + "\n", encoding="utf-8")
        result = read_feedback(path)
        assert result.ok and len(result.records) + len(result.annotators) == 1, line
        formats[result.format] = formats.get(result.format, 0) + 1
    assert set(formats) == {"rlhf-env", "trl", "trl-conversational", "hh-rlhf"}
    assert len(lines) >= 12
