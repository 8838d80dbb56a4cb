"""The on-disk cache of converted models: atomic builds, a file lock, validation.

Layout under :func:`cache_root` (``$RLHF_ENV_CACHE``, default the user's cache dir)::

    models/<name>/            a complete build (config.json, model.safetensors, tokenizer…)
    models/<name>/MANIFEST.json   size and sha256 of every file; written last
    models/<name>.lock        held while one process builds; others wait, then load

A build is written into a temporary sibling folder (``.build-<name>-*``) and renamed into place
only once it is complete, so a killed process never leaves a half-written ``<name>/`` behind;
the next build removes such leftovers. A folder whose manifest is missing or does not match its
files is treated as corrupt: moved aside and rebuilt. Sizes are checked on every load, sha256
hashes once per process (and again whenever a file's size or mtime changes).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rlhf_env.errors import CacheError
from rlhf_env.files import write_json

MANIFEST = "MANIFEST.json"
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}  # the cache cannot take a build
# Folders whose checksums were verified in this process, keyed by the folder and the
# (size, mtime) of every file: any later write to a file changes the key and re-hashes it.
_VERIFIED: set[tuple[str, tuple[tuple[str, int, int], ...]]] = set()


class CacheNotWritableError(CacheError):
    """The cache folder cannot be written and holds no valid build."""


def cache_root() -> Path:
    """The cache folder: ``$RLHF_ENV_CACHE`` or ``<user cache dir>/rlhf-env``."""
    env = os.environ.get("RLHF_ENV_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rlhf-env"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, meta: dict | None = None) -> None:
    """Record size and sha256 of every file in ``folder`` (call once the build is complete)."""
    files = {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    body = {"files": files, "created": time.time(), "meta": meta or {}}
    write_json(folder / MANIFEST, body, indent=1)  # atomic and fsynced


def is_valid(folder: Path) -> tuple[bool, str]:
    """Check ``folder`` against its manifest. Returns ``(ok, reason)``.

    Sizes are always checked; hashes once per process for a given (size, mtime) of every file
    (hashing the 540 MB SmolLM2 build takes ~0.3-1 s).
    """
    manifest = folder / MANIFEST
    if not folder.is_dir():
        return False, "not built yet"
    if not manifest.is_file():
        return False, "no manifest (a build was interrupted or the folder was edited)"
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError) as exc:
        return False, f"unreadable manifest ({exc})"
    if not files:
        return False, "empty manifest"
    stamps = []
    for rel, want in sorted(files.items()):
        path = folder / rel
        if not path.is_file():
            return False, f"missing file {rel}"
        stat = path.stat()
        if stat.st_size != want["size"]:
            return False, f"{rel} has {stat.st_size} bytes, expected {want['size']}"
        stamps.append((rel, stat.st_size, stat.st_mtime_ns))
    manifest_stat = manifest.stat()
    stamps.append((MANIFEST, manifest_stat.st_size, manifest_stat.st_mtime_ns))
    key = (str(folder.resolve()), tuple(stamps))
    if key not in _VERIFIED:
        for rel, want in files.items():
            if _sha256(folder / rel) != want["sha256"]:
                return False, f"{rel} does not match its checksum"
        _VERIFIED.add(key)
    return True, "ok"


def _writable(root: Path) -> bool:
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".probe-"):
            pass
        return True
    except OSError:
        return False


def _clear_leftovers(root: Path, name: str) -> None:
    """Remove a corrupt ``<name>/`` and the temp folders of killed builds (lock held)."""
    final = root / name
    if final.exists():
        aside = root / f".corrupt-{name}-{time.time_ns()}"
        os.replace(final, aside)
    for kind in (".build", ".corrupt"):
        prefix = f"{kind}-{name}-"
        for stale in root.glob(prefix + "*"):
            if "-" not in stale.name[len(prefix):]:  # not the leftover of a longer name
                shutil.rmtree(stale, ignore_errors=True)


def _build_into(root: Path, name: str, build: Callable[[Path], dict | None]) -> None:
    """Run ``build`` in a temp folder, write the manifest, then rename it to ``<name>/``.

    A full disk, a quota or a read-only file system becomes :class:`CacheNotWritableError`
    (callers may fall back to loading without the cache); other errors propagate as they are.
    """
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".build-{name}-"))
    try:
        meta = build(tmp)
        write_manifest(tmp, meta)
        os.replace(tmp, root / name)
    except OSError as exc:
        if exc.errno not in _NO_ROOM:
            raise
        raise CacheNotWritableError(
            f"could not write the build of {name!r} to the model cache {root} ({exc}). Free some "
            f"space there or point RLHF_ENV_CACHE at another folder."
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_built(
    name: str,
    build: Callable[[Path], dict | None],
    *,
    root: Path | None = None,
    lock_timeout: float = 1800.0,
) -> Path:
    """Return a valid cache folder for ``name``, building it with ``build(tmp_dir)`` if needed.

    ``build`` writes every file into the folder it is given and may return metadata for the
    manifest. Concurrent callers serialise on a file lock: one builds, the others wait and
    then load the same files. A corrupt folder is moved aside and rebuilt.

    Raises :class:`CacheError` when the cache folder is not writable and holds no valid build.
    """
    from filelock import FileLock, Timeout

    root = (root or cache_root()) / "models"
    final = root / name
    ok, reason = is_valid(final)
    if ok:
        return final
    if not _writable(root):
        raise CacheNotWritableError(
            f"the model cache {root} is not writable and holds no valid build of {name!r} "
            f"({reason}). Point RLHF_ENV_CACHE at a writable folder, e.g. "
            f"`export RLHF_ENV_CACHE=$HOME/.cache/rlhf-env`."
        )
    try:
        with FileLock(str(root / f"{name}.lock"), timeout=lock_timeout):
            ok, reason = is_valid(final)  # another process may have finished meanwhile
            if ok:
                return final
            _clear_leftovers(root, name)
            _build_into(root, name, build)
    except Timeout as exc:
        raise CacheError(
            f"waited {lock_timeout:g} s for another process building {name!r} in {root}. "
            f"If no such process is running, delete {root / (name + '.lock')} and retry."
        ) from exc
    ok, reason = is_valid(final)
    if not ok:  # pragma: no cover - would mean the build itself is broken
        raise CacheError(f"building {name!r} in {root} produced an invalid folder: {reason}")
    return final
