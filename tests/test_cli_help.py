"""The ``rlhf-env`` help and small promises: --version, defaults shown, plain text, flags
named in errors."""

from __future__ import annotations

import argparse
import importlib.metadata
import json

import pytest

from rlhf_env.cli import build_parser, plain_text
from rlhf_env.configs import ConfigDefault
from tests.cli_run import run_cli as _run


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) of the parser and every subcommand, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_version_is_the_installed_distributions(capsys):
    code, out, _ = _run(["--version"], capsys)
    assert code == 0 and out.strip() == f"rlhf-env {importlib.metadata.version('rlhf-env')}"


def test_help_is_plain_text(capsys):
    code, out, _ = _run(["--help"], capsys)
    assert code == 0 and "``" not in out and ":class:" not in out
    assert "rlhf-env rm train STORE --out DIR" in out and "exits with status 2" in out
    for path, parser in _parsers(build_parser()):
        assert "``" not in parser.format_help(), path


def test_plain_text_drops_rest_markup():
    text = "Run ``rlhf-env x`` with :class:`~a.b.LoopConfig` or :func:`this one <a.f>`."
    assert plain_text(text) == "Run rlhf-env x with LoopConfig or this one."


def test_every_default_is_shown_and_config_defaults_resolve():
    checked = 0
    for path, parser in _parsers(build_parser()):
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            if isinstance(action.default, ConfigDefault):
                value = str(action.default)  # imports the config and reads its default
                assert f"(default: {value})" in text, (path, action.dest)
                checked += 1
            elif (action.option_strings and action.default not in (None, False, [])
                  and action.default is not argparse.SUPPRESS and action.help):
                assert "default" in " ".join(action.help.split()).lower() or \
                    f"(default: {action.default})" in text, (path, action.dest)
    assert checked >= 20


def test_prefs_help_shows_the_loop_configs_defaults(capsys):
    code, out, _ = _run(["prefs", "--help"], capsys)
    out = " ".join(out.split())
    assert code == 0
    assert "label budget (default: 500)" in out and "agent env steps (default: 100000)" in out
    assert "--config FILE" in out and "--set KEY=VALUE" in out


def test_feedback_import_names_the_flag_not_the_argument(tmp_path, capsys):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"kind": "comparison"}\nnot json\n')
    code, _, err = _run(["feedback", "import", tmp_path / "fb.sqlite", data], capsys)
    assert code == 1 and "2 bad line(s), nothing was imported" in err
    assert "pass --skip-bad" in err and "on_error" not in err
    code, out, err = _run(["feedback", "import", tmp_path / "fb.sqlite", data, "--skip-bad"],
                          capsys)
    assert code == 0 and "imported 0 record(s)" in out and "skipped line 2" in err


@pytest.mark.parametrize(("module", "words"), [
    ("", "--import takes an absolute module name"),
    (".relative", "--import takes an absolute module name"),
    ("boom_on_import", "--import boom_on_import: importing it failed (RuntimeError: boom)"),
    ("no_such_module_here", "--import no_such_module_here: cannot import it"),
])
def test_bench_import_errors_are_one_line(tmp_path, monkeypatch, capsys, module, words):
    (tmp_path / "boom_on_import.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = _run(["bench", "list", "--import", module], capsys)
    assert code == 2 and err.startswith(f"error: {words}"), err
    assert "Traceback" not in err


def test_prefs_json_is_strict(tmp_path, capsys):
    """NaN metrics (no held-out labels yet) print as null, never as NaN."""
    code, out, err = _run(["prefs", "--labels", "4", "--timesteps", "64", "--rounds", "1",
                           "--n-envs", "1", "--ensemble", "2", "--segment-length", "8",
                           "--horizon", "16", "--json"], capsys)
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    assert "NaN" not in last and json.loads(last)["time/rounds"] == 1
