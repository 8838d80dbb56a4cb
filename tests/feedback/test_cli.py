"""The feedback CLI commands (report, import, export, enqueue, errors)."""

from __future__ import annotations

import argparse
import io
import json

from rlhf_env.feedback.cli import add_feedback_commands, main
from rlhf_env.feedback.records import Comparison
from rlhf_env.feedback.store import FeedbackStore


def test_commands_attach_to_a_parser():
    parser = argparse.ArgumentParser()
    add_feedback_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["label", "s.sqlite", "--annotator", "ann", "--task", "t"])
    assert (args.store, args.annotator, args.task) == ("s.sqlite", "ann", "t")
    args = parser.parse_args(["feedback", "report", "s.sqlite", "--out", "r.md"])
    assert args.out == "r.md" and callable(args.func)


def test_import_report_export_round_trip(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    recs = [Comparison(f"p{i}", "x", "y", "a", annotator=f"u{i % 2}") for i in range(4)]
    src.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in recs))
    store = str(tmp_path / "fb.sqlite")
    assert main(["feedback", "import", store, str(src)]) == 0
    assert "imported 4 record(s)" in capsys.readouterr().out

    out = tmp_path / "rep" / "report.md"
    assert main(["feedback", "report", store, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "records                             4" in printed
    assert out.is_file() and (tmp_path / "rep" / "report_volume.png").is_file()

    dst = tmp_path / "out.jsonl"
    assert main(["feedback", "export", store, str(dst)]) == 0
    assert len(dst.read_text().splitlines()) == 4


def test_bad_import_is_one_line_error_and_changes_nothing(tmp_path, capsys):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"kind": "comparison"}\nnot json\n')
    store = tmp_path / "fb.sqlite"
    assert main(["feedback", "import", str(store), str(src)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "line 1:" in err and "line 2: not valid JSON" in err
    assert FeedbackStore(store).count() == 0


def test_an_empty_import_file_is_an_error_and_creates_no_store(tmp_path, capsys):
    src = tmp_path / "empty.jsonl"
    src.write_text("\n  \n")
    store = tmp_path / "fb.sqlite"
    assert main(["feedback", "import", str(store), str(src)]) == 1
    assert "holds no records" in capsys.readouterr().err
    assert not store.exists()


def test_missing_store_is_reported(tmp_path, capsys):
    assert main(["feedback", "report", str(tmp_path / "nope.sqlite")]) == 1
    assert "no feedback store at" in capsys.readouterr().err
    assert main(["label", str(tmp_path / "nope.sqlite")]) == 1


def test_enqueue_then_label_from_a_pipe(tmp_path, capsys, monkeypatch):
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"kind": "comparison", "prompt": "p", "responses": ["x", "y"]}))
    store = str(tmp_path / "fb.sqlite")
    assert main(["feedback", "enqueue", store, str(items)]) == 0

    monkeypatch.setattr("sys.stdin", io.StringIO("1\n"))
    assert main(["label", store, "--annotator", "zoe"]) == 0
    assert "answered 1, skipped 0" in capsys.readouterr().out
    (r,) = FeedbackStore(store).records()
    assert r.annotator == "zoe" and r.preference == "a"
