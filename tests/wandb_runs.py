"""Read back what a Weights & Biases run logged offline (its ``run-*.wandb`` file).

The file is a record log in 32 KiB blocks, after a 7-byte header (``:W&B``, a magic number, a
version): each record has a 7-byte header (checksum, length, kind: whole, first, middle or
last part) and its bytes are one protobuf ``Record``. This reads the history records only,
for tests that check which keys a run logged; wandb itself ships no reader.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7
WHOLE, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _chunks(data: bytes) -> Iterator[bytes]:
    if data[:4] != b":W&B":
        raise ValueError("not a W&B run file")
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        room = BLOCK - pos % BLOCK
        if room < HEADER:  # the rest of a block too short for a header is padding
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if pos + HEADER + length > len(data):  # still being written
            break
        body = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind == WHOLE:
            yield body
        elif kind == FIRST:
            pending = body
        elif kind == MIDDLE:
            pending += body
        elif kind == LAST:
            yield pending + body
        else:  # zero fill at the end of a file that is still open
            break


def _records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    records = []
    for chunk in _chunks(path.read_bytes()):
        record = pb.Record()
        record.ParseFromString(chunk)
        records.append(record)
    return records


def history(run_dir: Path, timeout: float = 60.0) -> list[dict[str, Any]]:
    """The rows a W&B run folder's ``run-*.wandb`` file logged, with their ``_step``.

    ``run.finish()`` can return before W&B's service process has written the file out, so
    this waits (up to ``timeout`` seconds) for the run's closing ``exit`` record.
    """
    (path,) = Path(run_dir).glob("run-*.wandb")
    deadline = time.monotonic() + timeout
    records = _records(path)
    while not any(r.WhichOneof("record_type") == "exit" for r in records):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} has no exit record after {timeout} s")
        time.sleep(0.2)
        records = _records(path)
    return [{item.key or "/".join(item.nested_key): json.loads(item.value_json)
             for item in r.history.item}
            for r in records if r.WhichOneof("record_type") == "history"]


def offline(monkeypatch: Any, folder: Path) -> None:
    """Environment for a W&B run in a test: offline, quiet, its settings and caches under
    ``folder`` (never the user's home)."""
    for var, value in {"WANDB_MODE": "offline", "WANDB_SILENT": "true",
                       "WANDB_CONFIG_DIR": str(folder / "wandb-config"),
                       "WANDB_CACHE_DIR": str(folder / "wandb-cache"),
                       "WANDB_DATA_DIR": str(folder / "wandb-data")}.items():
        monkeypatch.setenv(var, value)
