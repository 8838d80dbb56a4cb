"""``FeedbackStore``: an append-only SQLite store of feedback records and a labeling queue.

    >>> from rlhf_env.feedback import Comparison
    >>> store = FeedbackStore(":memory:")
    >>> store.add(Comparison("Say hi", "Hello!", "Go away.", "a", annotator="ann1"))
    True
    >>> store.count(kind="comparison")
    1

Guarantees:

- **Append-only history.** A stored record is never updated or deleted. Retracting one
  (:meth:`FeedbackStore.retract`) or replacing it (:meth:`FeedbackStore.supersede`) writes
  a new row; reads hide retracted records unless asked for them.
- **Durability.** Each :meth:`~FeedbackStore.add` is one transaction and
  :meth:`~FeedbackStore.add_many` is one transaction for the whole batch. The database runs
  in WAL mode with ``synchronous=FULL`` by default: once a call returns, the record
  survives the process being killed (even with SIGKILL) and the file stays readable.
- **Duplicates** (same content hash, see
  :attr:`~rlhf_env.feedback.records.FeedbackRecord.content_hash`) are skipped by default;
  ``on_duplicate="keep"`` stores them again, ``"raise"`` raises
  :class:`~rlhf_env.errors.FeedbackError`.
- **Unknown annotators** are accepted unless ``require_known_annotators=True``; then every
  annotator must first be registered with :meth:`FeedbackStore.add_annotator`.

The **labeling queue** holds questions waiting for people (``rlhf-env label``, the terminal
labeler, and the control loop's queue labeler use it): :meth:`~FeedbackStore.enqueue` an
item, :meth:`~FeedbackStore.next_pending` gives an annotator the next item they have not
answered yet, and
:meth:`~FeedbackStore.complete` stores the answer and marks the item done in one
transaction, so a labeler that is stopped at any point resumes where it stopped. Items can
carry a known ``gold`` answer, and :meth:`~FeedbackStore.enqueue_repeat` asks the same
annotators the same question again later (for self-consistency); the answer records carry
this in their metadata (``queue_item``, ``gold_answer``, ``repeat_of``).

**Assignment** is one piece of logic, :meth:`~FeedbackStore.claim`, used by the terminal
labeler and the web app alike: it *leases* an item to an annotator until the lease expires
(a shown and abandoned item comes back), counts leases against the item's
``labels_wanted`` (the overlap: k annotators per item, never more), never gives one person
the same item twice, caps how many items one person holds at once, follows the queue's
priority order and stores the order the responses were shown in. :meth:`~FeedbackStore.undo`
takes an answer back (the record is retracted, the item is offered again).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rlhf_env.errors import ConfigError, FeedbackError, QueueConflictError, StoreError
from rlhf_env.feedback import control_items
from rlhf_env.feedback.records import (
    RECORD_TYPES,
    Annotator,
    Comparison,
    Correction,
    Demonstration,
    FeedbackRecord,
    Ranking,
    Rating,
    parse_timestamp,
    record_from_dict,
)
from rlhf_env.feedback.store_file import SCHEMA_VERSION, check_schema, check_store, connect
from rlhf_env.validation import check_float, check_int, check_str

DuplicatePolicy = Literal["skip", "keep", "raise"]
QUEUE_KINDS = ("comparison", "ranking", "rating", "correction", "demonstration",
               "control_correction")
"""Question kinds the queue holds; the answer is a record of the same kind
(``control_correction``: see :mod:`rlhf_env.feedback.control_items`)."""

_SCHEMA_VERSION = str(SCHEMA_VERSION)
_PAGE = 1000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    task TEXT NOT NULL,
    annotator TEXT NOT NULL,
    timestamp REAL NOT NULL,
    item_key TEXT NOT NULL,
    data TEXT NOT NULL,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_id ON records (id);
CREATE INDEX IF NOT EXISTS records_kind ON records (kind, task);
CREATE INDEX IF NOT EXISTS records_annotator ON records (annotator);
CREATE INDEX IF NOT EXISTS records_time ON records (timestamp);
CREATE TABLE IF NOT EXISTS retractions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    superseded_by TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS retractions_id ON retractions (record_id);
CREATE TABLE IF NOT EXISTS annotators (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    attributes TEXT NOT NULL,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS annotators_id ON annotators (id);
CREATE TABLE IF NOT EXISTS queue (
    item_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    task TEXT NOT NULL,
    payload TEXT NOT NULL,
    gold TEXT,
    repeat_of INTEGER REFERENCES queue (item_id),
    annotator TEXT,
    labels_wanted INTEGER NOT NULL,
    priority REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_done (
    item_id INTEGER NOT NULL REFERENCES queue (item_id),
    annotator TEXT NOT NULL,
    status TEXT NOT NULL,
    record_id TEXT,
    at REAL NOT NULL,
    PRIMARY KEY (item_id, annotator)
);
CREATE TABLE IF NOT EXISTS queue_leases (
    item_id INTEGER NOT NULL REFERENCES queue (item_id),
    annotator TEXT NOT NULL,
    session TEXT NOT NULL,
    shown_order TEXT NOT NULL,
    leased_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (item_id, annotator)
);
CREATE INDEX IF NOT EXISTS queue_leases_annotator ON queue_leases (annotator, expires_at);
CREATE TABLE IF NOT EXISTS access_tokens (
    token_hash TEXT PRIMARY KEY,
    annotator TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
"""


@dataclass(frozen=True)
class QueueItem:
    """A question waiting in the labeling queue.

    ``responses`` holds 2 responses for a comparison, K for a ranking, 1 for a rating or a
    correction (the response to edit), 1 for a control correction (the clip of the agent's
    episode; the rest is in ``metadata``, see :mod:`~rlhf_env.feedback.control_items`) and
    none for a demonstration. ``gold`` is the known
    answer of a gold item (``"a"``/``"b"``/``"tie"``, a score, or ranking groups), else
    ``None``; ``repeat_of`` is the item this one repeats.
    """

    item_id: int
    kind: str
    prompt: str
    responses: tuple[str, ...]
    task: str = "default"
    scale: tuple[float, float] | None = None
    gold: Any = None
    repeat_of: int | None = None
    annotator: str | None = None
    labels_wanted: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_gold(self) -> bool:
        """Whether the item has a known answer."""
        return self.gold is not None

    def answer_metadata(self) -> dict[str, Any]:
        """Metadata :meth:`FeedbackStore.complete` adds to the answer record."""
        meta: dict[str, Any] = {"queue_item": self.item_id}
        if self.gold is not None:
            meta["gold_answer"] = self.gold
        if self.repeat_of is not None:
            meta["repeat_of"] = self.repeat_of
        return meta

    def answer_record(self, answer: Any, **envelope: Any) -> FeedbackRecord:
        """The record that answers this item (``envelope``: annotator, timestamp, …).

        ``answer`` is ``"a"``/``"b"``/``"tie"`` for a comparison, the score for a rating,
        groups of response indices best first for a ranking (``((1,), (0, 2))``), and the
        new text for a correction or a demonstration, ``(step, actions)`` for a control
        correction.
        """
        envelope = {"task": self.task, **envelope}
        if self.kind == control_items.KIND:
            return control_items.answer_record(self, answer, **envelope)
        if self.kind == "comparison":
            a, b = self.responses
            return Comparison(self.prompt, a, b, answer, **envelope)
        if self.kind == "rating":
            assert self.scale is not None  # enqueue checks rating items have one
            return Rating(self.prompt, self.responses[0], answer, scale=self.scale, **envelope)
        if self.kind == "ranking":
            groups = tuple(tuple(self.responses[i] for i in g) for g in answer)
            return Ranking(self.prompt, groups, **envelope)
        if self.kind == "correction":
            return Correction(self.prompt, self.responses[0], answer, **envelope)
        return Demonstration(self.prompt, answer, **envelope)


def _check_queue_item(kind: str, prompt: Any, responses: Sequence[Any], scale: Any,
                      gold: Any = None, labels_wanted: Any = 1, priority: Any = 0.0,
                      task: Any = "default", annotator: Any = None,
                      metadata: Any = None) -> tuple[float, float] | None:
    """Refuse a queue item no labeler could answer; returns its scale as two floats.

    Every field is checked here once (the queue methods call this, so ``enqueue``, the
    ``feedback enqueue`` command and the web app refuse the same items).
    """
    if kind not in QUEUE_KINDS:
        raise FeedbackError(f"unknown queue item kind {kind!r}; use one of {QUEUE_KINDS}.")
    if not isinstance(prompt, str) or not prompt.strip():
        raise FeedbackError(f"{kind} item: the prompt is empty.")
    if isinstance(responses, str) or not isinstance(responses, Sequence):
        raise FeedbackError(f"{kind} item: responses must be a list of texts, got "
                            f"{responses!r:.60}.")
    wanted = {"comparison": (2, 2), "ranking": (2, 10_000), "rating": (1, 1)}.get(
        kind, (1, 1) if kind in ("correction", control_items.KIND) else (0, 0)
    )
    if not wanted[0] <= len(responses) <= wanted[1]:
        raise FeedbackError(
            f"{kind} item needs {wanted[0]}"
            + ("" if wanted[0] == wanted[1] else "+")
            + f" response(s), got {len(responses)}."
        )
    if any(not isinstance(r, str) or not r.strip() for r in responses):
        raise FeedbackError(f"{kind} item: a response is empty.")
    if len(set(responses)) != len(responses):
        raise FeedbackError(f"{kind} item: responses must all differ (a labeler cannot "
                            f"choose between identical texts), got {list(responses)!r:.80}.")
    for name, text in (("prompt", prompt), *(("response", r) for r in responses)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise FeedbackError(f"{kind} item: the {name} cannot be stored as UTF-8 (it has "
                                f"a lone surrogate).") from None
    checked_scale = _check_scale(kind, scale)
    if kind == control_items.KIND:
        control_items.check_item(metadata, gold)
    _check_gold(kind, gold, responses, checked_scale)
    check_int("labels_wanted", labels_wanted, minimum=1, error=FeedbackError)
    check_float("priority", priority, error=FeedbackError)
    check_str("task", task, error=FeedbackError)
    if annotator is not None:
        check_str("annotator", annotator, error=FeedbackError)
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise FeedbackError(f"{kind} item: metadata must be a dict, got {metadata!r:.60}.")
        try:
            json.dumps(metadata, allow_nan=False, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise FeedbackError(f"{kind} item: metadata must be JSON with finite numbers "
                                f"({exc}).") from None
    return checked_scale


def _check_scale(kind: str, scale: Any) -> tuple[float, float] | None:
    if scale is None:
        if kind == "rating":
            raise FeedbackError("rating item needs a scale (min, max) with min < max, got None.")
        return None
    if isinstance(scale, str) or not isinstance(scale, Sequence) or len(scale) != 2:
        raise FeedbackError(f"{kind} item: scale must be (min, max), got {scale!r:.60}.")
    lo = check_float("scale min", scale[0], error=FeedbackError)
    hi = check_float("scale max", scale[1], error=FeedbackError)
    if not lo < hi:
        raise FeedbackError(f"{kind} item needs a scale (min, max) with min < max, got "
                            f"{(lo, hi)}.")
    return lo, hi


def _check_gold(kind: str, gold: Any, responses: Sequence[str],
                scale: tuple[float, float] | None) -> None:
    """A gold answer must be one a labeler could give for this very item."""
    if gold is None:
        return
    if kind == "comparison" and gold not in ("a", "b", "tie"):
        raise FeedbackError(f"comparison item: gold must be 'a', 'b' or 'tie', got {gold!r}.")
    if kind == "rating":
        value = check_float("gold", gold, error=FeedbackError)
        if scale is not None and not scale[0] <= value <= scale[1]:
            raise FeedbackError(f"rating item: gold {value:g} is outside the item's scale "
                                f"[{scale[0]:g}, {scale[1]:g}].")
    if kind == "ranking":
        groups = [gold] if isinstance(gold, str) else gold
        flat = [r for g in (groups or []) for r in ([g] if isinstance(g, str) else g)]
        if sorted(flat) != sorted(responses):
            raise FeedbackError("ranking item: gold must rank every response of the item "
                                f"exactly once (groups of texts), got {gold!r:.80}.")
    if kind in ("correction", "demonstration") and (not isinstance(gold, str)
                                                    or not gold.strip()):
        raise FeedbackError(f"{kind} item: gold must be a non-empty text, got {gold!r:.60}.")


def _check_answer(item: QueueItem, record: FeedbackRecord) -> None:
    """``record`` answers ``item``: same kind, prompt, responses and scale."""
    where = f"queue item {item.item_id}"
    if item.kind != record.KIND:
        raise FeedbackError(f"{where} asks for a {item.kind}, got a {record.KIND} record.")
    if item.kind == control_items.KIND:
        control_items.check_answer(item, record)
        return
    prompt = getattr(record, "prompt", None)
    if prompt != item.prompt:
        raise FeedbackError(f"{where}: the answer is about another prompt ({prompt!r:.40} "
                            f"instead of {item.prompt!r:.40}).")
    if record.KIND == "comparison":
        answered = [record.response_a, record.response_b]  # type: ignore[attr-defined]
    elif record.KIND == "ranking":
        answered = list(record.responses)  # type: ignore[attr-defined]
    elif record.KIND == "rating":
        answered = [record.response]  # type: ignore[attr-defined]
    elif record.KIND == "correction":
        answered = [record.original]  # type: ignore[attr-defined]
    else:
        answered = []
    if sorted(answered) != sorted(item.responses):
        raise FeedbackError(f"{where}: the answer is about other responses than the item's.")
    if record.KIND == "rating" and tuple(record.scale) != item.scale:  # type: ignore[attr-defined]
        raise FeedbackError(f"{where}: the rating uses the scale "
                            f"{tuple(record.scale)}, the item asks on "  # type: ignore[attr-defined]
                            f"{item.scale}.")


class FeedbackStore:
    """Feedback records, annotators and a labeling queue in one SQLite file.

    Args:
        path: database file (created with its folder if missing) or ``":memory:"``.
        on_duplicate: what :meth:`add` does with a record whose content hash is already
            stored: ``"skip"`` (default, returns ``False``), ``"keep"`` (stores it again) or
            ``"raise"`` (:class:`~rlhf_env.errors.FeedbackError`).
        require_known_annotators: reject records whose annotator was not registered with
            :meth:`add_annotator`.
        synchronous: SQLite ``synchronous`` level; ``"FULL"`` (default) makes every
            acknowledged write durable even on power loss, ``"NORMAL"`` is faster and still
            survives a killed process.
        timeout: seconds to wait for another process's write lock.
        read_only: open an existing store without writing to it (reports, exports, checks;
            works on a file or disk the user may only read). Writing methods then raise
            :class:`~rlhf_env.errors.StoreError`.

    Only a store's own files open: a file that is not SQLite, a corrupt or truncated one,
    another program's database, or a store of a newer schema raises
    :class:`~rlhf_env.errors.StoreError` naming the path (see
    :mod:`rlhf_env.feedback.store_file`).
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        on_duplicate: DuplicatePolicy = "skip",
        require_known_annotators: bool = False,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        timeout: float = 30.0,
        read_only: bool = False,
    ) -> None:
        if on_duplicate not in ("skip", "keep", "raise"):
            raise ConfigError(
                f"on_duplicate must be 'skip', 'keep' or 'raise', got {on_duplicate!r}."
            )
        if synchronous not in ("FULL", "NORMAL"):
            raise ConfigError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}.")
        self.path = str(path)
        self.on_duplicate: DuplicatePolicy = on_duplicate
        self.require_known_annotators = require_known_annotators
        self.read_only = bool(read_only)
        self._lock = threading.RLock()
        self._conn, _ = connect(self.path, read_only=self.read_only, timeout=timeout)
        self._conn.row_factory = sqlite3.Row
        try:
            self._set_up(synchronous)
        except BaseException:
            self._conn.close()
            raise

    def _set_up(self, synchronous: str) -> None:
        """Check the file is one of ours (or new), then create the schema if needed."""
        try:
            version = check_schema(self._conn, self.path)
            if self.read_only:
                if version is None:
                    raise StoreError(f"{self.path} is an empty database, not a feedback store.")
                self._conn.execute("PRAGMA query_only=ON")
                return
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.execute("PRAGMA foreign_keys=ON")
            with self._transaction() as cur:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        cur.execute(stmt)
                cur.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (_SCHEMA_VERSION,),
                )
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the feedback store {self.path}: {exc}; run "
                             f"`rlhf-env feedback check {self.path}`.") from None

    # -- plumbing ------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """One ``BEGIN IMMEDIATE … COMMIT`` (rolled back if the block raises)."""
        if self.read_only:
            raise StoreError(f"the feedback store {self.path} was opened read-only; open it "
                             f"with FeedbackStore({self.path!r}) to change it.")
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        """Close the database connection (the store is unusable afterwards)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FeedbackStore({self.path!r}, records={self.count()})"

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` result (``"ok"`` for a healthy file)."""
        with self._lock:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    def check(self) -> list[str]:
        """Problems in the file (empty list: healthy): SQLite integrity, records that do not
        parse, orphan queue entries (``rlhf-env feedback check``)."""
        with self._lock:
            return check_store(self)

    # -- annotators ----------------------------------------------------------------------
    def add_annotator(self, annotator: Annotator) -> None:
        """Register an annotator (a later call with the same id updates its attributes)."""
        if not isinstance(annotator, Annotator):
            raise FeedbackError(f"add_annotator expects an Annotator, got {annotator!r}.")
        with self._transaction() as cur:
            self._insert_annotator(cur, annotator)

    @staticmethod
    def _insert_annotator(cur: sqlite3.Cursor, annotator: Annotator) -> None:
        if not isinstance(annotator, Annotator):
            raise FeedbackError(f"expected an Annotator, got {annotator!r}.")
        cur.execute(
            "INSERT INTO annotators (id, attributes, added_at) VALUES (?, ?, ?)",
            (annotator.id, json.dumps(dict(annotator.attributes), allow_nan=False),
             time.time()),
        )

    def annotators(self) -> list[Annotator]:
        """Registered annotators (latest attributes of each), sorted by id."""
        rows = self._query(
            "SELECT id, attributes FROM annotators WHERE seq IN "
            "(SELECT MAX(seq) FROM annotators GROUP BY id) ORDER BY id"
        )
        return [Annotator(r["id"], json.loads(r["attributes"])) for r in rows]

    def annotator(self, annotator_id: str) -> Annotator:
        """The registered annotator ``annotator_id``; unknown ids raise FeedbackError."""
        for a in self.annotators():
            if a.id == annotator_id:
                return a
        raise FeedbackError(
            f"unknown annotator {annotator_id!r}; register it with "
            f"store.add_annotator(Annotator({annotator_id!r}, {{...}}))."
        )

    def _known_annotators(self, cur: sqlite3.Cursor) -> set[str]:
        return {r[0] for r in cur.execute("SELECT DISTINCT id FROM annotators")}

    # -- records -------------------------------------------------------------------------
    def add(self, record: FeedbackRecord) -> bool:
        """Store one record in its own transaction; ``False`` if skipped as a duplicate."""
        with self._transaction() as cur:
            return self._insert(cur, record, self._known_annotators(cur))

    def add_many(self, records: Iterable[FeedbackRecord],
                 annotators: Iterable[Annotator] = ()) -> int:
        """Store records (and register ``annotators`` first) in one transaction, all or
        none; returns how many records were stored."""
        with self._transaction() as cur:
            for annotator in annotators:
                self._insert_annotator(cur, annotator)
            known = self._known_annotators(cur)
            return sum(self._insert(cur, r, known) for r in records)

    def _insert(self, cur: sqlite3.Cursor, record: FeedbackRecord, known: set[str]) -> bool:
        if not isinstance(record, FeedbackRecord) or type(record).KIND not in RECORD_TYPES:
            raise FeedbackError(f"expected a feedback record, got {type(record).__name__}.")
        if self.require_known_annotators and record.annotator not in known:
            raise FeedbackError(
                f"unknown annotator {record.annotator!r} in a {record.KIND} record; register "
                f"it first with store.add_annotator(Annotator({record.annotator!r}, {{...}}))."
            )
        h = record.content_hash
        if self.on_duplicate != "keep":
            dup = cur.execute("SELECT 1 FROM records WHERE id = ? LIMIT 1", (h,)).fetchone()
            if dup and self.on_duplicate == "raise":
                raise FeedbackError(
                    f"duplicate {record.KIND} record {h[:16]} (same content, annotator and "
                    "timestamp is already stored); pass on_duplicate='skip' or 'keep'."
                )
            if dup:
                return False
        cur.execute(
            "INSERT INTO records (id, kind, task, annotator, timestamp, item_key, data, "
            "added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                h,
                record.KIND,
                record.task,
                record.annotator,
                record.timestamp,
                record.item_key(),
                json.dumps(record.to_dict(), ensure_ascii=False),
                time.time(),
            ),
        )
        return True

    def _where(
        self,
        kind: str | None,
        task: str | None,
        annotator: str | None,
        since: float | str | None,
        until: float | str | None,
        include_retracted: bool,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if kind is not None:
            if kind not in RECORD_TYPES:
                raise FeedbackError(
                    f"unknown record kind {kind!r}; use one of {', '.join(RECORD_TYPES)}."
                )
            clauses.append("kind = ?")
            params.append(kind)
        for col, value in (("task", task), ("annotator", annotator)):
            if value is not None:
                clauses.append(f"{col} = ?")
                params.append(value)
        if since is not None:
            clauses.append("timestamp >= ?")
            params.append(parse_timestamp(since))
        if until is not None:
            clauses.append("timestamp < ?")
            params.append(parse_timestamp(until))
        if not include_retracted:
            clauses.append("id NOT IN (SELECT record_id FROM retractions)")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def iter(
        self,
        kind: str | None = None,
        *,
        task: str | None = None,
        annotator: str | None = None,
        since: float | str | None = None,
        until: float | str | None = None,
        include_retracted: bool = False,
    ) -> Iterator[FeedbackRecord]:
        """Records in insertion order, filtered; ``since`` ≤ timestamp < ``until``.

        Times are UNIX seconds or ISO-8601 strings. Retracted records are hidden unless
        ``include_retracted=True``.
        """
        where, params = self._where(kind, task, annotator, since, until, include_retracted)
        where += " AND seq > ?" if where else " WHERE seq > ?"
        last = 0
        while True:  # in pages, so a large store never sits in memory at once
            rows = self._query(
                f"SELECT seq, data FROM records{where} ORDER BY seq LIMIT {_PAGE}",
                [*params, last],
            )
            for row in rows:
                yield record_from_dict(json.loads(row["data"]))
            if len(rows) < _PAGE:
                return
            last = rows[-1]["seq"]

    def records(self, kind: str | None = None, **filters: Any) -> list[FeedbackRecord]:
        """:meth:`iter` as a list."""
        return list(self.iter(kind, **filters))

    def __iter__(self) -> Iterator[FeedbackRecord]:
        return self.iter()

    def __len__(self) -> int:
        return self.count()

    def count(
        self,
        kind: str | None = None,
        *,
        task: str | None = None,
        annotator: str | None = None,
        since: float | str | None = None,
        until: float | str | None = None,
        include_retracted: bool = False,
    ) -> int:
        """Number of records matching the same filters as :meth:`iter`."""
        where, params = self._where(kind, task, annotator, since, until, include_retracted)
        return int(self._query(f"SELECT COUNT(*) FROM records{where}", params)[0][0])

    def tasks(self) -> list[str]:
        """Distinct task names that have records, sorted."""
        return [r[0] for r in self._query("SELECT DISTINCT task FROM records ORDER BY task")]

    def get(self, record_id: str) -> FeedbackRecord:
        """The record whose content hash is (or starts with) ``record_id``."""
        with self._lock:
            return record_from_dict(json.loads(self._row_for(self._conn.cursor(), record_id)))

    def _row_for(self, cur: sqlite3.Cursor, record_id: str) -> str:
        rows = cur.execute(
            "SELECT DISTINCT id, data FROM records WHERE substr(id, 1, ?) = ? LIMIT 2",
            (len(record_id), record_id),
        ).fetchall()
        if not rows or len(record_id) < 8:
            raise FeedbackError(f"no record with id {record_id!r} (give at least 8 hex digits).")
        if len({r[0] for r in rows}) > 1:
            raise FeedbackError(f"record id {record_id!r} is ambiguous; give more digits.")
        return str(rows[0][1])

    def retract(self, record_id: str, reason: str = "") -> None:
        """Hide a record from reads by appending a retraction (the record itself stays)."""
        with self._transaction() as cur:
            full = json.loads(self._row_for(cur, record_id))
            h = record_from_dict(full).content_hash
            cur.execute(
                "INSERT INTO retractions (record_id, reason, at) VALUES (?, ?, ?)",
                (h, reason, time.time()),
            )

    def supersede(self, record_id: str, new: FeedbackRecord, reason: str = "") -> None:
        """Replace a record by ``new`` atomically (retraction + new row, one transaction)."""
        with self._transaction() as cur:
            old = record_from_dict(json.loads(self._row_for(cur, record_id)))
            self._insert(cur, new, self._known_annotators(cur))
            cur.execute(
                "INSERT INTO retractions (record_id, reason, superseded_by, at) "
                "VALUES (?, ?, ?, ?)",
                (old.content_hash, reason or "superseded", new.content_hash, time.time()),
            )

    def _query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- labeling queue ------------------------------------------------------------------
    def enqueue(
        self,
        kind: str,
        prompt: str,
        responses: Sequence[str] = (),
        *,
        task: str = "default",
        scale: tuple[float, float] | None = None,
        gold: Any = None,
        labels_wanted: int = 1,
        annotator: str | None = None,
        priority: float = 0.0,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """Add a question to the labeling queue; returns its item id.

        Args:
            kind: ``"comparison"`` (2 responses), ``"ranking"`` (2+), ``"rating"`` (1, needs
                ``scale``), ``"correction"`` (1 response to edit), ``"demonstration"`` (0).
            gold: the known answer, for gold check items.
            labels_wanted: how many different annotators should answer it (>1 for
                inter-annotator agreement).
            annotator: only this annotator gets the item (``None``: anyone).
            priority: higher comes first; equal priorities come in enqueue order.
        """
        with self._transaction() as cur:
            return self._enqueue(cur, kind, prompt, responses, task=task, scale=scale,
                                 gold=gold, labels_wanted=labels_wanted, annotator=annotator,
                                 priority=priority, metadata=metadata)

    def enqueue_many(self, specs: Iterable[dict[str, Any]]) -> list[int]:
        """:meth:`enqueue` each spec (its keyword arguments as a dict) in one transaction:
        all items are queued or, when one is invalid, none."""
        with self._transaction() as cur:
            out = []
            for spec in specs:
                try:
                    out.append(self._enqueue(cur, **spec))
                except TypeError as exc:
                    raise FeedbackError(f"queue item spec {spec!r}: {exc}") from exc
            return out

    def _enqueue(
        self,
        cur: sqlite3.Cursor,
        kind: str,
        prompt: str,
        responses: Sequence[str] = (),
        *,
        task: str = "default",
        scale: Sequence[float] | None = None,
        gold: Any = None,
        labels_wanted: int = 1,
        annotator: str | None = None,
        priority: float = 0.0,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        scale_ = _check_queue_item(kind, prompt, responses, scale, gold, labels_wanted,
                                   priority, task, annotator, metadata)
        payload = {
            "prompt": prompt,
            "responses": list(responses),
            "scale": scale_,
            "metadata": metadata or {},
        }
        cur.execute(
            "INSERT INTO queue (kind, task, payload, gold, repeat_of, annotator, "
            "labels_wanted, priority, created_at) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)",
            (
                kind,
                task,
                json.dumps(payload, ensure_ascii=False),
                None if gold is None else json.dumps(gold),
                annotator,
                labels_wanted,
                priority,
                time.time(),
            ),
        )
        return int(cur.lastrowid or 0)

    def enqueue_repeat(self, item_id: int, *, priority: float | None = None) -> int:
        """Ask item ``item_id`` again, later, of each annotator who answered it."""
        with self._transaction() as cur:
            row = cur.execute("SELECT * FROM queue WHERE item_id = ?", (item_id,)).fetchone()
            if row is None:
                raise FeedbackError(f"no queue item {item_id}.")
            cur.execute(
                "INSERT INTO queue (kind, task, payload, gold, repeat_of, annotator, "
                "labels_wanted, priority, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row["kind"],
                    row["task"],
                    row["payload"],
                    row["gold"],
                    item_id,
                    row["annotator"],
                    row["labels_wanted"],
                    row["priority"] if priority is None else priority,
                    time.time(),
                ),
            )
            return int(cur.lastrowid or 0)

    _PENDING_SQL = """
        SELECT q.* FROM queue q
        WHERE (q.annotator IS NULL OR q.annotator = :a)
          AND (:task IS NULL OR q.task = :task)
          AND NOT EXISTS (SELECT 1 FROM queue_done d
                          WHERE d.item_id = q.item_id AND d.annotator = :a)
          AND (SELECT COUNT(*) FROM queue_done d
               WHERE d.item_id = q.item_id AND d.status = 'done')
            + (SELECT COUNT(*) FROM queue_leases l
               WHERE l.item_id = q.item_id AND l.annotator != :a AND l.expires_at > :now)
            < q.labels_wanted
          AND (q.repeat_of IS NULL OR EXISTS (
                SELECT 1 FROM queue_done d WHERE d.item_id = q.repeat_of
                AND d.annotator = :a AND d.status = 'done'))
        ORDER BY q.priority DESC, q.item_id
    """

    def _pending_params(self, annotator: str, task: str | None) -> dict[str, Any]:
        return {"a": annotator, "task": task, "now": time.time()}

    def next_pending(self, annotator: str, *, task: str | None = None) -> QueueItem | None:
        """The next item ``annotator`` has neither answered nor skipped (``None``: done).

        Repeat items come only after the annotator answered the original; an item whose
        remaining answers are all leased to others (see :meth:`claim`) waits until a lease
        ends. This only looks; :meth:`claim` is what hands an item out.
        """
        rows = self._query(self._PENDING_SQL + " LIMIT 1", self._pending_params(annotator, task))
        return _queue_item(rows[0]) if rows else None

    def pending(self, annotator: str, *, task: str | None = None) -> list[QueueItem]:
        """All items currently pending for ``annotator``, in the order they will come."""
        rows = self._query(self._PENDING_SQL, self._pending_params(annotator, task))
        return [_queue_item(r) for r in rows]

    def pending_count(self, annotator: str, *, task: str | None = None) -> int:
        """How many items are pending for ``annotator`` (cheaper than ``len(pending())``)."""
        sql = f"SELECT COUNT(*) FROM ({self._PENDING_SQL})"
        return int(self._query(sql, self._pending_params(annotator, task))[0][0])

    # -- assignment: leases (the one logic behind `rlhf-env label` and `rlhf-env serve`) --
    def claim(
        self,
        annotator: str,
        *,
        task: str | None = None,
        session: str = "",
        lease_s: float = 600.0,
        max_leases: int = 2,
        exclude: Iterable[int] = (),
        shuffle: bool = True,
        prefer: int | None = None,
    ) -> Lease | None:
        """Lease the next item to ``annotator``; ``None`` when nothing is left for them.

        In one transaction: leases past their expiry are dropped (their items come back),
        then a live lease the annotator already holds on an item not in ``exclude`` is
        renewed and returned (a reloaded page gets its item back), else, when the annotator
        holds fewer than ``max_leases`` leases, the first pending item in priority order is
        leased. A leased item counts against its ``labels_wanted`` for everyone else until
        it is answered, skipped, released or the lease expires, so an item never gets more
        answers than it wants and never goes to the same person twice.

        Args:
            session: free text naming the client (for the dashboard and for
                :meth:`release`).
            lease_s: seconds before an unanswered lease expires.
            max_leases: most items one annotator may hold at once (the item shown plus the
                prefetched ones).
            exclude: item ids the caller already holds and wants another item besides.
            shuffle: show the responses in a per-annotator random order (stored in the
                lease and in the answer's ``shown_order`` metadata); ``False`` keeps the
                queued order.
            prefer: lease this item first when it is pending for the annotator (an answer
                just undone comes back at once).
        """
        if lease_s <= 0 or max_leases < 1:
            raise FeedbackError(
                f"claim: lease_s must be > 0 and max_leases >= 1, got {lease_s} and "
                f"{max_leases}."
            )
        skip = {int(i) for i in exclude}
        now = time.time()
        with self._transaction() as cur:
            cur.execute("DELETE FROM queue_leases WHERE expires_at <= ?", (now,))
            held = cur.execute(
                "SELECT item_id FROM queue_leases WHERE annotator = ? ORDER BY leased_at",
                (annotator,),
            ).fetchall()
            held_ids = {h[0] for h in held}
            if prefer is not None and prefer in held_ids:
                return self._renew(cur, prefer, annotator, now + lease_s)
            for (item_id,) in held:
                if item_id not in skip and prefer is None:
                    return self._renew(cur, item_id, annotator, now + lease_s)
            if len(held) >= max_leases:
                return None
            params = {"a": annotator, "task": task, "now": now}
            rows = cur.execute(self._PENDING_SQL, params).fetchall()
            rows.sort(key=lambda r: r["item_id"] != prefer)  # stable: priority order otherwise
            for row in rows:
                if row["item_id"] not in skip and row["item_id"] not in held_ids:
                    item = _queue_item(row)
                    order = screen_order(annotator, item) if shuffle else None
                    return self._new_lease(cur, item, annotator, session, order, now, lease_s)
        return None

    def _new_lease(
        self,
        cur: sqlite3.Cursor,
        item: QueueItem,
        annotator: str,
        session: str,
        order: tuple[int, ...] | None,
        now: float,
        lease_s: float,
    ) -> Lease:
        order = order or tuple(range(len(item.responses)))
        cur.execute(
            "INSERT INTO queue_leases (item_id, annotator, session, shown_order, leased_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (item.item_id, annotator, session, json.dumps(order), now, now + lease_s),
        )
        return Lease(item, annotator, session, order, now, now + lease_s)

    def _renew(self, cur: sqlite3.Cursor, item_id: int, annotator: str, until: float) -> Lease:
        cur.execute(
            "UPDATE queue_leases SET expires_at = ? WHERE item_id = ? AND annotator = ?",
            (until, item_id, annotator),
        )
        lease = self._lease_row(cur, item_id, annotator)
        assert lease is not None  # just updated inside this transaction
        return lease

    def _lease_row(self, cur: sqlite3.Cursor, item_id: int, annotator: str) -> Lease | None:
        row = cur.execute(
            "SELECT l.*, q.kind, q.task, q.payload, q.gold, q.repeat_of, q.annotator AS only, "
            "q.labels_wanted FROM queue_leases l JOIN queue q USING (item_id) "
            "WHERE l.item_id = ? AND l.annotator = ? AND l.expires_at > ?",
            (item_id, annotator, time.time()),
        ).fetchone()
        if row is None:
            return None
        item = _queue_item(row, only=row["only"])
        order = tuple(json.loads(row["shown_order"]))
        return Lease(item, annotator, row["session"], order, row["leased_at"], row["expires_at"])

    def lease(self, item_id: int, annotator: str) -> Lease | None:
        """``annotator``'s live lease on ``item_id`` (``None``: none, or it expired)."""
        with self._lock:
            return self._lease_row(self._conn.cursor(), item_id, annotator)

    def leases(self) -> list[Lease]:
        """Every live lease, oldest first (for dashboards)."""
        rows = self._query(
            "SELECT item_id, annotator FROM queue_leases WHERE expires_at > ? ORDER BY leased_at",
            (time.time(),),
        )
        found = (self.lease(r["item_id"], r["annotator"]) for r in rows)
        return [x for x in found if x is not None]

    def release(self, annotator: str, *, session: str | None = None,
                item_id: int | None = None) -> int:
        """Give back ``annotator``'s leases (of one ``session`` / one item if given);
        returns how many. Their items are offered again at once."""
        sql = "DELETE FROM queue_leases WHERE annotator = ?"
        params: list[Any] = [annotator]
        if session is not None:
            sql, params = sql + " AND session = ?", [*params, session]
        if item_id is not None:
            sql, params = sql + " AND item_id = ?", [*params, item_id]
        with self._transaction() as cur:
            return int(cur.execute(sql, params).rowcount)

    def queue_item(self, item_id: int) -> QueueItem:
        """Queue item ``item_id``."""
        rows = self._query("SELECT * FROM queue WHERE item_id = ?", (item_id,))
        if not rows:
            raise FeedbackError(f"no queue item {item_id}.")
        return _queue_item(rows[0])

    def queue_items(self) -> list[QueueItem]:
        """Every queue item ever enqueued, in item-id order."""
        return [_queue_item(r) for r in self._query("SELECT * FROM queue ORDER BY item_id")]

    def complete(self, item_id: int, record: FeedbackRecord) -> FeedbackRecord:
        """Store ``record`` as the answer to ``item_id`` and mark it done, atomically.

        The stored record gets the item's ``queue_item``/``gold_answer``/``repeat_of``
        metadata (and ``shown_order`` when the annotator held a lease); it is returned and
        the lease ends. Raises :class:`~rlhf_env.errors.QueueConflictError` when the same
        annotator already answered or skipped the item, or when the item already has its
        ``labels_wanted`` answers (counting live leases of others when the annotator holds
        none), so an item is never answered beyond its overlap.
        """
        with self._transaction() as cur:
            item = self._open_item(cur, item_id, record.annotator)
            _check_answer(item, record)
            lease = self._lease_row(cur, item_id, record.annotator)
            self._check_room(cur, item, record.annotator, holds_lease=lease is not None)
            meta = {**record.metadata, **item.answer_metadata()}
            if lease is not None:
                meta["shown_order"] = list(lease.shown_order)
            stored = dataclasses.replace(record, metadata=meta)
            self._insert(cur, stored, self._known_annotators(cur))
            self._mark(cur, item_id, record.annotator, "done", stored.content_hash)
        return stored

    @staticmethod
    def _check_room(cur: sqlite3.Cursor, item: QueueItem, annotator: str,
                    holds_lease: bool) -> None:
        done = cur.execute(
            "SELECT COUNT(*) FROM queue_done WHERE item_id = ? AND status = 'done'",
            (item.item_id,),
        ).fetchone()[0]
        others = 0 if holds_lease else cur.execute(
            "SELECT COUNT(*) FROM queue_leases WHERE item_id = ? AND annotator != ? "
            "AND expires_at > ?",
            (item.item_id, annotator, time.time()),
        ).fetchone()[0]
        if done >= item.labels_wanted or (done + others >= item.labels_wanted):
            raise QueueConflictError(
                f"queue item {item.item_id} already has the {item.labels_wanted} answer(s) it "
                "wants (or they are leased to others); ask for the next item."
            )

    def skip(self, item_id: int, annotator: str) -> None:
        """Mark ``item_id`` skipped by ``annotator`` (it is not offered to them again)."""
        with self._transaction() as cur:
            self._open_item(cur, item_id, annotator)
            self._mark(cur, item_id, annotator, "skipped", None)

    def undo(self, item_id: int, annotator: str) -> FeedbackRecord | None:
        """Take back ``annotator``'s answer (or skip) of ``item_id``, atomically.

        The answer record is retracted (it stays in the history, hidden from reads) and the
        item is offered to the annotator again. Returns the retracted record (``None`` for
        an undone skip). Raises :class:`~rlhf_env.errors.QueueConflictError` when the
        annotator has no answer to take back.
        """
        with self._transaction() as cur:
            row = cur.execute(
                "SELECT status, record_id FROM queue_done WHERE item_id = ? AND annotator = ?",
                (item_id, annotator),
            ).fetchone()
            if row is None:
                raise QueueConflictError(
                    f"annotator {annotator!r} has no answer to queue item {item_id} to undo."
                )
            old = None
            if row["record_id"] is not None:
                old = record_from_dict(json.loads(self._row_for(cur, row["record_id"])))
                cur.execute(
                    "INSERT INTO retractions (record_id, reason, at) VALUES (?, ?, ?)",
                    (row["record_id"], "undone by the annotator", time.time()),
                )
            cur.execute(
                "DELETE FROM queue_done WHERE item_id = ? AND annotator = ?", (item_id, annotator)
            )
        return old

    def _open_item(self, cur: sqlite3.Cursor, item_id: int, annotator: str) -> QueueItem:
        row = cur.execute("SELECT * FROM queue WHERE item_id = ?", (item_id,)).fetchone()
        if row is None:
            raise FeedbackError(f"no queue item {item_id}.")
        done = cur.execute(
            "SELECT status FROM queue_done WHERE item_id = ? AND annotator = ?",
            (item_id, annotator),
        ).fetchone()
        if done is not None:
            raise QueueConflictError(
                f"annotator {annotator!r} already {done[0]} queue item {item_id}."
            )
        if row["annotator"] is not None and row["annotator"] != annotator:
            raise QueueConflictError(
                f"queue item {item_id} is for annotator {row['annotator']!r} only."
            )
        return _queue_item(row)

    @staticmethod
    def _mark(
        cur: sqlite3.Cursor, item_id: int, annotator: str, status: str, rid: str | None
    ) -> None:
        cur.execute(
            "INSERT INTO queue_done (item_id, annotator, status, record_id, at) "
            "VALUES (?, ?, ?, ?, ?)",
            (item_id, annotator, status, rid, time.time()),
        )
        cur.execute(
            "DELETE FROM queue_leases WHERE item_id = ? AND annotator = ?", (item_id, annotator)
        )

    def queue_status(self) -> dict[str, int]:
        """Counts: ``items``, ``answers`` (done), ``skips``, ``gold_items``, ``repeat_items``."""
        row = self._query(
            "SELECT COUNT(*), SUM(gold IS NOT NULL), SUM(repeat_of IS NOT NULL) FROM queue"
        )[0]
        rows = self._query("SELECT status, COUNT(*) FROM queue_done GROUP BY status")
        done = {str(r[0]): int(r[1]) for r in rows}
        return {
            "items": int(row[0] or 0),
            "answers": int(done.get("done", 0)),
            "skips": int(done.get("skipped", 0)),
            "gold_items": int(row[1] or 0),
            "repeat_items": int(row[2] or 0),
        }

    def queue_load(self) -> dict[str, int]:
        """``leased``: live leases; ``open``: answers still wanted, summed over all items
        (``labels_wanted`` minus answers given, never below zero per item)."""
        leased = self._query(
            "SELECT COUNT(*) FROM queue_leases WHERE expires_at > ?", (time.time(),)
        )[0][0]
        open_ = self._query(
            "SELECT COALESCE(SUM(MAX(q.labels_wanted - COALESCE(n, 0), 0)), 0) FROM queue q "
            "LEFT JOIN (SELECT item_id, COUNT(*) AS n FROM queue_done WHERE status = 'done' "
            "GROUP BY item_id) USING (item_id)"
        )[0][0]
        return {"leased": int(leased or 0), "open": int(open_ or 0)}

    # -- reading answers by cursor (the REST API's pull) -----------------------------------
    def records_since(
        self, cursor: int = 0, *, kind: str | None = None, limit: int = 500
    ) -> list[tuple[int, FeedbackRecord]]:
        """``(seq, record)`` pairs stored after position ``cursor``, oldest first.

        ``seq`` only grows, so a client that keeps the last ``seq`` it saw and passes it
        back gets every later record exactly once. Retracted records are left out.
        """
        where, params = self._where(kind, None, None, None, None, False)
        where += " AND seq > ?" if where else " WHERE seq > ?"
        rows = self._query(
            f"SELECT seq, data FROM records{where} ORDER BY seq LIMIT ?",
            [*params, int(cursor), int(limit)],
        )
        return [(int(r["seq"]), record_from_dict(json.loads(r["data"]))) for r in rows]

    # -- access tokens (web login links, API clients) ----------------------------------------
    def issue_token(self, annotator: str, role: str = "annotator") -> str:
        """A new secret token for ``annotator`` (``role`` ``"annotator"`` or ``"admin"``).

        Only a SHA-256 hash of it is stored, so it is shown once: keep what this returns.
        """
        if role not in TOKEN_ROLES:
            raise FeedbackError(f"token role must be one of {TOKEN_ROLES}, got {role!r}.")
        if not isinstance(annotator, str) or not annotator.strip():
            raise FeedbackError("a token needs a non-empty annotator id.")
        token = secrets.token_urlsafe(24)
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO access_tokens (token_hash, annotator, role, created_at) "
                "VALUES (?, ?, ?, ?)",
                (_token_hash(token), annotator, role, time.time()),
            )
        return token

    def token_owner(self, token: str) -> tuple[str, str] | None:
        """``(annotator, role)`` of a live token; ``None`` for an unknown or revoked one."""
        if not isinstance(token, str) or not 8 <= len(token) <= 200:
            return None
        rows = self._query(
            "SELECT annotator, role FROM access_tokens WHERE token_hash = ? "
            "AND revoked_at IS NULL",
            (_token_hash(token),),
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def known_annotator_ids(self) -> set[str]:
        """Ids of registered annotators and of everyone holding an annotator token (an
        item may be reserved for any of them)."""
        rows = self._query("SELECT id FROM annotators UNION SELECT annotator FROM "
                           "access_tokens WHERE role = 'annotator'")
        return {str(r[0]) for r in rows}

    def revoke_tokens(self, annotator: str, role: str | None = None) -> int:
        """Revoke every live token of ``annotator`` (of one ``role`` if given)."""
        sql = "UPDATE access_tokens SET revoked_at = ? WHERE annotator = ? AND revoked_at IS NULL"
        params: list[Any] = [time.time(), annotator]
        if role is not None:
            sql, params = sql + " AND role = ?", [*params, role]
        with self._transaction() as cur:
            return int(cur.execute(sql, params).rowcount)


TOKEN_ROLES = ("annotator", "admin")
"""Roles an access token can carry: annotators answer, admins also push, pull and watch."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def screen_order(annotator: str, item: QueueItem) -> tuple[int, ...]:
    """The order ``annotator`` sees ``item``'s responses in: random, but the same on every
    reload (seeded by annotator and item), so left/right position bias averages out."""
    order = list(range(len(item.responses)))
    random.Random(f"{annotator}\x00{item.item_id}").shuffle(order)
    return tuple(order)


@dataclass(frozen=True)
class Lease:
    """An item handed to one annotator until ``expires_at`` (UNIX seconds).

    ``shown_order[i]`` is the index in ``item.responses`` of the response shown in
    position ``i`` (left to right, top to bottom).
    """

    item: QueueItem
    annotator: str
    session: str
    shown_order: tuple[int, ...]
    leased_at: float
    expires_at: float


def _queue_item(row: sqlite3.Row, only: str | Literal[False] | None = False) -> QueueItem:
    payload = json.loads(row["payload"])
    scale = payload.get("scale")
    return QueueItem(
        item_id=int(row["item_id"]),
        kind=row["kind"],
        prompt=payload["prompt"],
        responses=tuple(payload["responses"]),
        task=row["task"],
        scale=None if scale is None else (float(scale[0]), float(scale[1])),
        gold=None if row["gold"] is None else json.loads(row["gold"]),
        repeat_of=row["repeat_of"],
        annotator=row["annotator"] if only is False else only,
        labels_wanted=int(row["labels_wanted"]),
        metadata=payload.get("metadata", {}),
    )


__all__ = [
    "QUEUE_KINDS",
    "TOKEN_ROLES",
    "DuplicatePolicy",
    "FeedbackStore",
    "Lease",
    "QueueItem",
    "screen_order",
]
