"""Import and export feedback: JSONL, Hugging Face ``datasets``, the HH-RLHF layout.

**JSONL** has one JSON object per line: a record's :meth:`~FeedbackRecord.to_dict` (with a
``"kind"`` key and an informative ``"id"``), or an annotator line
``{"kind": "annotator", "id": ..., "attributes": {...}}``. Blank lines are ignored.

**Imports are all-or-nothing by default.** Every line is parsed and validated before
anything is written; if any line is bad, :class:`~rlhf_env.errors.FeedbackError` lists the
bad line numbers and why, and the store is unchanged. With ``on_error="skip"`` the good lines
are imported (in one transaction) and the bad ones come back in
:attr:`ImportResult.errors`, so a partial import is always visible.

**HH-RLHF** (Anthropic's helpful/harmless layout): each row has ``chosen`` and ``rejected``
transcripts ``"\\n\\nHuman: … \\n\\nAssistant: …"`` that share everything up to the final
``"\\n\\nAssistant:"``. That shared part (including the final ``"\\n\\nAssistant:"``) becomes
the prompt and the two final replies become a :class:`Comparison` with preference ``"a"``
(= chosen). Imported public data gets ``timestamp=0`` unless told otherwise, so importing
the same file twice is spotted as duplicates.

**Hugging Face datasets** (optional ``datasets`` package): one row per record, a column per
record field (``metadata`` as a JSON string). :func:`from_hf_dataset` also reads
``chosen``/``rejected`` (HH-RLHF) and ``prompt``/``chosen``/``rejected`` (TRL) datasets.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rlhf_env.errors import FeedbackError, MissingDependencyError
from rlhf_env.feedback.records import (
    RECORD_TYPES,
    Annotator,
    Comparison,
    FeedbackRecord,
    record_from_dict,
)
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.files import atomic_open, dumps

OnError = Literal["raise", "skip"]
HH_ASSISTANT = "\n\nAssistant:"
_MAX_LISTED = 10


@dataclass(frozen=True)
class LineError:
    """A bad input line (1-based ``line``) and what is wrong with it."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportResult:
    """What an import read: good records and annotators, bad lines, and store counts."""

    records: list[FeedbackRecord] = field(default_factory=list)
    annotators: list[Annotator] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    added: int = 0
    """Records written to the store (duplicates skipped by the store are not counted)."""

    @property
    def ok(self) -> bool:
        """True when no line was bad."""
        return not self.errors


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise FeedbackError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")


def _raise_if_bad(source: str, result: ImportResult, on_error: OnError) -> None:
    if result.errors and on_error == "raise":
        listed = "; ".join(str(e) for e in result.errors[:_MAX_LISTED])
        more = len(result.errors) - _MAX_LISTED
        raise FeedbackError(
            f"{source}: {len(result.errors)} bad line(s), nothing was imported: {listed}"
            + (f"; … and {more} more" if more > 0 else "")
            + ". Fix them, or pass on_error='skip' to import the good lines and get the "
            "bad ones listed in the result."
        )


# -- JSONL ---------------------------------------------------------------------------------
def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON; write null or a finite number")


def _json_lines(path: str | Path) -> Iterator[tuple[int, Any | LineError]]:
    """(line number, parsed object or LineError) for every non-blank line."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, LineError(n, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                                      f"column {exc.start + 1}); save the file as UTF-8")
                continue
            if not line.strip():
                continue
            try:
                yield n, json.loads(line, parse_constant=_refuse_constant)
            except json.JSONDecodeError as exc:
                yield n, LineError(n, f"not valid JSON ({exc.msg} at column {exc.colno})")
            except ValueError as exc:
                yield n, LineError(n, str(exc))


def read_jsonl(path: str | Path, *, on_error: OnError = "raise") -> ImportResult:
    """Parse and validate a feedback JSONL file (nothing is written anywhere)."""
    _check_on_error(on_error)
    result = ImportResult()
    try:
        for n, obj in _json_lines(path):
            if isinstance(obj, LineError):
                result.errors.append(obj)
                continue
            try:
                if isinstance(obj, Mapping) and obj.get("kind") == "annotator":
                    data = {k: v for k, v in obj.items() if k != "kind"}
                    result.annotators.append(Annotator.from_dict(data))
                else:
                    result.records.append(record_from_dict(obj))
            except FeedbackError as exc:
                result.errors.append(LineError(n, str(exc)))
    except UnicodeDecodeError as exc:
        raise FeedbackError(f"{path}: not UTF-8 text ({exc.reason}).") from exc
    _raise_if_bad(str(path), result, on_error)
    return result


def import_jsonl(
    store: FeedbackStore, path: str | Path, *, on_error: OnError = "raise"
) -> ImportResult:
    """Read ``path`` and add its annotators and records to ``store``.

    All-or-nothing by default (see the module docstring); with ``on_error="skip"`` the good
    lines are written in one transaction and ``result.errors`` lists the bad ones.
    """
    result = read_jsonl(path, on_error=on_error)
    result.added = store.add_many(result.records, annotators=result.annotators)
    return result


def export_jsonl(
    source: FeedbackStore | Iterable[FeedbackRecord],
    path: str | Path,
    *,
    include_annotators: bool = True,
) -> int:
    """Write records (a store's, or any iterable) to ``path``; returns the record count.

    From a store, registered annotators are written first (unless
    ``include_annotators=False``), so :func:`import_jsonl` restores both.
    """
    n = 0
    with atomic_open(path, "w") as fh:  # a killed export leaves the previous file whole
        if isinstance(source, FeedbackStore):
            if include_annotators:
                for a in source.annotators():
                    fh.write(dumps({"kind": "annotator", **a.to_dict()}, indent=None) + "\n")
            source = source.iter()
        for record in source:
            line = {**record.to_dict(), "id": record.id}
            fh.write(dumps(line, indent=None) + "\n")
            n += 1
    return n


# -- HH-RLHF -------------------------------------------------------------------------------
def split_hh_transcript(chosen: str, rejected: str) -> tuple[str, str, str]:
    """Split HH-RLHF ``chosen``/``rejected`` transcripts into (prompt, chosen, rejected).

    The prompt is the shared transcript up to and including the final ``"\\n\\nAssistant:"``;
    the responses are the two final replies, stripped of surrounding whitespace.
    """
    parts = []
    for name, text in (("chosen", chosen), ("rejected", rejected)):
        if not isinstance(text, str):
            raise FeedbackError(f"HH-RLHF: {name!r} must be a string, got {text!r:.40}.")
        cut = text.rfind(HH_ASSISTANT)
        if cut < 0:
            raise FeedbackError(f"HH-RLHF: the {name!r} transcript has no '\\n\\nAssistant:' turn.")
        parts.append((text[: cut + len(HH_ASSISTANT)], text[cut + len(HH_ASSISTANT) :].strip()))
    (prompt_c, resp_c), (prompt_r, resp_r) = parts
    if prompt_c != prompt_r:
        raise FeedbackError(
            "HH-RLHF: 'chosen' and 'rejected' differ before their final Assistant turn; "
            "they must share the conversation and differ only in the last reply."
        )
    return prompt_c, resp_c, resp_r


def hh_rlhf_records(
    rows: Iterable[Mapping[str, Any]],
    *,
    task: str = "hh-rlhf",
    annotator: str = "hh-rlhf",
    timestamp: float = 0.0,
    on_error: OnError = "raise",
) -> ImportResult:
    """Comparisons (``"a"`` = chosen) from rows with ``chosen``/``rejected`` keys."""
    _check_on_error(on_error)
    result = _hh_numbered(enumerate(rows, start=1), task, annotator, timestamp)
    _raise_if_bad("HH-RLHF rows", result, on_error)
    return result


def _hh_numbered(
    rows: Iterable[tuple[int, Any]], task: str, annotator: str, timestamp: float
) -> ImportResult:
    result = ImportResult()
    for n, row in rows:
        if isinstance(row, LineError):
            result.errors.append(row)
            continue
        try:
            result.records.append(_hh_row(row, task, annotator, timestamp))
        except FeedbackError as exc:
            result.errors.append(LineError(n, str(exc)))
    return result


def _hh_row(row: Any, task: str, annotator: str, timestamp: float) -> Comparison:
    if not isinstance(row, Mapping):
        raise FeedbackError(f"HH-RLHF: expected a JSON object, got {row!r:.40}.")
    missing = [k for k in ("chosen", "rejected") if k not in row]
    if missing:
        raise FeedbackError(f"HH-RLHF: missing key(s) {', '.join(map(repr, missing))}.")
    unknown = sorted(set(row) - {"chosen", "rejected"})
    if unknown:
        raise FeedbackError(
            f"HH-RLHF: unknown key(s) {', '.join(map(repr, unknown))}; "
            "rows have only 'chosen' and 'rejected'."
        )
    prompt, chosen, rejected = split_hh_transcript(row["chosen"], row["rejected"])
    return Comparison(
        prompt,
        chosen,
        rejected,
        "a",
        annotator=annotator,
        task=task,
        timestamp=timestamp,
        metadata={"source": "hh-rlhf"},
    )


def read_hh_rlhf(
    path: str | Path,
    *,
    task: str = "hh-rlhf",
    annotator: str = "hh-rlhf",
    timestamp: float = 0.0,
    on_error: OnError = "raise",
) -> ImportResult:
    """Parse an HH-RLHF JSONL file (``chosen``/``rejected`` per line) into comparisons.

    Bad lines are reported with their line numbers (all-or-nothing unless
    ``on_error="skip"``).
    """
    _check_on_error(on_error)
    result = _hh_numbered(_json_lines(path), task, annotator, timestamp)
    _raise_if_bad(str(path), result, on_error)
    return result


def import_hh_rlhf(
    store: FeedbackStore, path: str | Path, *, on_error: OnError = "raise", **kwargs: Any
) -> ImportResult:
    """:func:`read_hh_rlhf` then add the comparisons to ``store`` in one transaction."""
    result = read_hh_rlhf(path, on_error=on_error, **kwargs)
    result.added = store.add_many(result.records)
    return result


# -- Hugging Face datasets -----------------------------------------------------------------
def _require_datasets() -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependencyError(
            "datasets", "Hugging Face dataset import/export", "pip install datasets"
        ) from exc
    return datasets


def to_hf_dataset(source: FeedbackStore | Iterable[FeedbackRecord]) -> Any:
    """A ``datasets.Dataset`` with one row per record and a column per record field.

    Fields a record kind lacks are ``None``; ``metadata`` and the action lists of control
    corrections (integers or vectors, which one Arrow column cannot mix) are JSON strings.
    """
    datasets = _require_datasets()
    rows = [_flat_row(r) for r in source]
    columns = ["kind", "id"]
    for cls in RECORD_TYPES.values():
        columns += [c for c in _columns(cls) if c not in columns]
    data = {c: [row.get(c) for row in rows] for c in columns}
    return datasets.Dataset.from_dict(data)


def _columns(cls: type[FeedbackRecord]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


_JSON_COLUMNS = ("metadata", "actions", "corrected_actions")
"""Columns :func:`to_hf_dataset` writes as JSON strings."""


def _flat_row(record: FeedbackRecord) -> dict[str, Any]:
    row = record.to_dict()
    row["id"] = record.id
    for key in _JSON_COLUMNS:
        if key in row:
            row[key] = json.dumps(row[key], ensure_ascii=False, sort_keys=True)
    return row


def from_hf_dataset(
    dataset: Iterable[Mapping[str, Any]], *, on_error: OnError = "raise", **hh_kwargs: Any
) -> ImportResult:
    """Records from a ``datasets.Dataset`` (or any iterable of row dicts).

    Reads :func:`to_hf_dataset` output, HH-RLHF (``chosen``/``rejected``) and TRL-style
    ``prompt``/``chosen``/``rejected`` rows. Row numbers in errors are 1-based.
    """
    _check_on_error(on_error)
    names = set(getattr(dataset, "column_names", None) or [])
    if not names:
        dataset = list(dataset)
        names = set(dataset[0]) if dataset else set()
    if "kind" not in names and {"chosen", "rejected"} <= names:
        if "prompt" in names:
            dataset = [_trl_to_hh(r) for r in dataset]
        return hh_rlhf_records(dataset, on_error=on_error, **hh_kwargs)
    result = ImportResult()
    for n, row in enumerate(dataset, start=1):
        try:
            result.records.append(_record_from_row(row))
        except FeedbackError as exc:
            result.errors.append(LineError(n, str(exc)))
    _raise_if_bad("dataset", result, on_error)
    return result


def _trl_to_hh(row: Mapping[str, Any]) -> dict[str, str]:
    prompt = str(row["prompt"])
    if not prompt.endswith(HH_ASSISTANT):
        prompt = f"\n\nHuman: {prompt}{HH_ASSISTANT}"
    return {"chosen": f"{prompt} {row['chosen']}", "rejected": f"{prompt} {row['rejected']}"}


def _record_from_row(row: Mapping[str, Any]) -> FeedbackRecord:
    kind = row.get("kind")
    if kind not in RECORD_TYPES:
        raise FeedbackError(f"unknown record kind {kind!r}.")
    cls = RECORD_TYPES[kind]
    own = {*_columns(cls), "kind", "id"}
    data = {k: v for k, v in row.items() if k in own or v is not None}
    for key in _JSON_COLUMNS:
        if isinstance(data.get(key), str):
            try:
                data[key] = json.loads(data[key])
            except json.JSONDecodeError as exc:
                raise FeedbackError(f"{key} is not valid JSON ({exc.msg}).") from exc
    if data.get("strength") is None:
        data.pop("strength", None)
    if data.get("duration_s") is None:
        data.pop("duration_s", None)
    return record_from_dict(data)


__all__ = [
    "ImportResult",
    "LineError",
    "export_jsonl",
    "from_hf_dataset",
    "hh_rlhf_records",
    "import_hh_rlhf",
    "import_jsonl",
    "read_hh_rlhf",
    "read_jsonl",
    "split_hh_transcript",
    "to_hf_dataset",
]
