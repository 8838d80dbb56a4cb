"""The ``rlhf-env`` command.

    rlhf-env demo [--agent sb3] [--smoke]       the RLHF demo (see README)
    rlhf-env models                             list the offline (bundled) models
    rlhf-env feedback import|export STORE FILE  feedback data in and out of a store
    rlhf-env feedback report|check STORE        quality report; integrity and schema checks
    rlhf-env label STORE                        label pending feedback items in the terminal
    rlhf-env serve STORE                        the labeling web app and REST API
    rlhf-env rm train STORE --out DIR           train a reward model from a feedback store
    rlhf-env rm eval MODEL DATA                 a reward model's accuracy on feedback
    rlhf-env sft DEMOS --out DIR                supervised fine-tuning on demonstrations
    rlhf-env ppo --out DIR                      token-level PPO against any reward model
    rlhf-env prefs ENV_ID                       a control task learned from preferences
    rlhf-env bench list|run|report|compare      benchmark RL algorithms on RLHF tasks

Commands that train take ``--config FILE`` (TOML or YAML) and ``--set KEY=VALUE``; their
flags win over both. A user error never shows a traceback: the command prints one
``error: …`` line saying what to do and exits with status 2 for a bad option, name or
setting, 1 for anything else that failed (a bad file, a store that cannot be opened,
closed input). ``--debug`` (anywhere on the command line) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import sqlite3
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from rlhf_env.errors import RLHFEnvError, UnknownNameError
from rlhf_env.models.precision import PRECISIONS

USAGE_ERROR = 2
"""Exit status for a bad option, name or value (argparse uses it too)."""
FAILURE = 1
"""Exit status for a command that could not do its work (bad file, unusable store …)."""


def plain_text(text: str) -> str:
    """Docstring text without reST markup: double backquotes dropped, ``:role:`~a.b.C```
    references shortened to ``C`` (``:role:`text <target>``` to ``text``)."""

    def role(match: re.Match[str]) -> str:
        body = match.group(1)
        if "<" in body:
            return body.split("<")[0].strip()
        return body[1:].rsplit(".", 1)[-1] if body.startswith("~") else body

    text = re.sub(r":[a-z]+(?::[a-z]+)?:`([^`]+)`", role, text)
    return re.sub(r"``([^`]+)``", r"\1", text)


class HelpFormatter(argparse.HelpFormatter):
    """Descriptions are wrapped paragraph by paragraph, indented blocks (command lists) kept
    as written; an option with a default says it (unless its help already mentions one)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = []
        for para in re.split(r"\n\s*\n", text.strip("\n")):
            lines = para.splitlines()
            if any(line.startswith(" ") for line in lines):
                blocks.append("\n".join(indent + line for line in lines))
            else:
                blocks.append(textwrap.fill(" ".join(para.split()), width,
                                            initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(blocks)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default is argparse.SUPPRESS
                or default == [] or "default" in text.lower()
                or (not action.option_strings and action.nargs not in ("?", "*"))):
            return action.help
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class _SubCommands(argparse._SubParsersAction):
    """Subcommands whose ``--help`` starts with their one-line ``help`` (as plain text)."""

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if kwargs.get("description") is None and kwargs.get("help"):
            kwargs["description"] = kwargs["help"]
        if kwargs.get("description"):
            kwargs["description"] = plain_text(kwargs["description"])
        return super().add_parser(name, **kwargs)


class CommandParser(argparse.ArgumentParser):
    """The parser of ``rlhf-env`` and its subcommands: :class:`HelpFormatter` help, and
    subcommand descriptions from their help lines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _SubCommands)


def package_version() -> str:
    """The installed rlhf-env's version (from its distribution's metadata)."""
    try:
        return importlib.metadata.version("rlhf-env")
    except importlib.metadata.PackageNotFoundError:
        from rlhf_env import __version__

        return f"{__version__} (not installed: run from a source folder)"


def _cmd_models(args: argparse.Namespace) -> int:
    from rlhf_env.models import list_bundled_models

    for name, desc in list_bundled_models().items():
        print(f"{name:24s} {desc}")
    return 0


DEMO_GROUP = "rlhf_env.demos"
"""Entry-point group of the ``rlhf-env demo`` runs: the demos live with the learners in
``agents`` and are found here by name, as the benchmark's algorithms are, so the env
package never imports a learner."""


def _cmd_demo(args: argparse.Namespace) -> int:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group=DEMO_GROUP)}
    if "demo" not in found:
        raise RLHFEnvError(f"no demo is installed (entry point 'demo' in group {DEMO_GROUP!r}); "
                           f"reinstall rlhf-env (`pip install -e .` in a checkout), which "
                           f"provides it from agents.demos.")
    return int(found["demo"].load()(args))


COMMAND_GROUP = "rlhf_env.commands"
"""Entry-point group of commands that live with the learners (``agents``): each entry point
is a function ``add(subparsers)`` that adds its subcommand(s) to ``rlhf-env``, so the env
package lists learner commands without importing a learner until one is run."""


def _add_plugin_commands(sub: argparse._SubParsersAction) -> None:
    for ep in sorted(importlib.metadata.entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        ep.load()(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="rlhf-env", description=plain_text(__doc__ or ""),
                           epilog="--debug anywhere: show tracebacks of errors")
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("models", help="list the bundled offline models")
    p.set_defaults(func=_cmd_models)
    p = sub.add_parser("demo", help="run the RLHF demo on the offline defaults")
    p.add_argument("--agent", choices=("token-ppo", "sb3"), default="token-ppo",
                   help="token-ppo: fine-tune the LM with token-level PPO (default); sb3: the "
                        "stock SB3 PPO demo on the word-level bandit")
    p.add_argument("--smoke", action="store_true", help="a tiny, fast run (for tests)")
    p.add_argument("--frozen-precision", choices=PRECISIONS, default="float32",
                   help="precision of the frozen KL reference and reward-model encoder; "
                        "bfloat16 is faster on CPUs with bfloat16 units")
    p.add_argument("--out", default="runs", help="parent folder of the run folder")
    p.set_defaults(func=_cmd_demo)
    from rlhf_env.feedback.cli import add_feedback_commands

    add_feedback_commands(sub)
    from rlhf_env.feedback.learning.cli import add_reward_model_commands

    add_reward_model_commands(sub)
    from rlhf_env.control.cli import add_control_commands

    add_control_commands(sub)
    from rlhf_env.bench.cli import add_bench_commands

    add_bench_commands(sub)
    from rlhf_env.web.cli import add_web_commands

    add_web_commands(sub)
    _add_plugin_commands(sub)
    return parser


def exit_status(exc: BaseException,
                usage: tuple[type[BaseException], ...] = (UnknownNameError,)) -> int | None:
    """The exit status for a user error, or ``None`` for a bug (shown as a traceback).

    ``usage`` lists the errors a command counts as a bad option or name (status 2, like
    argparse's own); ``rlhf-env bench`` adds ConfigError and BenchmarkError to it.
    """
    if isinstance(exc, usage) and not isinstance(exc, OSError):
        return USAGE_ERROR
    if isinstance(exc, (RLHFEnvError, OSError, EOFError, UnicodeError, json.JSONDecodeError,
                        sqlite3.DatabaseError)):
        return FAILURE
    gym_error = getattr(sys.modules.get("gymnasium.error"), "Error", None)
    if gym_error is not None and isinstance(exc, gym_error):  # e.g. an unknown env id
        return USAGE_ERROR
    return None


def user_message(exc: BaseException) -> str:
    """One line that says what went wrong and, where we know it, what to do."""
    if isinstance(exc, EOFError):
        return ("the input ended (stdin is closed or empty): run the command in a terminal, "
                "or pipe its answers in.")
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, PermissionError):
        return f"{text} (check the file's permissions, or choose another path)."
    if isinstance(exc, IsADirectoryError):
        return f"{text} (that path is a folder; give a file's path)."
    if isinstance(exc, NotADirectoryError):
        return f"{text} (part of that path is a file, not a folder; choose another path)."
    if isinstance(exc, FileNotFoundError):
        return f"{text} (check the path)."
    return text


def run_parsed(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv``, run the chosen command, and turn user errors into one line.

    Every ``rlhf-env`` entry point (this one and the ``python -m …cli`` ones) goes through
    here, so no command needs its own error handling.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return int(func(args))
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:
        status = exit_status(exc, getattr(args, "usage_errors", (UnknownNameError,)))
        if status is None or debug:
            raise
        print(f"error: {user_message(exc)}", file=sys.stderr)
        if status == USAGE_ERROR:
            print(f"(see `{parser.prog} --help`; add --debug for the traceback)",
                  file=sys.stderr)
        return status


def main(argv: Sequence[str] | None = None) -> int:
    return run_parsed(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
