"""Feedback commands for ``rlhf-env``.

    rlhf-env label STORE [--annotator ID] [--task T] [--follow]   label queued items
    rlhf-env feedback report STORE [--out report.md]    volume, coverage, agreement, quality
    rlhf-env feedback import STORE FILE [--format F]    ours, TRL or HH-RLHF rows into a store
    rlhf-env feedback export STORE FILE [--format F]    a store to ours, TRL or HH-RLHF rows
    rlhf-env feedback enqueue STORE FILE                queue items (JSONL of enqueue specs)
    rlhf-env feedback check STORE                       integrity, schema, orphan queue items

``report``, ``export`` and ``check`` open the store read-only (they work on a file the user
may only read). Errors are reported by :func:`rlhf_env.cli.run_parsed` as one line.

:func:`add_feedback_commands` adds them to the ``rlhf-env`` parser; ``python -m
rlhf_env.feedback.cli …`` runs them on their own.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import inspect
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rlhf_env.errors import FeedbackError, RLHFEnvError
from rlhf_env.feedback.formats import FORMATS, IMPORT_FORMATS
from rlhf_env.feedback.io import read_feedback, refuse_bad_lines, write_feedback
from rlhf_env.feedback.records import RECORD_TYPES
from rlhf_env.feedback.report import build_report, format_text, write_report
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.feedback.store_file import SCHEMA_VERSION
from rlhf_env.feedback.terminal import TerminalLabeler
from rlhf_env.files import read_utf8
from rlhf_env.validation import arg_float

Command = Callable[[argparse.Namespace], int]


def _existing_store(path: str, read_only: bool = False) -> FeedbackStore:
    if path != ":memory:" and not Path(path).exists():
        raise RLHFEnvError(
            f"no feedback store at {path!r}; create one by importing data "
            f"(`rlhf-env feedback import {path} data.jsonl`) or enqueueing items."
        )
    return FeedbackStore(path, read_only=read_only)


def _default_annotator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "anonymous"


def _cmd_label(args: argparse.Namespace) -> int:
    with _existing_store(args.store) as store:
        TerminalLabeler(store, args.annotator or _default_annotator(), task=args.task,
                        follow=args.follow, idle_timeout=args.idle_timeout,
                        open_clips=args.open_clips).run()
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    with _existing_store(args.store, read_only=True) as store:
        report = build_report(store)
    print(format_text(report), end="")
    if args.out:
        path = write_report(report, args.out, plots=not args.no_plots)
        print(f"\nwrote {path}")
    return 0


_OLD_FORMAT_NAMES = {"jsonl": "rlhf-env"}
"""Format names earlier versions took: ``--format jsonl`` meant our own records."""


def _cmd_import(args: argparse.Namespace) -> int:
    fmt = _OLD_FORMAT_NAMES.get(args.format, args.format)
    with contextlib.ExitStack() as stack:
        # An existing store is checked before the file is read; a new one is created only
        # once the file has been read whole, so a bad or empty file creates nothing.
        store = (stack.enter_context(FeedbackStore(args.store))
                 if args.store == ":memory:" or Path(args.store).exists() else None)
        result = read_feedback(args.file, fmt, on_error="skip", task=args.task,
                               annotator=args.annotator)  # every row read before any is written
        if not args.skip_bad:
            refuse_bad_lines(args.file, result, skip_hint="pass --skip-bad to import the good "
                                                          "lines and list the bad ones")
        if result.empty:
            raise FeedbackError(f"{args.file} holds no records (it is empty); nothing was "
                                f"imported. Point `feedback import` at a file of feedback "
                                f"rows (see docs/formats.md).")
        store = store or stack.enter_context(FeedbackStore(args.store))
        result.added = store.add_many(result.records, annotators=result.annotators)
    print(f"imported {result.added} record(s) ({len(result.records) - result.added} duplicate)"
          f" from {args.file} as {result.format}.")
    for err in result.errors:
        print(f"skipped {err}", file=sys.stderr)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    with _existing_store(args.store, read_only=True) as store:
        records = store.iter(args.kind) if args.kind else store
        result = write_feedback(records, args.file, args.format,
                                annotators=store.annotators())
    print(result.summary())
    return 0


_ENQUEUE_KEYS = frozenset(inspect.signature(FeedbackStore.enqueue).parameters) - {"self"}


def _enqueue_specs(path: str) -> list[tuple[int, dict[str, Any]]]:
    """The enqueue specs of a JSONL file; a bad line raises naming the file and line."""
    specs = []
    for n, line in enumerate(read_utf8(path, FeedbackError).splitlines(), 1):
        if not line.strip():
            continue
        try:
            spec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FeedbackError(f"{path}, line {n}: not valid JSON ({exc.msg}).") from None
        if not isinstance(spec, dict) or "kind" not in spec or "prompt" not in spec:
            raise FeedbackError(f"{path}, line {n}: expected an object with 'kind' and "
                                f"'prompt' (and 'responses'), got {line.strip()[:60]!r}.")
        unknown = sorted(set(spec) - _ENQUEUE_KEYS)
        if unknown:
            raise FeedbackError(f"{path}, line {n}: unknown key(s) {unknown}; known: "
                                f"{sorted(_ENQUEUE_KEYS)}.")
        specs.append((n, spec))
    return specs


def _cmd_enqueue(args: argparse.Namespace) -> int:
    specs = _enqueue_specs(args.file)
    with FeedbackStore(args.store) as store:
        ids = []
        for n, spec in specs:
            try:
                ids.append(store.enqueue(**spec))
            except FeedbackError as exc:
                raise FeedbackError(f"{args.file}, line {n}: {exc} ({len(ids)} item(s) before "
                                    f"it were enqueued).") from None
    print(f"enqueued {len(ids)} item(s)")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    with _existing_store(args.store, read_only=True) as store:
        problems = store.check()
    if not problems:
        print(f"{args.store}: ok (schema {SCHEMA_VERSION}, integrity ok, no orphan queue "
              f"items)")
        return 0
    for problem in problems:
        print(f"{args.store}: {problem}")
    return 1


def add_feedback_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``label`` and ``feedback {report,import,export,enqueue}`` to ``subparsers``."""
    p = subparsers.add_parser("label", help="label queued feedback items in the terminal")
    p.add_argument("store", help="feedback store (SQLite file)")
    p.add_argument("--annotator", default=None, help="your annotator id (default: user name)")
    p.add_argument("--task", default=None, help="only items of this task")
    p.add_argument("--follow", nargs="?", type=arg_float(0.0, exclusive_min=True), const=2.0,
                   default=None,
                   metavar="SECONDS", help="when the queue is empty, wait for new items "
                   "(poll every SECONDS, default 2) instead of exiting; Ctrl-C stops")
    p.add_argument("--idle-timeout", type=arg_float(0.0), default=None, metavar="SECONDS",
                   help="with --follow: stop after this long without a new item")
    p.add_argument("--open-clips", action="store_true",
                   help="open the two clips of each clip comparison in the system viewer "
                        "(xdg-open, open or start); the o key does it for one item")
    p.set_defaults(func=_cmd_label)

    fb = subparsers.add_parser("feedback", help="feedback data: report, import, export, queue")
    sub = fb.add_subparsers(dest="feedback_command", required=True)
    p = sub.add_parser("report", help="volume, coverage, agreement, gold accuracy, annotators")
    p.add_argument("store", help="feedback store (SQLite file)")
    p.add_argument("--out", default=None, help="also write report.md or report.html (+ PNGs)")
    p.add_argument("--no-plots", action="store_true", help="write the report without plots")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("import", help="import feedback rows: ours, TRL, HH-RLHF "
                       "(all-or-nothing unless --skip-bad)")
    p.add_argument("store", help="feedback store (created if missing)")
    p.add_argument("file", help=".jsonl, .json (a list), either gzipped, .parquet, or a "
                   "datasets save_to_disk folder")
    p.add_argument("--format", choices=(*IMPORT_FORMATS, *_OLD_FORMAT_NAMES), default="auto",
                   help="the file's format (default: detected from its first rows; "
                   "see docs/formats.md)")
    p.add_argument("--task", default=None,
                   help="task of TRL/HH-RLHF records (default: the format's name)")
    p.add_argument("--annotator", default=None,
                   help="annotator of TRL/HH-RLHF records (default: the format's name)")
    p.add_argument("--skip-bad", action="store_true", help="import good lines, list bad ones")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("export", help="export a store's records: ours, TRL or HH-RLHF")
    p.add_argument("store", help="feedback store (SQLite file)")
    p.add_argument("file", help=".jsonl, .json (a list), or either gzipped (.gz)")
    p.add_argument("--format", choices=FORMATS, default="rlhf-env",
                   help="rlhf-env keeps everything; the others skip (and count) the records "
                   "they cannot hold")
    p.add_argument("--kind", choices=tuple(RECORD_TYPES), default=None,
                   help="only records of this kind")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("enqueue", help="add items to the labeling queue from a JSONL file")
    p.add_argument("store", help="feedback store (created if missing)")
    p.add_argument(
        "file", help='JSONL, one item a line: {"kind": "comparison", "prompt": …, "responses": […]}'
    )
    p.set_defaults(func=_cmd_enqueue)

    p = sub.add_parser("check", help="check a store: SQLite integrity, schema, orphan items")
    p.add_argument("store", help="feedback store (SQLite file)")
    p.set_defaults(func=_cmd_check)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the feedback commands on their own (``python -m rlhf_env.feedback.cli``)."""
    parser = argparse.ArgumentParser(prog="rlhf-env", description="feedback commands")
    add_feedback_commands(parser.add_subparsers(dest="command", required=True))
    from rlhf_env.cli import run_parsed

    return run_parsed(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
