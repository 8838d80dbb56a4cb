"""Crafted files for the "nothing unpickles untrusted bytes" tests.

:func:`evil_pickle` is a pickle whose ``__reduce__`` creates a marker file when it is
unpickled; :func:`evil_torch_file` wraps the same payload in ``torch.save``'s zip layout (what
``agent.zip``'s ``policy.pth`` and old ``.pt`` checkpoints look like). A loader is safe when
it refuses such a file and the marker does not exist afterwards.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (Path(self.marker),))


def evil_pickle(marker: Path) -> bytes:
    """Pickle bytes that create ``marker`` when loaded."""
    return pickle.dumps({"state": _Payload(marker)})


def evil_torch_file(marker: Path) -> bytes:
    """``torch.save`` bytes (zip) whose pickle creates ``marker`` when loaded."""
    import torch

    buffer = io.BytesIO()
    torch.save({"state": _Payload(marker)}, buffer)
    return buffer.getvalue()


def evil_zip(marker: Path) -> bytes:
    """An SB3-style ``agent.zip`` whose ``data`` and ``policy.pth`` entries run code."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("data", evil_pickle(marker))
        zf.writestr("policy.pth", evil_torch_file(marker))
        zf.writestr("_stable_baselines3_version", "2.0")
    return buffer.getvalue()
