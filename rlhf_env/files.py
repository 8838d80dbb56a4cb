"""Atomic file writes: every file the package writes goes through here.

A write lands whole or not at all: the bytes go to a temporary file in the destination's
folder, are flushed and fsynced, and the temporary file is renamed over the destination
(``os.replace`` is atomic on POSIX and Windows within one file system). A reader, or a
process killed mid-write, never sees a half-written file, and the previous version stays
intact until the new one is complete.

    >>> import json, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.json"
    >>> write_json(path, {"score": 1.5, "gold": float("nan")})
    >>> json.loads(path.read_text())
    {'score': 1.5, 'gold': None}
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

_UMASK = os.umask(0o022)
os.umask(_UMASK)
"""The process's umask, read once at import (Python has no way to read it without setting
it): temporary files are created private (0600), and get the mode a plain ``open`` would
have given them before they take the target's place."""


def _public_mode(tmp: str | Path, target: Path, folder: bool = False) -> None:
    """Give ``tmp`` the mode of the ``target`` it replaces, or the umask's default."""
    try:
        mode = target.stat().st_mode & 0o7777
    except OSError:
        mode = (0o777 if folder else 0o666) & ~_UMASK
    os.chmod(tmp, mode)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; on a clean exit it replaces ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        binary = mode == "wb"
        with os.fdopen(fd, mode, encoding=None if binary else encoding,
                       newline=None if binary else newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _public_mode(tmp, path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary sibling path with ``path``'s suffix, for writers that need a file name
    (image and video libraries); on a clean exit it is fsynced and replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync_file(tmp)
        _public_mode(tmp, path)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A temporary sibling folder to fill; on a clean exit every file in it is fsynced and
    it takes ``path``'s place (an existing folder is moved aside first and then deleted)."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        for file in tmp.rglob("*"):
            if file.is_file():
                _fsync_file(file)
        _public_mode(tmp, path, folder=True)
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.{os.getpid()}.old")
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_folder(path.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def saved_model_folder(path: str | Path, markers: tuple[str, ...]) -> Iterator[Path]:
    """:func:`atomic_folder` for a ``save_pretrained`` folder: the new save replaces the old
    one whole, but a non-empty folder that holds none of ``markers`` (so it is not an
    earlier save) is refused with :class:`~rlhf_env.errors.ConfigError`, never deleted."""
    from rlhf_env.errors import ConfigError

    path = Path(path).expanduser()
    if path.is_file():
        raise ConfigError(f"{path} is a file; save_pretrained needs a folder path.")
    if path.is_dir() and any(path.iterdir()) and not any((path / m).exists() for m in markers):
        raise ConfigError(f"{path} is not empty and holds no earlier save (none of "
                          f"{', '.join(markers)}); saving would replace its files. Pick a new "
                          f"or empty folder.")
    with atomic_folder(path) as tmp:
        yield tmp


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]{0,199}$")


def safe_file_name(name: str, what: str = "name") -> str:
    """``name`` when it can be a file name inside a folder (no ``/``, ``..`` or leading dot),
    else :class:`~rlhf_env.errors.ConfigError`: ids from data never write outside a folder."""
    from rlhf_env.errors import ConfigError

    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        raise ConfigError(f"{what} {name!r} cannot be a file name: use letters, digits and "
                          f"_.+=- only (no '/', '..' or leading dot).")
    return name


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the platform lets a folder be fsynced)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def plain(value: Any) -> Any:
    """NumPy scalars and arrays as plain Python values; anything else unchanged."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def json_safe(value: Any, fallback: Callable[[Any], Any] | None = None) -> Any:
    """``value`` as plain JSON data: NumPy values made plain, NaN/±inf replaced by ``None``,
    tuples and sets as lists, paths as strings. Anything else is returned unchanged, or
    passed through ``fallback`` when one is given (e.g. ``repr``)."""
    value = plain(value)
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, fallback) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v, fallback) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value if fallback is None else fallback(value)


def dumps(value: Any, indent: int | None = 2, fallback: Callable[[Any], Any] | None = None) -> str:
    """Strict JSON text of :func:`json_safe` ``(value)`` (never ``NaN``/``Infinity``)."""
    return json.dumps(json_safe(value, fallback), indent=indent, allow_nan=False,
                      ensure_ascii=False)


def write_json(path: str | Path, payload: Any, indent: int | None = 2,
               fallback: Callable[[Any], Any] | None = None) -> None:
    """``payload`` as strict JSON (NaN/inf written as ``null``), atomically."""
    write_text(path, dumps(payload, indent=indent, fallback=fallback) + "\n")


def read_utf8(path: str | Path, error: type[Exception] | None = None) -> str:
    """The UTF-8 text of ``path``; another encoding raises ``error`` (default
    :class:`~rlhf_env.errors.ConfigError`) naming the file, the line and the byte."""
    from rlhf_env.errors import ConfigError

    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise (error or ConfigError)(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file "
            f"as UTF-8.") from None


def read_npz(path: str | Path, what: str, keys: Any = None,
             error: type[Exception] | None = None) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, loaded without pickles. A file that is not an npz
    archive, holds object (pickled) arrays, or lacks one of ``keys(arrays)`` raises
    ``error`` (default :class:`~rlhf_env.errors.ConfigError`) naming it as ``what``."""
    import zipfile

    from rlhf_env.errors import ConfigError

    fail = error or ConfigError
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except FileNotFoundError:
        raise fail(f"{path}: no such {what}.") from None
    except OSError as exc:
        raise fail(f"{path} is not a readable {what} ({exc}).") from None
    if not head.startswith(b"PK"):
        # np.load would take anything else for a pickle (or a lone .npy array) and suggest
        # allow_pickle=True, which is never the fix for a file someone handed us
        kind = "empty" if not head else f"not an .npz archive (it starts with {head!r})"
        raise fail(f"{path} is {kind}, so it is not a {what}; write one with np.savez or "
                   f"this package's save function.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise fail(f"{path}: no such {what}.") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise fail(f"{path} is not a readable {what} ({exc}); pickled arrays are never "
                   f"loaded.") from None
    missing = [k for k in (keys(arrays) if callable(keys) else keys or ()) if k not in arrays]
    if missing:
        raise fail(f"{path} is not a complete {what} (missing {', '.join(missing[:4])}).")
    return arrays


_RAISE: Any = object()


def read_json(path: str | Path, default: Any = _RAISE) -> Any:
    """The JSON value in ``path``.

    A missing, unreadable or invalid file raises :class:`~rlhf_env.errors.ConfigError`
    naming the file (and the line of a syntax error), or returns ``default`` when one is
    given. ``NaN``/``Infinity`` are not JSON and are refused.
    """
    from rlhf_env.errors import ConfigError

    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not valid JSON")

    try:
        text = Path(path).read_text(encoding="utf-8")
        return json.loads(text, parse_constant=refuse)
    except FileNotFoundError:
        if default is not _RAISE:
            return default
        raise ConfigError(f"{path}: no such file.") from None
    except UnicodeDecodeError as exc:
        if default is not _RAISE:
            return default
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}).") from None
    except json.JSONDecodeError as exc:
        if default is not _RAISE:
            return default
        raise ConfigError(f"{path}, line {exc.lineno}: invalid JSON ({exc.msg}).") from None
    except (OSError, ValueError) as exc:
        if default is not _RAISE:
            return default
        raise ConfigError(f"{path}: cannot read it as JSON ({exc}).") from None
