"""The CLI never shows a traceback for a user error: one ``error:`` line, exit 1 (or 2)."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys

import pytest

from rlhf_env.cli import main
from rlhf_env.feedback.store import FeedbackStore


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _bad_stores(tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_text("these are my notes\n")
    foreign = tmp_path / "other.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    return [(text, "not an SQLite file"), (foreign, "not a feedback store")]


def _commands(store, tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_text('{"kind": "comparison", "prompt": "p", "responses": ["x", "y"]}\n')
    return [["label", str(store), "--annotator", "a"],
            ["feedback", "report", str(store)],
            ["feedback", "import", str(store), str(data)],
            ["feedback", "export", str(store), str(tmp_path / "out.jsonl")],
            ["feedback", "enqueue", str(store), str(data)],
            ["feedback", "check", str(store)]]


def test_every_store_command_refuses_a_file_that_is_not_a_store(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    for store, words in _bad_stores(tmp_path):
        for argv in _commands(store, tmp_path):
            code, _, err = _run(argv, capsys)
            assert code == 1, argv
            assert err.startswith("error: ") and str(store) in err and words in err, argv
            assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out.jsonl").exists()


def test_the_queue_labeler_store_is_checked_too(tmp_path, capsys):
    (store, words), _ = _bad_stores(tmp_path)
    code, _, err = _run(["prefs", "--labels", "4", "--timesteps", "64", "--rounds", "1",
                         "--n-envs", "1", "--ensemble", "2", "--labeler", "queue", "--store",
                         str(store)], capsys)
    assert code == 1 and words in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "words"), [
    (["prefs", "--threads", "0"], "--threads: expected an integer >= 1, got '0'"),
    (["prefs", "--horizon", "-3"], "--horizon: expected an integer >= 1, got '-3'"),
    (["prefs", "--error-rate", "nan"], "--error-rate: expected a finite number"),
    (["prefs", "--labels", "many"], "--labels: expected an integer"),
    (["label", "x.sqlite", "--follow", "-1"], "--follow: expected a finite number > 0.0"),
    (["bench", "run", "--suite", "quick", "--seeds", "0"], "whole number"),
])
def test_bad_option_values_exit_2(argv, words, capsys):
    code, _, err = _run(argv, capsys)
    assert code == 2 and words in err and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path, capsys):
    store, _ = _bad_stores(tmp_path)[0]
    code, _, err = _run(["feedback", "report", str(store)], capsys)
    assert code == 1 and "--debug" not in err
    from rlhf_env.errors import StoreError

    with pytest.raises(StoreError):
        main(["--debug", "feedback", "report", str(store)])
    with pytest.raises(StoreError):
        main(["feedback", "report", str(store), "--debug"])


def test_a_bad_enqueue_line_names_file_and_line(tmp_path, capsys):
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"kind": "comparison", "prompt": "p", "responses": ["x", "y"]})
                     + "\n" + json.dumps({"kind": "comparison", "prompt": "p",
                                          "responses": ["x", "x"]}) + "\n"
                     + json.dumps({"kind": "rating", "prompt": "p", "colour": 1}) + "\n")
    code, _, err = _run(["feedback", "enqueue", str(tmp_path / "fb.sqlite"), str(items)], capsys)
    assert code == 1 and "line 3: unknown key(s) ['colour']" in err
    items.write_bytes(b'{"kind": "comparison", "prompt": "caf\xe9"}\n')
    code, _, err = _run(["feedback", "enqueue", str(tmp_path / "fb.sqlite"), str(items)], capsys)
    assert code == 1 and f"{items}:1: not UTF-8" in err


def test_feedback_check_reports_health(tmp_path, capsys):
    path = tmp_path / "fb.sqlite"
    with FeedbackStore(path) as store:
        store.enqueue("comparison", "p", ["x", "y"])
    code, out, _ = _run(["feedback", "check", str(path)], capsys)
    assert code == 0 and "ok (schema 1" in out
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO queue_done VALUES (99, 'a', 'skipped', NULL, 0)")
    conn.commit()
    conn.close()
    code, out, _ = _run(["feedback", "check", str(path)], capsys)
    assert code == 1 and "1 answer(s) refer to a missing queue item" in out


def test_label_with_stdin_closed_is_not_a_traceback(tmp_path):
    path = tmp_path / "fb.sqlite"
    with FeedbackStore(path) as store:
        store.enqueue("comparison", "p", ["x", "y"])
    proc = subprocess.run([sys.executable, "-m", "rlhf_env.cli", "label", str(path),
                           "--annotator", "a"], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr


def test_the_web_commands_refuse_bad_stores_like_the_others(tmp_path, capsys):
    for store, words in _bad_stores(tmp_path):
        for argv in (["serve", str(store), "--port", "1"],
                     ["annotators", "add", "bob", "--store", str(store)],
                     ["annotators", "list", "--store", str(store)],
                     ["annotators", "admin", "--store", str(store)]):
            code, _, err = _run(argv, capsys)
            assert code == 1, argv
            assert err.startswith("error: ") and words in err, argv
            assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(("option", "value"), [
    ("--port", "-1"), ("--port", "99999"), ("--port", "abc"),
    ("--lease-seconds", "nan"), ("--lease-seconds", "inf"), ("--lease-seconds", "-5"),
    ("--lease-seconds", "0"),
])
def test_serve_bad_option_values_exit_2(tmp_path, option, value, capsys):
    """--port -1 was an OverflowError traceback; --lease-seconds nan/inf started a server
    whose leases never expired."""
    code, _, err = _run(["serve", str(tmp_path / "s.sqlite"), option, value], capsys)
    assert code == 2 and option in err and "Traceback" not in err


@pytest.mark.parametrize("which", ["missing", "file"])
def test_serve_instructions_must_be_a_folder(tmp_path, which, capsys):
    path = tmp_path / "instructions"
    if which == "file":
        path.write_text("# hi\n")
    code, _, err = _run(["serve", str(tmp_path / "s.sqlite"), "--instructions", str(path)],
                        capsys)
    assert code == 1 and err.startswith("error: instructions") and str(path) in err
    assert "Traceback" not in err


def test_serve_on_an_address_it_cannot_bind_is_one_line(tmp_path, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = _run(["serve", str(tmp_path / "s.sqlite"), "--port", str(port)], capsys)
    assert code == 1 and err.startswith("error: cannot listen on") and "--port" in err
    code, _, err = _run(["serve", str(tmp_path / "s.sqlite"), "--host", "999.1.1.1"], capsys)
    assert code == 1 and err.startswith("error: cannot listen on 999.1.1.1")


def test_annotators_usage_errors_and_a_second_add(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RLHF_ENV_STORE", raising=False)
    store = str(tmp_path / "s.sqlite")
    code, _, err = _run(["annotators", "add", "bob"], capsys)
    assert code == 2 and "--store" in err
    code, _, err = _run(["annotators", "add", "bob", "--store", store, "--attr", "=v"], capsys)
    assert code == 2 and "--attr" in err
    assert _run(["annotators", "add", "bob", "--store", store, "--attr", "expertise=doctor"],
                capsys)[0] == 0
    code, _, err = _run(["annotators", "add", "bob", "--store", store], capsys)
    assert code == 1 and "exists already" in err and "annotators token bob" in err
    with FeedbackStore(store) as s:  # the second add did not wipe the attributes
        assert s.annotator("bob").attributes == {"expertise": "doctor"}
    code, _, err = _run(["annotators", "token", "nobody", "--store", store], capsys)
    assert code == 1 and "rlhf-env annotators add nobody" in err
    code, _, err = _run(["annotators", "list", "--store", store, "--debug"], capsys)
    assert code == 0
    typo = str(tmp_path / "s.sqlit")
    for command in (["annotators", "list"], ["annotators", "token", "bob"]):
        code, _, err = _run([*command, "--store", typo], capsys)
        assert code == 1 and "no feedback store at" in err, err
    assert not (tmp_path / "s.sqlit").exists()  # a typo creates nothing


def test_a_file_or_folder_in_the_way_says_what_to_do(tmp_path, capsys):
    """These were bare '[Errno 20] Not a directory: …' lines with no hint."""
    afile = tmp_path / "notes.txt"
    afile.write_text("x\n")
    (tmp_path / "folder").mkdir()
    store = tmp_path / "s.sqlite"
    FeedbackStore(store).close()
    code, _, err = _run(["feedback", "export", str(store), str(tmp_path / "folder")], capsys)
    assert code == 1 and "is a folder; give a file's path" in err
    code, _, err = _run(["feedback", "import", str(store), str(tmp_path / "folder")], capsys)
    assert code == 1 and "is a folder; give a file's path" in err
    code, _, err = _run(["bench", "run", "--suite", "quick", "--out", str(afile)], capsys)
    assert code == 1 and "not a folder; choose another path" in err
    assert "Traceback" not in err


def test_demo_without_its_entry_point_says_to_reinstall(capsys, monkeypatch):
    """The demo is found through the ``rlhf_env.demos`` group (rlhf_env imports no learner);
    a broken install gets one line saying what to do."""
    import importlib.metadata

    from rlhf_env import cli

    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **kw: [] if kw.get("group") == cli.DEMO_GROUP else real(**kw))
    code, _, err = _run(["demo", "--smoke"], capsys)
    assert code == 1 and "no demo is installed" in err and "reinstall" in err
    monkeypatch.setattr(importlib.metadata, "entry_points", real)
    (ep,) = [e for e in real(group=cli.DEMO_GROUP) if e.name == "demo"]
    assert ep.value == "agents.demos:run_demo"
