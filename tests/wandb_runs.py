"""Read back what a Weights & Biases run logged offline (its ``run-*.wandb`` file).

The file is a record log in 32 KiB blocks, after a 7-byte header (``:W&B``, a magic number, a
version): each record has a 7-byte header (checksum, length, kind: whole, first, middle or
last part) and its bytes are one protobuf ``Record``. This reads the history records only,
for tests that check which keys a run logged; wandb itself ships no reader.
"""

from __future__ import annotations

import json
import struct
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


def history(run_dir: Path) -> list[dict[str, Any]]:
    """The rows a W&B run folder's ``run-*.wandb`` file logged, with their ``_step``."""
    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = Path(run_dir).glob("run-*.wandb")
    rows = []
    for chunk in _chunks(path.read_bytes()):
        record = pb.Record()
        record.ParseFromString(chunk)
        if record.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                         for item in record.history.item})
    return rows
