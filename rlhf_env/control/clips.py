"""Segments as short clips for people to compare, queued in the feedback store.

A clip is a GIF (Pillow) or MP4 (``imageio`` with its ffmpeg plugin) named ``<segment
id>.<ext>``. :func:`enqueue_segment_pairs` writes both clips of each pair and puts a
``comparison`` item in the :class:`~rlhf_env.feedback.store.FeedbackStore` queue whose two
responses are the **clip paths**: the terminal labeler (``rlhf-env label``) prints them as
files to open, and the web interface can show them inline. The answers are ordinary
``Comparison`` records; since a clip's file name is its segment id, the trainer reads them
through :class:`~rlhf_env.control.segments.SegmentBank` like ``"segment:<id>"`` references.

Frames come from the segment itself when it was collected with ``record_frames=True``
(``render_mode="rgb_array"``, e.g. MuJoCo with ``MUJOCO_GL=egl``). CartPole segments without
frames are drawn from their observations by :func:`draw_cartpole` (plain numpy, no pygame).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_env.control.labeling import SEGMENT_PROMPT
from rlhf_env.control.segments import Segment
from rlhf_env.errors import ConfigError, MissingDependencyError


def draw_cartpole(obs: np.ndarray, width: int = 160, height: int = 100) -> np.ndarray:
    """One RGB frame ``(height, width, 3)`` uint8 of a CartPole observation
    ``[x, x_dot, theta, theta_dot]``: a track, a cart and a pole (red once past the failure
    angle or off the track)."""
    frame = np.full((height, width, 3), 255, dtype=np.uint8)
    ground = int(height * 0.75)
    frame[ground, :] = 0
    x, theta = float(obs[0]), float(obs[2])
    cx = round((x / 4.8 + 0.5) * (width - 1))
    cart_w, cart_h = width // 10, height // 12
    x0, x1 = max(cx - cart_w // 2, 0), min(cx + cart_w // 2, width - 1)
    frame[ground - cart_h:ground, x0:x1 + 1] = (40, 40, 40)
    failed = abs(theta) > 0.2095 or abs(x) > 2.4
    color = (200, 30, 30) if failed else (200, 140, 60)
    length = height * 0.55
    for t in np.linspace(0.0, 1.0, int(length) * 2):
        px = round(cx + float(np.sin(theta)) * length * t)
        py = round(ground - cart_h - float(np.cos(theta)) * length * t)
        if 0 <= px < width and 0 <= py < height:
            frame[max(py - 1, 0):py + 1, max(px - 1, 0):px + 2] = color
    return frame


def segment_frames(segment: Segment) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` of a segment (recorded ones, or drawn for CartPole)."""
    if segment.frames is not None:
        return np.asarray(segment.frames, dtype=np.uint8)
    if "CartPole" in segment.source and segment.obs.shape[-1] == 4:
        frames = [draw_cartpole(o) for o in segment.obs]
        return np.stack([*frames, draw_cartpole(segment.next_obs[-1])])
    raise ConfigError(
        f"segment {segment.id} from {segment.source or 'an unknown env'} has no frames: collect "
        "it with collect_trajectories(..., record_frames=True) on an env made with "
        "render_mode='rgb_array' (MuJoCo needs MUJOCO_GL=egl or osmesa when headless)."
    )


def write_clip(frames: Any, path: str | Path, fps: int = 30) -> Path:
    """Write frames ``(T, H, W, 3)`` uint8 as a GIF (``.gif``) or MP4 (``.mp4``)."""
    path = Path(path)
    arr = np.asarray(frames, dtype=np.uint8)
    if arr.ndim != 4 or arr.shape[-1] != 3 or len(arr) == 0:
        raise ConfigError(f"clip frames must have shape (T, H, W, 3), got {arr.shape}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in arr]
        images[0].save(path, save_all=True, append_images=images[1:],
                       duration=max(1000 // fps, 20), loop=0)
        return path
    if path.suffix == ".mp4":
        try:
            import imageio.v2 as imageio

            imageio.mimwrite(path, list(arr), fps=fps)
        except (ImportError, ValueError, RuntimeError) as exc:
            raise MissingDependencyError(
                "imageio-ffmpeg", f"writing MP4 clips (or write .gif clips; {exc})",
                "pip install imageio imageio-ffmpeg") from exc
        return path
    raise ConfigError(f"clip path must end in .gif or .mp4, got {path.name!r}.")


def write_segment_clip(segment: Segment, directory: str | Path, ext: str = "gif",
                       fps: int = 30) -> Path:
    """Write ``<directory>/<segment id>.<ext>`` (kept if it already exists)."""
    path = Path(directory) / f"{segment.id}.{ext}"
    if not path.exists():
        write_clip(segment_frames(segment), path, fps)
    return path


def enqueue_segment_pairs(store: Any, pairs: Sequence[tuple[Segment, Segment]],
                          clip_dir: str | Path, *, task: str = "control", ext: str = "gif",
                          priority: float = 0.0) -> list[int]:
    """Write clips and queue one comparison per pair; returns the queue item ids."""
    ids = []
    for a, b in pairs:
        if a.id == b.id:
            continue
        paths = [str(write_segment_clip(s, clip_dir, ext).resolve()) for s in (a, b)]
        ids.append(store.enqueue("comparison", SEGMENT_PROMPT + " Open both files.", paths,
                                 task=task, priority=priority,
                                 metadata={"segments": [a.ref, b.ref]}))
    return ids


__all__ = ["draw_cartpole", "enqueue_segment_pairs", "segment_frames", "write_clip",
           "write_segment_clip"]
