"""Atomic, strict-JSON file writes for benchmark runs and reports.

Guarantees: a reader never sees half a file (each write goes to a temporary file in the same
folder, is fsync'ed and then ``os.replace``'d over the target), and every JSON file is valid
JSON (non-finite floats are written as ``null``; numpy scalars and arrays become plain
numbers and lists). Nothing here unpickles anything.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: non-finite floats → ``None``, numpy → Python, tuples →
    lists, paths → strings, anything else unknown → its ``repr``."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return jsonable(tolist())
    return repr(value)


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text of :func:`jsonable` ``(value)`` (never ``NaN``/``Infinity``)."""
    return json.dumps(jsonable(value), indent=indent, allow_nan=False, ensure_ascii=False)


def write_json(path: str | os.PathLike[str], value: Any) -> Path:
    """Write ``value`` as strict JSON, atomically."""
    return atomic_write_text(path, dumps(value) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON in ``path``, or ``None`` when it is missing or unreadable (a partial sweep)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
