"""Web commands for ``rlhf-env``.

    rlhf-env serve STORE [--host 127.0.0.1] [--port 8000] [--instructions DIR]
    rlhf-env annotators add NAME [--attr KEY=VALUE …] [--store STORE] [--url URL]
    rlhf-env annotators list [--store STORE]
    rlhf-env annotators token NAME [--store STORE]     a new login link (old ones revoked)
    rlhf-env annotators admin [--store STORE]          a new admin token for the dashboard

``--store`` defaults to ``$RLHF_ENV_STORE``. :func:`add_web_commands` adds them to the
``rlhf-env`` parser.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rlhf_env.errors import ConfigError, FeedbackError, StoreError, UnknownNameError
from rlhf_env.feedback.records import Annotator
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.validation import arg_float, arg_int
from rlhf_env.web.config import MAX_LEASE_S

USAGE = (UnknownNameError, ConfigError)
"""A missing ``--store`` or a malformed ``--attr`` is a usage error (exit status 2)."""


def _store(args: argparse.Namespace, create: bool = True) -> FeedbackStore:
    """The store of ``--store`` (or ``$RLHF_ENV_STORE``). Commands that only read or change
    existing annotators (``create=False``) refuse a path with no store, where a typo would
    otherwise create an empty one."""
    path = args.store or os.environ.get("RLHF_ENV_STORE")
    if not path:
        raise ConfigError("which feedback store? pass --store STORE or set RLHF_ENV_STORE.")
    if not create and not os.path.exists(path):
        raise StoreError(f"no feedback store at {path}; check the path, or create one with "
                         f"`rlhf-env annotators add NAME --store {path}`.")
    return FeedbackStore(path)


def _attrs(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--attr takes KEY=VALUE (e.g. expertise=doctor), got {pair!r}.")
        out[key.strip()] = value.strip()
    return out


def _link(url: str, token: str) -> str:
    return f"{url.rstrip('/')}/login?token={token}"


def _cmd_add(args: argparse.Namespace) -> int:
    attrs = _attrs(args.attr)
    with _store(args) as store:
        if any(a.id == args.name for a in store.annotators()):
            raise FeedbackError(
                f"annotator {args.name!r} exists already (adding it again would wipe its "
                f"attributes); `rlhf-env annotators token {args.name}` gives a new link.")
        store.add_annotator(Annotator(args.name, attrs))
        token = store.issue_token(args.name)
    print(f"added annotator {args.name!r}; send them this login link (keep it secret):")
    print(_link(args.url, token))
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    with _store(args, create=False) as store:
        if not any(a.id == args.name for a in store.annotators()):
            raise FeedbackError(f"no annotator {args.name!r} in this store; add them with "
                                f"`rlhf-env annotators add {args.name}`.")
        revoked = store.revoke_tokens(args.name, "annotator")
        token = store.issue_token(args.name)
    print(f"new login link for {args.name!r} ({revoked} old one(s) revoked):")
    print(_link(args.url, token))
    return 0


def _cmd_admin(args: argparse.Namespace) -> int:
    with _store(args) as store:
        token = store.issue_token(args.name, "admin")
    print("admin login link (dashboard) — the token also works as 'Authorization: Bearer':")
    print(_link(args.url, token))
    print(f"token: {token}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with _store(args, create=False) as store:
        for a in store.annotators():
            attrs = " ".join(f"{k}={v}" for k, v in sorted(a.attributes.items()))
            print(f"{a.id:20s} {store.count(annotator=a.id):6d} labels  {attrs}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from rlhf_env.web.server import serve

    return serve(args.store, host=args.host, port=args.port, lease_s=args.lease_seconds,
                 instructions=Path(args.instructions) if args.instructions else None,
                 clip_dir=Path(args.clips) if args.clips else None)


def _annotator_commands(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", default=None, help="feedback store (default: $RLHF_ENV_STORE)")
    common.add_argument("--url", default="http://127.0.0.1:8000",
                        help="the server's address as annotators reach it (for the link)")
    p = sub.add_parser("add", parents=[common], help="register an annotator, print their link")
    p.add_argument("name")
    p.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE",
                   help="an attribute (expertise=doctor, language=fr…); repeat for more")
    p.set_defaults(func=_cmd_add, usage_errors=USAGE)
    p = sub.add_parser("token", parents=[common], help="a new login link (revokes old ones)")
    p.add_argument("name")
    p.set_defaults(func=_cmd_token, usage_errors=USAGE)
    p = sub.add_parser("admin", parents=[common], help="a new admin token (dashboard, API)")
    p.add_argument("--name", default="admin", help="whose admin token (for the record)")
    p.set_defaults(func=_cmd_admin, usage_errors=USAGE)
    p = sub.add_parser("list", parents=[common], help="annotators, label counts, attributes")
    p.set_defaults(func=_cmd_list, usage_errors=USAGE)


def add_web_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``serve`` and ``annotators {add,token,admin,list}`` to ``subparsers``."""
    p = subparsers.add_parser("serve", help="the labeling web app and REST API over a store")
    p.add_argument("store", help="feedback store (SQLite file; created if missing)")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=arg_int(1, 65535), default=8000)
    p.add_argument("--lease-seconds", type=arg_float(0.0, MAX_LEASE_S, exclusive_min=True),
                   default=600.0,
                   help="how long a shown item stays reserved for its annotator")
    p.add_argument("--instructions", default=None, metavar="DIR",
                   help="folder of Markdown instructions: TASK.md per task, default.md")
    p.add_argument("--clips", default=None, metavar="DIR",
                   help="folder clips are served from (default: clips/ next to the store)")
    p.set_defaults(func=_cmd_serve)
    ann = subparsers.add_parser("annotators", help="annotators and their login links")
    _annotator_commands(ann.add_subparsers(dest="annotators_command", required=True))


__all__ = ["add_web_commands"]
