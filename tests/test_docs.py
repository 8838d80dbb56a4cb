"""The documentation site builds with no warning and covers what the code registers.

The site is built once per run (``mkdocs build --strict``: every warning is an error) into a
temporary folder; the tests then check its generated pages against the live registries: a
page per registered env id, the CLI reference against the argparse tree, the metric table
against :data:`rlhf_env.metrics.METRICS`, the install page against pyproject's extras. The
docstring translation and the hook's own checks are tested directly, without a build.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")
pytest.importorskip("mkdocstrings", reason="the docs extra is not installed")

import rlhf_env  # noqa: F401  (registers the ids)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "hooks"))

import clipage  # noqa: E402
import pages_from_code  # noqa: E402
import rstmd  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{log[-5000:]}"
    assert not re.search(r"^WARNING\s+-", log, re.M), log
    return out


def page(site: Path, path: str) -> str:
    file = site / path / "index.html"
    assert file.is_file(), f"{path} was not built"
    return html.unescape(file.read_text(encoding="utf-8"))


def registered_ids() -> list[str]:
    return [k for k in gym.registry if k.startswith("RLHF-")]


# -- the built site ----------------------------------------------------------------------


def test_every_registered_env_has_a_page_generated_from_the_code(site: Path) -> None:
    ids = registered_ids()
    assert len(ids) >= 5
    for env_id in ids:
        text = page(site, f"envs/{env_id}")
        for section in ("Registration", "Arguments", "Version History", "Example"):
            assert f">{section}<" in text, f"{env_id}: no {section} section"
        spec = gym.spec(env_id)
        assert str(spec.entry_point) in text
        if env_id.startswith("RLHF-Text"):  # a class: its Gymnasium-template docstring
            from gymnasium.envs.registration import load_env_creator

            doc = load_env_creator(str(spec.entry_point)).__doc__ or ""
            assert doc and doc.strip().splitlines()[0] in text
            assert ">Action Space<" in text and ">Observation Space<" in text
            assert "max_response_tokens" in text  # the TextEnvConfig field table
        else:  # a control id: the spaces of the env itself
            env = gym.make(env_id)
            assert str(env.action_space) in text and str(env.observation_space) in text
            env.close()


def walk(parser: argparse.ArgumentParser, path: list[str]
         ) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, [*path, name])


def test_cli_reference_documents_every_command_and_option(site: Path) -> None:
    from rlhf_env.cli import build_parser

    text = page(site, "cli")
    commands = list(walk(build_parser(), ["rlhf-env"]))
    assert len(commands) > 15
    for path, parser in commands:
        anchor = "-".join(path)
        start = text.find(f'id="{anchor}"')
        assert start >= 0, f"`{' '.join(path)}` is missing from the CLI reference"
        following = [text.find('id="{}"'.format("-".join(p)), start + 1) for p, _ in commands]
        end = min([i for i in following if i > start], default=len(text))
        section = text[start:end]
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) \
                    or action.help == argparse.SUPPRESS:
                continue
            names = action.option_strings or [str(action.metavar or action.dest)]
            for name in names:
                assert str(name) in section, f"{' '.join(path)}: {name} is not documented"


def test_metric_table_lists_every_shared_metric(site: Path) -> None:
    from rlhf_env.metrics import METRICS

    text = page(site, "learners/metrics")
    for name, metric in METRICS.items():
        assert f"<code>rlhf/{name}</code>" in text, name
        assert metric.meaning in text, name


def test_install_page_names_every_extra(site: Path) -> None:
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    text = page(site, "install")
    assert "docs" in extras
    for extra in extras:
        assert f"<code>{extra}</code>" in text, f"the extra {extra!r} is not on the install page"


def test_api_reference_renders_docstrings_without_rst_leftovers(site: Path) -> None:
    text = page(site, "api/envs")
    assert "TextBanditEnv" in text
    body = re.sub(r"<code>.*?</code>|<pre.*?</pre>", "", text, flags=re.S)
    assert not re.search(r":(class|func|meth|mod|attr):`", body)
    assert "&gt;&gt;&gt;" not in html.escape(body, quote=False).replace("&amp;", "&")


def test_every_benchmark_command_the_pages_quote_is_one_make_bench_runs() -> None:
    from benchmarks.run_all import BENCHMARKS
    from tests.test_readme import quoted_benchmark_commands

    run = {" ".join(command) for commands in BENCHMARKS.values() for command in commands}
    quoted: set[str] = set()
    for md in sorted((ROOT / "docs").rglob("*.md")):
        text = md.read_text(encoding="utf-8")
        fenced = re.findall(r"^(python benchmarks/bench_.*)$", text, flags=re.M)
        quoted |= quoted_benchmark_commands(text) | {
            " ".join(line.split()).removeprefix("python benchmarks/") for line in fenced}
    assert len(quoted) >= 4, quoted
    assert quoted <= run, f"quoted in docs/ but not run by make bench: {quoted - run}"


# -- the docstring translation ------------------------------------------------------------


def test_doctest_becomes_a_fenced_block_at_the_paragraph_indent() -> None:
    out = rstmd.to_markdown("Text.\n\n    >>> 1 + 1\n    2\n\nMore.")
    assert "```pycon\n>>> 1 + 1\n2\n```" in out
    assert out.startswith("Text.") and out.rstrip().endswith("More.")


def test_literal_block_is_fenced_and_loses_one_colon() -> None:
    out = rstmd.to_markdown("Layout::\n\n    a/\n      b.txt\n\nAfter.")
    assert out.startswith("Layout:\n")
    assert "```text\na/\n  b.txt\n```" in out
    python = rstmd.to_markdown("Use it::\n\n    x = f(1)\n")
    assert "```python\nx = f(1)\n```" in python


def test_simple_table_becomes_a_pipe_table_with_continuations() -> None:
    doc = ("=====  ==========\n"
           "name   meaning\n"
           "=====  ==========\n"
           "``a``  first line\n"
           "       second line\n"
           "b      x | y\n"
           "=====  ==========")
    assert rstmd.to_markdown(doc).splitlines() == [
        "| name | meaning |", "|---|---|", "| ``a`` | first line second line |",
        "| b | x \\| y |"]


def test_misaligned_table_row_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    doc = "====  ====\nlonger text\n====  ===="
    with caplog.at_level(logging.WARNING, logger=rstmd.log.name):
        rstmd.to_markdown(doc)
    assert "crosses a column boundary" in caplog.text


def test_roles_link_when_resolved_and_stay_code_when_not() -> None:
    out = rstmd.to_markdown("See :class:`~rlhf_env.errors.PromptError` and :meth:`step`.",
                          lambda name: "rlhf_env.errors.PromptError" if "." in name else None)
    assert ('<autoref identifier="rlhf_env.errors.PromptError" optional>'
            "<code>PromptError</code></autoref>") in out
    assert "<code>step()</code>" in out and ":meth:" not in out


def test_list_after_a_paragraph_gets_the_blank_line_markdown_needs() -> None:
    assert rstmd.to_markdown("Stages:\n- one\n- two") == "Stages:\n\n- one\n- two"


# -- the hook -----------------------------------------------------------------------------


def test_cli_page_picks_up_a_new_command_with_no_doc_edit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import rlhf_env.cli

    original = rlhf_env.cli.build_parser

    def with_plugin() -> argparse.ArgumentParser:
        parser = original()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        plugin = sub.add_parser("newcmd", help="a command added after the docs were written")
        inner = plugin.add_subparsers(dest="newcmd_command")
        train = inner.add_parser("train", help="train something")
        train.add_argument("--epochs", type=int, default=3, help="passes over the data")
        return parser

    monkeypatch.setattr(rlhf_env.cli, "build_parser", with_plugin)
    text = clipage.cli_page()
    assert "## rlhf-env newcmd {#rlhf-env-newcmd}" in text
    assert "### rlhf-env newcmd train {#rlhf-env-newcmd-train}" in text
    assert "| `--epochs EPOCHS` | passes over the data | `3` |" in text


class _Files:
    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages

    def get_file_from_path(self, path: str):
        if path not in self.pages:
            return None
        return type("F", (), {"content_string": self.pages[path]})()


def test_hook_warns_about_an_env_id_without_a_page(caplog: pytest.LogCaptureFixture) -> None:
    ids = registered_ids()
    pages = {f"envs/{i}.md": f"# {i}\n\n<!-- generated: env {i} -->\n" for i in ids[1:]}
    with caplog.at_level(logging.WARNING, logger=rstmd.log.name):
        pages_from_code.on_files(_Files(pages), config=None)
    assert f"the registered env {ids[0]} has no page" in caplog.text
    assert ids[1] not in caplog.text


def test_unknown_generated_block_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=rstmd.log.name):
        out = pages_from_code.expand("a\n<!-- generated: nonsense -->\nb", "x.md")
    assert "unknown generated block 'nonsense'" in caplog.text
    assert out == "a\n\nb"
