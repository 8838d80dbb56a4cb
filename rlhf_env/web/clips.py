"""Clips for the side-by-side player: which files may be served, and their frames.

A control-task comparison holds two clip paths (see :mod:`rlhf_env.control.clips`). The
browser plays both in one clock (play/pause, loop, speed, scrub), which needs the frames
themselves: a GIF is sent as one *sprite* (all frames side by side in one PNG) plus its
frame count and rate, drawn onto a canvas frame by frame; MP4/WebM files are played by
``<video>`` elements that the same clock drives.

Only files inside the server's clip folder are ever served.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rlhf_env.errors import FeedbackError, MissingDependencyError

CLIP_SUFFIXES = (".gif", ".mp4", ".webm")
CLIP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.(gif|mp4|webm)$")
"""File names a clip upload may use (no folders, no hidden files)."""


def is_clip(text: str) -> bool:
    """Whether a queue response names a clip file rather than holding text."""
    return "\n" not in text and text.lower().endswith(CLIP_SUFFIXES) and len(text) < 4096


def clip_path(root: Path, response: str) -> Path:
    """The file a clip response names, when it lies inside ``root`` (else FeedbackError)."""
    root = root.resolve()
    path = Path(response)
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise FeedbackError(f"clip {path.name!r} is not a file in the clip folder {root}.")
    return path


@dataclass(frozen=True)
class Sprite:
    """All frames of a GIF side by side: ``png`` is ``frames`` × ``width`` wide."""

    png: bytes
    frames: int
    width: int
    height: int
    fps: float


@lru_cache(maxsize=64)
def _sprite(path: str, mtime: float) -> Sprite:
    try:
        from PIL import Image, ImageSequence
    except ImportError as exc:  # pragma: no cover - Pillow comes with the control extra
        raise MissingDependencyError("pillow", "the clip player",
                                     "pip install 'rlhf-env[control]'") from exc
    with Image.open(path) as im:
        frames = [f.convert("RGB") for f in ImageSequence.Iterator(im)]
        duration_ms = float(im.info.get("duration") or 100.0)
    w, h = frames[0].size
    sheet = Image.new("RGB", (w * len(frames), h))
    for i, frame in enumerate(frames):
        sheet.paste(frame, (i * w, 0))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return Sprite(buf.getvalue(), len(frames), w, h, round(1000.0 / max(duration_ms, 1.0), 3))


def gif_sprite(path: Path) -> Sprite:
    """The sprite of a GIF file (cached while the file is unchanged)."""
    return _sprite(str(path), path.stat().st_mtime)


__all__ = ["CLIP_NAME", "CLIP_SUFFIXES", "Sprite", "clip_path", "gif_sprite", "is_clip"]
