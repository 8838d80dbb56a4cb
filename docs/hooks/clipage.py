"""The CLI reference, generated from :func:`rlhf_env.cli.build_parser`.

Every command and subcommand, recursively (plug-in commands from the ``rlhf_env.commands``
entry-point group included): its help, description, usage line and a table of its
arguments, as argparse itself would print them. A new command shows up with no doc edit.
"""

from __future__ import annotations

import argparse
import html
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

WIDTH = "76"
"""Terminal width the usage lines are wrapped at (argparse reads ``$COLUMNS``)."""


@contextmanager
def _columns(width: str) -> Iterator[None]:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def cli_page() -> str:
    from rlhf_env.cli import build_parser

    with _columns(WIDTH):
        parser = build_parser()
        return "\n\n".join(command_section(p, path, help_, depth)
                           for p, path, help_, depth in walk(parser, [parser.prog], None, 1))


def commands() -> list[str]:
    """Every command's full name (``"rlhf-env bench run"``), in page order."""
    from rlhf_env.cli import build_parser

    parser = build_parser()
    return [" ".join(path) for _, path, _, _ in walk(parser, [parser.prog], None, 1)]


def walk(parser: argparse.ArgumentParser, path: list[str], help_: str | None, depth: int
         ) -> Iterator[tuple[argparse.ArgumentParser, list[str], str | None, int]]:
    """``parser`` and every subparser below it, depth first, with the help its parent gave."""
    yield parser, path, help_, depth
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:  # an alias of a command already listed
                    continue
                seen.add(id(sub))
                yield from walk(sub, [*path, name], helps.get(name), depth + 1)


def anchor(path: list[str]) -> str:
    return "-".join(path)


def command_section(parser: argparse.ArgumentParser, path: list[str], help_: str | None,
                    depth: int) -> str:
    level = "#" * min(depth + 1, 6)
    parts = [f"{level} {' '.join(path)} {{#{anchor(path)}}}"]
    if help_ and help_ != argparse.SUPPRESS:
        parts.append(text(help_))
    if parser.description and parser.description != help_:
        parts.append(text(parser.description))
    parts.append(f"```text\n{parser.format_usage().strip()}\n```")
    subcommands = subcommand_list(parser, path)
    if subcommands:
        parts.append(subcommands)
    arguments = argument_table(parser)
    if arguments:
        parts.append(arguments)
    if parser.epilog:
        parts.append(text(parser.epilog))
    return "\n\n".join(parts)


def subcommand_list(parser: argparse.ArgumentParser, path: list[str]) -> str:
    lines = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                link = anchor([*path, choice.dest])
                lines.append(f"- [`{choice.dest}`](#{link}): {text(choice.help or '')}")
    return ("Commands:\n\n" + "\n".join(lines)) if lines else ""


def argument_table(parser: argparse.ArgumentParser) -> str:
    """The arguments, one table per argparse group (the built-in groups share the first)."""
    formatter = parser._get_formatter()
    tables: list[str] = []
    for group in parser._action_groups:
        rows = [argument_row(formatter, action) for action in group._group_actions
                if not isinstance(action, (argparse._SubParsersAction, argparse._HelpAction))
                and action.help != argparse.SUPPRESS]
        if not rows:
            continue
        builtin = group in parser._action_groups[:2]  # "positional arguments", "options"
        title = "" if builtin or not group.title else f"**{text(group.title)}**\n\n"
        if builtin and tables and not tables[-1].startswith("**"):
            tables[-1] += "\n" + "\n".join(rows)
        else:
            tables.append(title + "\n".join(
                ["| argument | description | default |", "|---|---|---|", *rows]))
    return "\n\n".join(tables)


def argument_row(formatter: argparse.HelpFormatter, action: argparse.Action) -> str:
    invocation = formatter._format_action_invocation(action)
    # argparse's own expansion: the CLI's formatter appends "(default: …)", which the
    # table shows in its own column
    plain = argparse.HelpFormatter(formatter._prog)
    help_ = text(plain._expand_help(action)) if action.help else ""
    return f"| `{invocation}` | {help_} | {default(action)} |"


def default(action: argparse.Action) -> str:
    value = action.default
    if value is None or value is argparse.SUPPRESS or isinstance(
            action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        return ""
    if isinstance(value, (list, tuple)) and not value:
        return ""
    return f"`{value}`"


def text(value: str) -> str:
    """Help text as Markdown: code spans kept, everything else escaped for a table cell."""
    out = []
    for part in re.split(r"(`[^`]+`)", " ".join(value.split())):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(part)  # tables ignore pipes inside backticks
        else:
            escaped = html.escape(part, quote=False)
            out.append(re.sub(r"([\\*_\[\]{}|])", r"\\\1", escaped))
    return "".join(out)
