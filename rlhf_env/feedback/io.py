"""Import and export feedback files: ours, TRL's, HH-RLHF's; JSONL, JSON, gzip, datasets.

:func:`read_feedback` / :func:`import_feedback` read a file in any format of
:mod:`rlhf_env.feedback.formats` (detected from its first usable row, or named with
``format=``); :func:`write_feedback` writes one. The row layouts, detection rules and what
each format can hold are in :mod:`rlhf_env.feedback.formats` and ``docs/formats.md``.

**Files.** One JSON object per line (``.jsonl``), a JSON list of objects (``.json``; a
``.json`` file of lines, as ``datasets`` writes them, is read too), either one gzipped
(``.gz``, recognised by its first bytes); for reading also a Parquet file and a folder
written by ``datasets.Dataset.save_to_disk`` (both need the ``datasets`` package). Blank
lines are ignored. Exports are written atomically (:mod:`rlhf_env.files`).

**Imports are all-or-nothing by default.** Every row is parsed and validated before
anything is written; if any row is bad, :class:`~rlhf_env.errors.FeedbackError` lists the
bad line numbers and why (with an example of every accepted layout when a row fits none),
and the store is unchanged. A file holds one format: a row of another format is a bad row
that names the row the file's format was taken from. With ``on_error="skip"`` the good rows
are imported (in one transaction) and the bad ones come back in :attr:`ImportResult.errors`,
so a partial import is always visible.

**Our JSONL** has one record's :meth:`~FeedbackRecord.to_dict` a line (with a ``"kind"``
key and an informative ``"id"``), or an annotator line
``{"kind": "annotator", "id": ..., "attributes": {...}}``.

**HH-RLHF** (Anthropic's helpful/harmless layout): each row has ``chosen`` and ``rejected``
transcripts ``"\\n\\nHuman: … \\n\\nAssistant: …"`` that share everything up to the final
``"\\n\\nAssistant:"``. That shared part is the prompt and the two final replies become a
:class:`Comparison` with preference ``"a"`` (= chosen). Imported public data gets
``timestamp=0`` unless told otherwise, so importing the same file twice is spotted as
duplicates.

**Hugging Face datasets** (optional ``datasets`` package): :func:`to_hf_dataset` gives one
row per record, a column per record field (``metadata`` as a JSON string);
:func:`from_hf_dataset` reads those and rows of every other layout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

from rlhf_env.errors import FeedbackError, MissingDependencyError, UnknownNameError
from rlhf_env.feedback.formats import (
    FORMATS,
    HH_ASSISTANT,
    IMPORT_FORMATS,
    ImportDefaults,
    detect_format,
    layout_for,
    layouts_help,
    record_row,
    skip_reason,
    split_hh_transcript,
    unusable_hint,
)
from rlhf_env.feedback.records import (
    RECORD_TYPES,
    Annotator,
    FeedbackRecord,
    parse_timestamp,
)
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.files import atomic_open, dumps

OnError = Literal["raise", "skip"]
_MAX_LISTED = 10
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class LineError:
    """A bad input row (1-based ``line``) and what is wrong with it."""

    line: int
    message: str
    unit: str = "line"
    """What ``line`` counts: ``"line"`` (JSONL), ``"item"`` (a JSON list), ``"row"`` (a
    dataset or Parquet file)."""
    unrecognized: bool = False
    """True when the row fits no layout (the error then shows the accepted layouts)."""

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.message}"


@dataclass(repr=False)
class ImportResult:
    """What an import read: good records and annotators, bad lines, and store counts
    (``print`` shows the counts, not the records)."""

    records: list[FeedbackRecord] = field(default_factory=list)
    annotators: list[Annotator] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    added: int = 0
    """Records written to the store (duplicates skipped by the store are not counted)."""
    format: str | None = None
    """The format the rows were read as (``None`` when no row fitted any)."""

    @property
    def ok(self) -> bool:
        """True when no line was bad."""
        return not self.errors

    def __repr__(self) -> str:
        return (f"ImportResult({len(self.records)} records, {len(self.annotators)} annotators, "
                f"{len(self.errors)} bad lines, {self.added} added to the store)")

    @property
    def empty(self) -> bool:
        """True when the source held no rows at all (only blank lines, or nothing)."""
        return not (self.records or self.annotators or self.errors)


@dataclass
class ExportResult:
    """What an export wrote, and what the format could not hold."""

    path: Path
    format: str
    written: int = 0
    """Records written."""
    annotators: int = 0
    """Annotator lines written (our format only)."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Records left out because the format cannot hold them, by what they are."""

    def summary(self) -> str:
        """One line for people: what was written where, and what was left out."""
        text = f"exported {self.written} record(s) to {self.path} ({self.format})"
        if self.annotators:
            text += f" and {self.annotators} annotator(s)"
        if self.skipped:
            parts = ", ".join(f"{n} {what}" for what, n in sorted(self.skipped.items()))
            text += (f"; skipped {sum(self.skipped.values())} record(s) that {self.format} "
                     f"cannot hold: {parts} (export --format rlhf-env keeps everything)")
        return text + "."


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise FeedbackError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")


def _check_format(fmt: str, known: tuple[str, ...]) -> None:
    if fmt not in known:
        raise UnknownNameError("feedback format", fmt, known)


SKIP_HINT = "pass on_error='skip' to import the good lines and get the bad ones listed"
"""How a Python caller imports the good lines anyway (the CLI names its flag instead)."""


def refuse_bad_lines(source: str, result: ImportResult, skip_hint: str = SKIP_HINT) -> None:
    """Raise :class:`FeedbackError` listing ``result``'s bad lines, if it has any.

    ``skip_hint`` says how the caller's user imports the good lines anyway (the command line
    names its ``--skip-bad`` flag).
    """
    if not result.errors:
        return
    listed = "; ".join(str(e) for e in result.errors[:_MAX_LISTED])
    more = len(result.errors) - _MAX_LISTED
    help_ = any(e.unrecognized for e in result.errors)
    raise FeedbackError(
        f"{source}: {len(result.errors)} bad line(s), nothing was imported: {listed}"
        + (f"; … and {more} more" if more > 0 else "")
        + f". Fix them, or {skip_hint}."
        + (f"\n{layouts_help()}" if help_ else "")
    )


def _raise_if_bad(source: str, result: ImportResult, on_error: OnError) -> None:
    if on_error == "raise":
        refuse_bad_lines(source, result)


# -- reading rows --------------------------------------------------------------------------
Rows = Iterable[tuple[int, Any]]
"""(1-based row number, parsed row or LineError) pairs."""


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON; write null or a finite number")


def _open(path: Path) -> BinaryIO:
    """``path`` for reading bytes, through gzip when it starts with gzip's magic bytes."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == _GZIP_MAGIC
    return cast(BinaryIO, gzip.open(path, "rb") if gz else open(path, "rb"))


def _starts_with_list(path: Path) -> bool:
    with _open(path) as fh:
        while chunk := fh.read(4096):
            text = chunk.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
            if text:
                return text.startswith(b"[")
    return False


def _json_lines(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or LineError) for every non-blank line."""
    with _open(Path(path)) as fh:
        for n, raw in enumerate(fh, start=1):
            if n == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
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


def _json_list(path: Path) -> list[tuple[int, Any]]:
    with _open(path) as fh:
        data = fh.read()
    try:
        items = json.loads(data.decode("utf-8-sig"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise FeedbackError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise FeedbackError(f"{path}: not a valid JSON list ({exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}).") from None
    except ValueError as exc:
        raise FeedbackError(f"{path}: {exc}.") from None
    if not isinstance(items, list):
        raise FeedbackError(f"{path}: expected a JSON list of objects or one object a line.")
    return list(enumerate(items, start=1))


def _require_datasets() -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise MissingDependencyError(
            "datasets", "Hugging Face dataset and Parquet import/export", "pip install datasets"
        ) from exc
    return datasets


def _table_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of a table (every row has every column) as the object a JSON line would be:
    columns this row does not use (``None``) are dropped, the :data:`_JSON_COLUMNS` are
    parsed."""
    if row.get("kind") is None:
        return {k: v for k, v in row.items() if v is not None}
    cls = RECORD_TYPES.get(row["kind"])
    own = {f.name for f in dataclasses.fields(cls)} if cls else set()
    data = {k: v for k, v in row.items() if v is not None or k in own | {"kind", "id"}}
    for optional in ("strength", "duration_s"):
        if data.get(optional) is None:
            data.pop(optional, None)
    for key in _JSON_COLUMNS:
        if isinstance(data.get(key), str):
            try:
                data[key] = json.loads(data[key])
            except json.JSONDecodeError as exc:
                raise FeedbackError(f"{key} is not valid JSON ({exc.msg}).") from exc
    return data


def _table_rows(rows: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, Any]]:
    for n, row in enumerate(rows, start=1):
        try:
            yield n, _table_row(row) if isinstance(row, Mapping) else row
        except FeedbackError as exc:
            yield n, LineError(n, str(exc), "row")


def _dataset_rows(path: Path) -> Iterator[tuple[int, Any]]:
    datasets = _require_datasets()
    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        splits = list(ds)
        raise FeedbackError(f"{path} holds a DatasetDict with splits {splits}; import one "
                            f"split's folder, e.g. {path / splits[0]}.")
    return _table_rows(ds)


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any]]:
    _require_datasets()
    import pyarrow.parquet as pq

    return _table_rows(pq.read_table(path).to_pylist())


def _file_rows(path: Path) -> tuple[Rows, str]:
    """The rows of the file or folder at ``path`` and what a row is called."""
    if path.is_dir():
        if not (path / "dataset_info.json").exists() and not (path / "dataset_dict.json"
                                                              ).exists():
            raise FeedbackError(f"{path} is a folder; give a file's path (.jsonl, .json, "
                                f".parquet) or a folder written by datasets' save_to_disk.")
        return _dataset_rows(path), "row"
    if path.suffix == ".parquet":
        return _parquet_rows(path), "row"
    if _starts_with_list(path):
        return _json_list(path), "item"
    return _json_lines(path), "line"


# -- rows → records ------------------------------------------------------------------------
def _misfit(row: Any, fmt: str, since: int | None, unit: str) -> tuple[str, bool]:
    """Why ``row`` fits no layout of ``fmt`` (``"auto"``: of any format), and whether it
    fits none at all; ``since`` is the row that fixed the format (``None`` when the caller
    named it)."""
    if not isinstance(row, Mapping):
        return f"expected a JSON object, got {json.dumps(row, default=str)[:60]}", False
    other = detect_format(row)
    if other is not None and other != fmt:
        if since is None:
            return (f"looks like {other}, but the format was given as {fmt}; use format "
                    f"'auto' (`--format auto`) or fix the row"), False
        return (f"looks like {other}, but {unit} {since} is {fmt}: a file holds one format, "
                f"so split it into one file per format"), False
    keys = ", ".join(repr(k) for k in row) or "none"
    hint = unusable_hint(row) or f"it matches no {'' if fmt == 'auto' else fmt + ' '}layout"
    return f"{hint} (keys found: {keys})", True


def _convert(rows: Rows, fmt: str, defaults: ImportDefaults, unit: str) -> ImportResult:
    """Records from ``rows``; ``fmt`` ``"auto"`` takes the format of the first row that has
    one, and every row must then be of it."""
    result = ImportResult()
    fixed: str | None = None if fmt == "auto" else fmt
    since: int | None = None
    for n, row in rows:
        if isinstance(row, LineError):
            result.errors.append(dataclasses.replace(row, unit=unit))
            continue
        if fixed is None and (found := detect_format(row)) is not None:
            fixed, since = found, n
        layout = layout_for(row, fixed) if fixed else None
        try:
            if layout is None:
                why, unrecognized = _misfit(row, fixed or "auto", since, unit)
                result.errors.append(LineError(n, why, unit, unrecognized))
                continue
            item = layout.to_record(row, defaults)
        except FeedbackError as exc:
            result.errors.append(LineError(n, str(exc), unit))
            continue
        if isinstance(item, Annotator):
            result.annotators.append(item)
        else:
            result.records.append(item)
    result.format = fixed
    return result


def _defaults(task: str | None, annotator: str | None, timestamp: float | str
              ) -> ImportDefaults:
    return ImportDefaults(task=task, annotator=annotator, timestamp=parse_timestamp(timestamp))


def _check_envelope(source: str, result: ImportResult, defaults: ImportDefaults) -> None:
    if result.format == "rlhf-env" and (defaults.task or defaults.annotator):
        raise FeedbackError(f"{source} holds rlhf-env records, which carry their own task and "
                            f"annotator; drop task/annotator (`--task`, `--annotator`), which "
                            f"only apply to TRL and HH-RLHF files.")


def read_feedback(
    path: str | Path,
    format: str = "auto",
    *,
    on_error: OnError = "raise",
    task: str | None = None,
    annotator: str | None = None,
    timestamp: float | str = 0.0,
) -> ImportResult:
    """Parse and validate a feedback file in any supported format (nothing is written).

    Args:
        path: a ``.jsonl``/``.json`` file (gzipped or not), a ``.parquet`` file, or a folder
            written by ``datasets``' ``save_to_disk``.
        format: ``"auto"`` (detect it from the first usable row) or one of
            :data:`~rlhf_env.feedback.formats.FORMATS`.
        on_error: ``"raise"`` (any bad row raises, listing them) or ``"skip"`` (bad rows
            come back in :attr:`ImportResult.errors`).
        task: the task of records read from TRL and HH-RLHF files (default: the format's
            name); our own records keep theirs.
        annotator: their annotator (default: the format's name).
        timestamp: their timestamp (default: 0).

    Example:
        >>> import json, pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "prefs.jsonl"
        >>> _ = path.write_text(json.dumps({"prompt": "The sky is", "chosen": " blue.",
        ...                                 "rejected": " green."}) + "\\n")
        >>> result = read_feedback(path)
        >>> result.format, result.records[0].chosen
        ('trl', ' blue.')
    """
    _check_on_error(on_error)
    _check_format(format, IMPORT_FORMATS)
    path = Path(path)
    defaults = _defaults(task, annotator, timestamp)
    try:
        rows, unit = _file_rows(path)
        result = _convert(rows, format, defaults, unit)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise FeedbackError(f"{path}: a damaged gzip file ({exc}).") from exc
    _check_envelope(str(path), result, defaults)
    _raise_if_bad(str(path), result, on_error)
    return result


def import_feedback(
    store: FeedbackStore,
    path: str | Path,
    format: str = "auto",
    *,
    on_error: OnError = "raise",
    **envelope: Any,
) -> ImportResult:
    """:func:`read_feedback` then add its annotators and records to ``store`` in one
    transaction: all-or-nothing by default, and with ``on_error="skip"`` the good rows are
    written and ``result.errors`` lists the bad ones. ``envelope``: ``task``,
    ``annotator``, ``timestamp`` as in :func:`read_feedback`."""
    result = read_feedback(path, format, on_error=on_error, **envelope)
    result.added = store.add_many(result.records, annotators=result.annotators)
    return result


def read_jsonl(path: str | Path, *, on_error: OnError = "raise") -> ImportResult:
    """Parse and validate a file of our own records (nothing is written anywhere)."""
    return read_feedback(path, "rlhf-env", on_error=on_error)


def import_jsonl(
    store: FeedbackStore, path: str | Path, *, on_error: OnError = "raise"
) -> ImportResult:
    """:func:`import_feedback` of a file of our own records."""
    return import_feedback(store, path, "rlhf-env", on_error=on_error)


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
    result = _convert(enumerate(rows, start=1), "hh-rlhf",
                      _defaults(task, annotator, timestamp), "row")
    _raise_if_bad("HH-RLHF rows", result, on_error)
    return result


def read_hh_rlhf(
    path: str | Path,
    *,
    task: str = "hh-rlhf",
    annotator: str = "hh-rlhf",
    timestamp: float = 0.0,
    on_error: OnError = "raise",
) -> ImportResult:
    """Parse an HH-RLHF file (``chosen``/``rejected`` per line) into comparisons."""
    return read_feedback(path, "hh-rlhf", on_error=on_error, task=task, annotator=annotator,
                         timestamp=timestamp)


def import_hh_rlhf(
    store: FeedbackStore, path: str | Path, *, on_error: OnError = "raise", **kwargs: Any
) -> ImportResult:
    """:func:`read_hh_rlhf` then add the comparisons to ``store`` in one transaction."""
    result = read_hh_rlhf(path, on_error=on_error, **kwargs)
    result.added = store.add_many(result.records)
    return result


# -- writing -------------------------------------------------------------------------------
def _line_writer(path: Path, rows: Iterable[Mapping[str, Any]], gz: bool, array: bool
                 ) -> None:
    """Write ``rows`` as JSON lines (or one JSON list), gzipped or not, atomically."""
    with atomic_open(path, "wb") as raw, (
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if gz
            else contextlib.nullcontext(raw)) as out:
        sep = b"[\n" if array else b""
        for row in rows:
            out.write(sep + dumps(row, indent=None).encode("utf-8") + (b"" if array else b"\n"))
            sep = b",\n" if array else b""
        if array:
            out.write(b"\n]\n" if sep == b",\n" else b"[]\n")


def _container(path: Path) -> tuple[bool, bool]:
    """(gzipped, JSON list) for an export to ``path``, from its suffixes."""
    gz = path.suffix == ".gz"
    inner = Path(path.stem).suffix if gz else path.suffix
    if inner in (".parquet", ".arrow", ".csv", ".tsv"):
        raise FeedbackError(f"export writes JSON lines (.jsonl), a JSON list (.json) or either "
                            f"gzipped (.gz), not {inner}; for a Hugging Face dataset use "
                            f"rlhf_env.feedback.io.to_hf_dataset(...).to_parquet(...).")
    return gz, inner == ".json"


def write_feedback(
    source: FeedbackStore | Iterable[FeedbackRecord],
    path: str | Path,
    format: str = "rlhf-env",
    *,
    annotators: Iterable[Annotator] | None = None,
) -> ExportResult:
    """Write records (a store's, or any iterable) to ``path`` in ``format``.

    The file kind follows the suffix: ``.jsonl`` (or anything else) JSON lines, ``.json`` a
    JSON list, ``.gz`` gzipped. Records the format cannot hold (a tie or a ranking in TRL,
    a rating in HH-RLHF…) are left out and counted in :attr:`ExportResult.skipped`. Our
    format also writes annotators first: ``annotators``, or by default a store's own.
    """
    _check_format(format, FORMATS)
    path = Path(path)
    gz, array = _container(path)
    result = ExportResult(path, format)
    if isinstance(source, FeedbackStore):
        annotators = source.annotators() if annotators is None else annotators
        source = source.iter()
    people = list(annotators or ()) if format == "rlhf-env" else []
    result.annotators = len(people)

    def rows() -> Iterator[Mapping[str, Any]]:
        for a in people:
            yield {"kind": "annotator", **a.to_dict()}
        for record in source:
            row = record_row(record, format)
            if row is None:
                result.skipped[skip_reason(record, format)] += 1
            else:
                result.written += 1
                yield row

    _line_writer(path, rows(), gz, array)  # a killed export leaves the previous file whole
    return result


def export_jsonl(
    source: FeedbackStore | Iterable[FeedbackRecord],
    path: str | Path,
    *,
    include_annotators: bool = True,
) -> int:
    """Write records in our JSONL format to ``path``; returns the record count.

    From a store, registered annotators are written first (unless
    ``include_annotators=False``), so :func:`import_jsonl` restores both.
    """
    return write_feedback(source, path, "rlhf-env",
                          annotators=None if include_annotators else ()).written


# -- Hugging Face datasets -----------------------------------------------------------------
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
    dataset: Iterable[Mapping[str, Any]],
    *,
    format: str = "auto",
    on_error: OnError = "raise",
    **envelope: Any,
) -> ImportResult:
    """Records from a ``datasets.Dataset`` (or any iterable of row dicts).

    Reads :func:`to_hf_dataset` output and rows of every layout :func:`read_feedback`
    reads (TRL, TRL conversational, HH-RLHF). Row numbers in errors are 1-based.
    ``envelope``: ``task``, ``annotator``, ``timestamp`` as in :func:`read_feedback`.
    """
    _check_on_error(on_error)
    _check_format(format, IMPORT_FORMATS)
    defaults = _defaults(envelope.pop("task", None), envelope.pop("annotator", None),
                         envelope.pop("timestamp", 0.0))
    if envelope:
        raise FeedbackError(f"unknown keyword(s) {sorted(envelope)}; use task, annotator, "
                            f"timestamp.")
    result = _convert(_table_rows(dataset), format, defaults, "row")
    _check_envelope("dataset", result, defaults)
    _raise_if_bad("dataset", result, on_error)
    return result


__all__ = [
    "HH_ASSISTANT",
    "ExportResult",
    "ImportResult",
    "LineError",
    "export_jsonl",
    "from_hf_dataset",
    "hh_rlhf_records",
    "import_feedback",
    "import_hh_rlhf",
    "import_jsonl",
    "read_feedback",
    "read_hh_rlhf",
    "read_jsonl",
    "split_hh_transcript",
    "to_hf_dataset",
    "write_feedback",
]
