"""Pickle-free, verified, atomic state files for checkpoints.

A *state* is a tree of dicts, lists, tuples, numbers, strings, ``None``, torch tensors and
NumPy arrays (a model's ``state_dict``, an optimizer's, random-generator states, metrics).
:func:`save_state` writes it as **one safetensors file**: the tensors as safetensors data,
everything else as JSON in the file's header metadata, with a SHA-256 of both. Loading it
never unpickles anything, so a crafted file cannot run code; a truncated or altered file
fails the digest and raises :class:`~rlhf_env.errors.CheckpointError` naming it.

Writes are atomic and keep the last good file: the new state is written and fsynced next to
the target, the current file is moved to ``<name>.prev``, and the new one takes its place.
:func:`load_state` falls back to ``<name>.prev`` (with a warning) when the file is missing
or corrupt, so a process killed at any point of a save loses at most that save.

    >>> import pathlib, tempfile, torch
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "state.safetensors"
    >>> save_state(path, {"w": torch.ones(2), "step": 3, "lr": (1e-3, float("nan"))}, "demo")
    >>> state = load_state(path, "demo")
    >>> state["step"], state["w"].tolist(), state["lr"][0]
    (3, [1.0, 1.0], 0.001)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_env.errors import CheckpointError
from rlhf_env.files import atomic_open

FORMAT = "rlhf-env-state/1"
"""Written into every state file's metadata; other safetensors files are refused."""
_PREV = ".prev"


def previous_path(path: str | Path) -> Path:
    """Where :func:`save_state` keeps the state that ``path`` held before the last save."""
    path = Path(path)
    return path.with_name(path.name + _PREV)


# -- packing a tree into JSON + tensors ----------------------------------------------------
def _pack(value: Any, tensors: dict[str, Any]) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().to("cpu").contiguous().clone()  # clone: no shared memory
        return {"$tensor": key}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"cannot save a NumPy array of dtype {value.dtype}")
        key = f"t{len(tensors)}"
        tensors[key] = torch.from_numpy(np.ascontiguousarray(value).copy())
        return {"$ndarray": key}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"$tuple": [_pack(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_pack(v, tensors) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _pack(v, tensors) for k, v in value.items()}
        return {"$dict": [[_pack(k, tensors), _pack(v, tensors)] for k, v in value.items()]}
    raise TypeError(f"cannot save a {type(value).__name__} in a state file (only tensors, "
                    f"arrays, numbers, strings, lists, tuples and dicts)")


def _unpack(value: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_unpack(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "$tensor" in value:
        return tensors[value["$tensor"]]
    if "$ndarray" in value:
        return tensors[value["$ndarray"]].numpy()
    if "$float" in value:
        return float(value["$float"])
    if "$tuple" in value:
        return tuple(_unpack(v, tensors) for v in value["$tuple"])
    if "$dict" in value:
        return {_unpack(k, tensors): _unpack(v, tensors) for k, v in value["$dict"]}
    return {k: _unpack(v, tensors) for k, v in value.items()}


def _digest(tensor_bytes: bytes, tree_json: str) -> str:
    h = hashlib.sha256()
    h.update(tensor_bytes)
    h.update(tree_json.encode("utf-8"))
    return h.hexdigest()


def _split(data: bytes, source: str) -> tuple[dict[str, Any], bytes]:
    """(safetensors header, tensor bytes); raises for anything that is not one."""
    if len(data) < 8:
        raise CheckpointError(f"{source} is empty or truncated ({len(data)} bytes).")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise CheckpointError(f"{source} is truncated or not a safetensors state file.")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{source} is not a safetensors state file (it may be a "
                              f"pickle, which is never loaded: pickles can run code).") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{source} is not a safetensors state file.")
    return header, data[8 + n:]


def state_bytes(tree: Any, kind: str) -> bytes:
    """The bytes :func:`save_state` writes for ``tree`` (``kind`` names what it is)."""
    from safetensors.torch import save

    tensors: dict[str, Any] = {}
    try:
        tree_json = json.dumps(_pack(tree, tensors), allow_nan=False)
    except TypeError as exc:
        raise CheckpointError(f"cannot write a {kind} state: {exc}.") from None
    body = save(tensors, metadata={"format": FORMAT, "kind": kind})
    _, tensor_bytes = _split(body, kind)
    meta = {"format": FORMAT, "kind": kind, "tree": tree_json,
            "sha256": _digest(tensor_bytes, tree_json)}
    return bytes(save(tensors, metadata=meta))


def state_from_bytes(data: bytes, kind: str, source: str) -> Any:
    """The tree in ``data`` (read from ``source``); checks format, kind and digest."""
    from safetensors.torch import load

    header, tensor_bytes = _split(data, source)
    meta = header.get("__metadata__") or {}
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{source} is not an rlhf-env state file (format "
                              f"{meta.get('format')!r}, expected {FORMAT!r}).")
    if meta.get("kind") != kind:
        raise CheckpointError(f"{source} holds a {meta.get('kind')!r} state, not a {kind!r} "
                              f"state.")
    tree_json = meta.get("tree", "")
    if _digest(tensor_bytes, tree_json) != meta.get("sha256"):
        raise CheckpointError(f"{source} is corrupt (its checksum does not match): it was "
                              f"cut short or altered.")
    try:
        tensors = load(data)
        return _unpack(json.loads(tree_json), tensors)
    except Exception as exc:  # the digest matched, so this is a bug or a crafted file
        raise CheckpointError(f"{source} cannot be read: {exc}.") from None


def save_state(path: str | Path, tree: Any, kind: str) -> None:
    """Write ``tree`` to ``path`` atomically, keeping the previous file as ``<name>.prev``."""
    path = Path(path)
    data = state_bytes(tree, kind)
    with replacing(path) as fresh, atomic_open(fresh, "wb") as fh:
        fh.write(data)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Write the new version of ``path`` to the yielded sibling; then the current version
    becomes ``<name>.prev`` and the new one takes its place (each step atomic)."""
    fresh = path.with_name(path.name + ".new")
    yield fresh
    if path.exists():
        os.replace(path, previous_path(path))
    os.replace(fresh, path)


def load_state(path: str | Path, kind: str) -> Any:
    """The tree saved at ``path``; falls back to ``<name>.prev`` (with a warning) when
    ``path`` is missing or corrupt. Raises :class:`CheckpointError` when neither loads."""
    path = Path(path)
    errors = []
    for candidate in (path, previous_path(path)):
        try:
            data = candidate.read_bytes()
        except FileNotFoundError:
            errors.append(f"{candidate} is missing")
            continue
        except OSError as exc:
            errors.append(f"{candidate}: {exc.strerror or exc}")
            continue
        try:
            tree = state_from_bytes(data, kind, str(candidate))
        except CheckpointError as exc:
            errors.append(str(exc))
            continue
        if candidate != path:
            warnings.warn(f"{errors[0]}; using the previous good {kind} state {candidate}.",
                          RuntimeWarning, stacklevel=2)
        return tree
    raise CheckpointError(f"no usable {kind} state at {path}: " + "; ".join(errors))


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (for manifests of multi-file checkpoints)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


__all__ = ["FORMAT", "file_sha256", "load_state", "previous_path", "replacing", "save_state",
           "state_bytes", "state_from_bytes"]
