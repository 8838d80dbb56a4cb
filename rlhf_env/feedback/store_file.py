"""Opening a feedback store's SQLite file: only our own files, and read-only when asked.

:class:`~rlhf_env.feedback.store.FeedbackStore` opens its file through :func:`connect`,
which refuses, with a :class:`~rlhf_env.errors.StoreError` naming the path:

- a file that is not SQLite at all (a JSONL file given by mistake, random bytes);
- a truncated or corrupt SQLite file;
- another program's SQLite database (tables, but no ``meta.schema_version`` of ours);
- a store written by a newer rlhf-env (a higher schema version than this one reads);
- a folder, or a file it may not read (or write, unless opened read-only).

:func:`check_store` is what ``rlhf-env feedback check STORE`` prints: SQLite's integrity
check, the schema, records that no longer parse, and orphan queue entries.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from rlhf_env.errors import RLHFEnvError, StoreError

SCHEMA_VERSION = 1
"""The schema this version of rlhf-env writes and the newest it reads."""
TABLES = ("meta", "records", "retractions", "annotators", "queue", "queue_done")
"""Tables every store has."""
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _sniff(path: Path) -> bool:
    """Whether ``path`` already holds data (``False``: a new or empty file); raises for a
    file that is not SQLite."""
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a feedback store file; give the path of "
                         f"a .sqlite file (it is created if missing).")
    if not path.exists():
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read the feedback store {path}: {exc.strerror or exc}; "
                         f"check its permissions.") from None
    if not head:
        return False
    if not head.startswith(_SQLITE_MAGIC):
        raise StoreError(f"{path} is not a feedback store (not an SQLite file; it starts "
                         f"with {head[:16]!r}). Give the store's .sqlite file, or a new path "
                         f"to create one.")
    if len(head) < 100:
        raise StoreError(f"{path} is a truncated SQLite file ({len(head)} bytes); restore it "
                         f"from a backup.")
    return True


def connect(path: str, *, read_only: bool, timeout: float) -> tuple[sqlite3.Connection, bool]:
    """A connection to the store at ``path`` and whether the file already held a store.

    ``read_only=True`` opens an existing file with SQLite's ``mode=ro`` (so a store on a
    read-only disk, or one the user may only read, can still be reported on) and never
    creates one.
    """
    if path == ":memory:":
        if read_only:
            raise StoreError("a read-only store needs a file path, not ':memory:'.")
        return sqlite3.connect(path, timeout=timeout, isolation_level=None,
                               check_same_thread=False), False
    file = Path(path)
    existing = _sniff(file)
    try:
        if read_only:
            if not file.is_file():
                raise StoreError(f"no feedback store at {path!r}.")
            conn = _connect_read_only(file, timeout)
        else:
            if file.exists() and not os.access(file, os.W_OK):
                raise StoreError(f"the feedback store {path} is read-only; reading commands "
                                 f"(report, export, check) still work, or copy it somewhere "
                                 f"writable to change it.")
            file.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                   check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the feedback store {path}: {exc}.") from None
    return conn, existing


def _connect_read_only(file: Path, timeout: float) -> sqlite3.Connection:
    uri = file.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        # a WAL file on a folder we may not write to: read it as an immutable snapshot
        conn.close()
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=timeout,
                               isolation_level=None, check_same_thread=False)


def check_schema(conn: sqlite3.Connection, path: str) -> int | None:
    """The file's schema version (``None`` for an empty database); raises for foreign,
    corrupt or newer files."""
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        if "meta" not in tables:
            raise StoreError(
                f"{path} is an SQLite database but not a feedback store (it has the tables "
                f"{', '.join(sorted(tables)[:6])}); give a store's file, or a new path.")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is corrupt or not a feedback store ({exc}); restore it from "
                         f"a backup, or run `rlhf-env feedback check {path}`.") from None
    version = _version(row, path)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer rlhf-env (store schema {version}; this version "
            f"reads up to {SCHEMA_VERSION}). Upgrade rlhf-env to open it.")
    missing = [t for t in TABLES if t not in tables]
    if missing:
        raise StoreError(f"{path} is an incomplete feedback store (missing table(s) "
                         f"{', '.join(missing)}); restore it from a backup.")
    return version


def _version(row: Any, path: str) -> int:
    try:
        version = int(row[0])
    except (TypeError, ValueError, IndexError):
        raise StoreError(f"{path} has no valid schema version in its meta table "
                         f"({None if row is None else row[0]!r}); it is not a feedback store "
                         f"this version can open.") from None
    if version < 1:
        raise StoreError(f"{path} has an invalid schema version {version}.")
    return version


def check_store(store: Any) -> list[str]:
    """Problems found in an open store (empty: healthy): integrity, schema, unreadable
    records, orphan queue entries."""
    from rlhf_env.feedback.records import record_from_dict

    problems: list[str] = []
    integrity = store.integrity_check()
    if integrity != "ok":
        problems.append(f"SQLite integrity check: {integrity}")
    conn = store._conn
    bad = 0
    first = ""
    for seq, data in conn.execute("SELECT seq, data FROM records"):
        try:
            record_from_dict(json.loads(data))
        except (ValueError, RLHFEnvError) as exc:
            bad += 1
            first = first or f"row {seq}: {exc}"
    if bad:
        problems.append(f"{bad} record(s) do not parse (first: {first})")
    queries = {
        "answer(s) refer to a missing queue item":
            "SELECT COUNT(*) FROM queue_done WHERE item_id NOT IN (SELECT item_id FROM queue)",
        "repeat item(s) refer to a missing queue item":
            "SELECT COUNT(*) FROM queue WHERE repeat_of IS NOT NULL AND repeat_of NOT IN "
            "(SELECT item_id FROM queue)",
        "answer(s) refer to a missing record":
            "SELECT COUNT(*) FROM queue_done WHERE status = 'done' AND (record_id IS NULL OR "
            "record_id NOT IN (SELECT id FROM records))",
        "retraction(s) refer to a missing record":
            "SELECT COUNT(*) FROM retractions WHERE record_id NOT IN (SELECT id FROM records)",
    }
    for what, sql in queries.items():
        n = int(conn.execute(sql).fetchone()[0])
        if n:
            problems.append(f"{n} {what}")
    for item_id, payload in conn.execute("SELECT item_id, payload FROM queue"):
        try:
            json.loads(payload)["prompt"]
        except (ValueError, KeyError, TypeError):
            problems.append(f"queue item {item_id} has an unreadable payload")
    return problems


__all__ = ["SCHEMA_VERSION", "TABLES", "check_schema", "check_store", "connect"]
