"""Segments as short clips for people to compare, queued in the feedback store.

A clip is a GIF (Pillow) or an MP4 (H.264 through ``imageio`` and ``imageio-ffmpeg``, which
brings its own ffmpeg binary: ``pip install imageio-ffmpeg``) named ``<segment id>.<ext>``.
:func:`enqueue_segment_pairs` writes both clips of each pair and puts a ``comparison`` item
in the :class:`~rlhf_env.feedback.store.FeedbackStore` queue whose two responses are the
**clip paths**: the terminal labeler (``rlhf-env label``) shows them as files to open (and
opens them in the system viewer with ``--open-clips`` or the ``o`` key), and the web
interface can show them inline. For a local store each item also gets a **side-by-side
strip** (:func:`write_pair_strip`: one GIF, clip A on the left, B on the right, each under
its letter) and a one-line summary of each segment (:func:`describe_segment`: length, and
whether and when it falls), in the item's metadata (``"strip"``, ``"summaries"``).
Pairs that teach nothing are never queued (:func:`~rlhf_env.control.labeling.pair_problem`:
two identical-looking segments, or two wholly in the failure state). The answers are ordinary
``Comparison`` records; since a clip's file name is its segment id, the trainer reads them
through :class:`~rlhf_env.control.segments.SegmentBank` like ``"segment:<id>"`` references.

Frames come from the segment itself when it was collected with ``record_frames=True``
(``render_mode="rgb_array"``, e.g. MuJoCo with ``MUJOCO_GL=egl``, or highway-env's pygame
drawing, offscreen). CartPole, Pendulum and Highway segments without frames are drawn from
their observations by :func:`draw_cartpole`, :func:`draw_pendulum` and :func:`draw_highway`
(plain numpy, no pygame).
:class:`~rlhf_env.control.queue_labeler.QueueLabeler` puts these items into the online loop.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_env.control.envs import headless_gl
from rlhf_env.control.labeling import SEGMENT_PROMPT, pair_problem
from rlhf_env.control.segments import Segment, failed_steps
from rlhf_env.errors import ConfigError, MissingDependencyError
from rlhf_env.files import atomic_path, safe_file_name

log = logging.getLogger(__name__)

QUEUE_PROMPT = SEGMENT_PROMPT + " Watch clip A and clip B (or the side-by-side strip)."
"""The prompt of every queued clip comparison."""


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


def draw_pendulum(obs: np.ndarray, size: int = 100) -> np.ndarray:
    """One RGB frame ``(size, size, 3)`` uint8 of a Pendulum observation
    ``[cos θ, sin θ, θ̇]`` (``θ = 0`` upright): a rod from the pivot, green within 0.5 rad of
    the top, orange elsewhere."""
    frame = np.full((size, size, 3), 255, dtype=np.uint8)
    c, s = float(obs[0]), float(obs[1])
    centre, length = (size - 1) / 2, size * 0.4
    color = (40, 160, 60) if c > np.cos(0.5) else (200, 140, 60)
    for t in np.linspace(0.0, 1.0, int(length) * 2):
        px, py = round(centre - s * length * t), round(centre - c * length * t)
        frame[max(py - 2, 0):py + 2, max(px - 2, 0):px + 2] = color
    mid = round(centre)
    frame[mid - 2:mid + 3, mid - 2:mid + 3] = (40, 40, 40)
    return frame


def _fill(frame: np.ndarray, rows: tuple[float, float], cols: tuple[float, float],
          color: tuple[int, int, int]) -> None:
    """Paint the rectangle ``rows × cols`` (pixel bounds, clipped to the frame)."""
    h, w = frame.shape[:2]
    r0, r1 = max(round(rows[0]), 0), min(round(rows[1]), h)
    c0, c1 = max(round(cols[0]), 0), min(round(cols[1]), w)
    if r0 < r1 and c0 < c1:
        frame[r0:r1, c0:c1] = color


def draw_highway(obs: np.ndarray, width: int = 360, height: int = 100) -> np.ndarray:
    """One RGB frame ``(height, width, 3)`` uint8 of a ``RLHF-Highway-v0`` observation: the
    road from 30 m behind the ego car to 90 m ahead (left to right), the ego car green, the
    cars it sees blue, both red in the crashed state, and a bar at the bottom whose length
    is the ego car's speed (full width: 40 m/s)."""
    from rlhf_env.control.highway import FAILURE_OBSERVATION, FEATURE_SCALE, LANE_WIDTH, LANES

    rows = np.asarray(obs, dtype=np.float64).reshape(-1, 5)
    failed = bool(np.array_equal(rows, np.asarray(FAILURE_OBSERVATION)))
    frame = np.full((height, width, 3), 255, dtype=np.uint8)
    road_h = height * 0.8
    sx, sy = width / 120.0, road_h / (LANES * LANE_WIDTH)  # pixels per metre
    _fill(frame, (0, road_h), (0, width), (100, 100, 100))
    for k in range(1, LANES):
        for x0 in range(0, width, 12):
            _fill(frame, (k * LANE_WIDTH * sy - 1, k * LANE_WIDTH * sy), (x0, x0 + 6),
                  (235, 235, 235))
    ego_y = rows[0, 2] * FEATURE_SCALE["y"]

    def car(x_m: float, y_m: float, color: tuple[int, int, int]) -> None:
        cx, cy = (x_m + 30.0) * sx, (y_m + LANE_WIDTH / 2) * sy
        _fill(frame, (cy - 0.8 * sy, cy + 0.8 * sy), (cx - 2.5 * sx, cx + 2.5 * sx), color)

    for r in rows[1:]:
        if r[0] > 0.5:
            car(r[1] * FEATURE_SCALE["x"], ego_y + r[2] * FEATURE_SCALE["y"],
                (230, 60, 60) if failed else (90, 180, 240))
    car(0.0, ego_y, (230, 60, 60) if failed else (60, 200, 40))
    speed = max(rows[0, 3] * FEATURE_SCALE["vx"], 0.0)
    _fill(frame, (road_h + 4, height - 4), (0, width * min(speed / 40.0, 1.0)),
          (230, 60, 60) if failed else (60, 160, 60))
    return frame


@functools.lru_cache(maxsize=2)
def _halfcheetah_renderer(width: int, height: int) -> Any:
    headless_gl()
    import gymnasium as gym

    env = gym.make("HalfCheetah-v5", render_mode="rgb_array", width=width, height=height)
    env.reset(seed=0)
    return env.unwrapped


def draw_halfcheetah(observations: np.ndarray, width: int = 160, height: int = 120
                     ) -> np.ndarray:
    """Frames ``(T, height, width, 3)`` of HalfCheetah observations, rendered by MuJoCo.

    An observation holds every joint position but the forward one (``x``) and every
    velocity, so each frame sets that state; ``x`` is rebuilt by integrating the forward
    velocity over the env's time step, so the cheetah moves over the floor as it did."""
    sim = _halfcheetah_renderer(width, height)
    frames, x = [], 0.0
    for o in np.asarray(observations, dtype=np.float64):
        sim.set_state(np.concatenate([[x], o[:8]]), o[8:17])
        frames.append(np.asarray(sim.render(), dtype=np.uint8).copy())
        x += float(o[8]) * sim.dt
    return np.stack(frames)


def _per_observation(draw: Any) -> Any:
    return lambda observations: np.stack([draw(o) for o in observations])


_DRAWERS = (("CartPole", 4, _per_observation(draw_cartpole)),
            ("Pendulum", 3, _per_observation(draw_pendulum)),
            ("Highway", 5, _per_observation(draw_highway)),
            ("HalfCheetah", 17, draw_halfcheetah))
"""(name in the segment's source, observation size, frames from a sequence of observations)."""


def segment_frames(segment: Segment) -> np.ndarray:
    """Frames ``(T + 1, H, W, 3)`` of a segment: recorded ones, or drawn from every
    observation and the last next observation (CartPole, Pendulum and Highway in numpy,
    HalfCheetah by MuJoCo's offscreen renderer)."""
    if segment.frames is not None:
        return np.asarray(segment.frames, dtype=np.uint8)
    for name, size, draw in _DRAWERS:
        if name in segment.source and segment.obs.shape[-1] == size:
            return np.asarray(draw(np.concatenate([segment.obs, segment.next_obs[-1:]])))
    raise ConfigError(
        f"segment {segment.id} from {segment.source or 'an unknown env'} has no frames: collect "
        "it with collect_trajectories(..., record_frames=True) on an env made with "
        "render_mode='rgb_array' (MuJoCo needs MUJOCO_GL=egl or osmesa when headless)."
    )


CLIP_FORMATS = ("gif", "mp4")
"""Clip file types :func:`write_clip` writes."""


def write_clip(frames: Any, path: str | Path, fps: int = 30) -> Path:
    """Write frames ``(T, H, W, 3)`` uint8 as a GIF (``.gif``) or an H.264 MP4 (``.mp4``).

    MP4 needs ``imageio`` and ``imageio-ffmpeg`` (``pip install imageio-ffmpeg``). H.264 in
    ``yuv420p`` needs even sides, so frames with an odd height or width get one more row or
    column, a copy of the last (a ``(100, 161, 3)`` clip comes back as ``(100, 162, 3)``).
    """
    path = Path(path)
    arr = np.asarray(frames, dtype=np.uint8)
    if arr.ndim != 4 or arr.shape[-1] != 3 or len(arr) == 0:
        raise ConfigError(f"clip frames must have shape (T, H, W, 3), got {arr.shape}.")
    if path.suffix not in (".gif", ".mp4"):
        raise ConfigError(f"clip path must end in .gif or .mp4, got {path.name!r}.")
    with atomic_path(path) as tmp:  # a killed writer never leaves half a clip
        if path.suffix == ".gif":
            from PIL import Image

            images = [Image.fromarray(f) for f in arr]
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                           duration=max(1000 // fps, 20), loop=0)
        else:
            _write_mp4(arr, tmp, fps)
    return path


def _write_mp4(frames: np.ndarray, path: Path, fps: int) -> None:
    feature = f"writing MP4 clips ({path.name}; or write .gif clips)"
    try:
        import imageio.v2 as imageio
    except ImportError as exc:
        raise MissingDependencyError("imageio", feature,
                                     "pip install imageio imageio-ffmpeg") from exc
    try:
        import imageio_ffmpeg  # noqa: F401  (the ffmpeg binary imageio's plugin runs)
    except ImportError as exc:
        raise MissingDependencyError("imageio-ffmpeg", feature) from exc
    pad = ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0))
    frames = np.pad(frames, pad, mode="edge")
    with imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                            pixelformat="yuv420p", macro_block_size=2) as writer:
        for frame in frames:
            writer.append_data(frame)  # type: ignore[attr-defined]


def write_segment_clip(segment: Segment, directory: str | Path, ext: str = "gif",
                       fps: int = 30) -> Path:
    """Write ``<directory>/<segment id>.<ext>`` (kept if it already exists)."""
    if ext not in CLIP_FORMATS:
        raise ConfigError(f"clip format must be one of {CLIP_FORMATS}, got {ext!r}.")
    path = Path(directory) / f"{safe_file_name(str(segment.id), 'segment id')}.{ext}"
    if not path.exists():
        write_clip(segment_frames(segment), path, fps)
    return path


def describe_segment(segment: Segment) -> str:
    """One line for a person: its length and whether (and when) it falls, i.e. enters the
    task's failure state (:func:`~rlhf_env.control.segments.failed_steps`).

    >>> import numpy as np
    >>> up, down = np.zeros((4, 4)), np.tile([0.0, 0.0, 0.4, 0.0], (4, 1))
    >>> falls = Segment(np.concatenate([up[:3], down[:1]]), np.zeros(4),
    ...                 np.concatenate([up[:2], down[:2]]), np.zeros(4), source="RLHF-CartPole-v0")
    >>> describe_segment(falls)
    '4 steps, falls at step 3 and stays down (2 of 4 steps)'
    """
    n = segment.length
    if segment.absorbed:
        return f"{n} steps, down the whole time (one still picture)"
    failed = failed_steps(segment)
    if not failed.any():
        return f"{n} steps, no fall"
    return (f"{n} steps, falls at step {int(np.argmax(failed)) + 1} and stays down "
            f"({int(failed.sum())} of {n} steps)")


STRIP_HEADER = 16
"""Pixel rows above the clips in a strip, where the letters A and B go."""
STRIP_GAP = 6
"""Grey pixel columns between clip A and clip B in a strip."""


def label_band(width: int, letters: Sequence[tuple[int, str]]) -> np.ndarray:
    """A white ``(STRIP_HEADER, width, 3)`` band with each letter drawn at its x centre."""
    from PIL import Image, ImageDraw

    band = Image.new("RGB", (width, STRIP_HEADER), (255, 255, 255))
    draw = ImageDraw.Draw(band)
    for centre, letter in letters:
        draw.text((centre - 3, 2), letter, fill=(0, 0, 0))
    return np.asarray(band, dtype=np.uint8)


def pair_strip_frames(a: Segment, b: Segment) -> np.ndarray:
    """Frames ``(T, STRIP_HEADER + H, Wa + STRIP_GAP + Wb, 3)``: clip A left, clip B right,
    under the letters A and B; the shorter clip holds its last frame."""
    clips = [segment_frames(a), segment_frames(b)]
    t = max(len(c) for c in clips)
    h = max(c.shape[1] for c in clips)
    padded = [np.pad(np.concatenate([c, np.repeat(c[-1:], t - len(c), axis=0)]),
                     ((0, 0), (0, h - c.shape[1]), (0, 0), (0, 0)), constant_values=255)
              for c in clips]
    gap = np.full((t, h, STRIP_GAP, 3), 160, dtype=np.uint8)
    body = np.concatenate([padded[0], gap, padded[1]], axis=2)
    wa = padded[0].shape[2]
    band = label_band(body.shape[2], [(wa // 2, "A"),
                                       (wa + STRIP_GAP + padded[1].shape[2] // 2, "B")])
    return np.concatenate([np.repeat(band[None], t, axis=0), body], axis=1)


def write_pair_strip(a: Segment, b: Segment, directory: str | Path, fps: int = 30) -> Path:
    """Write ``<directory>/<a id>-vs-<b id>.gif``, both clips side by side (A left, B
    right; kept if it already exists) for a person who cannot play two files at once."""
    name = (f"{safe_file_name(str(a.id), 'segment id')}-vs-"
            f"{safe_file_name(str(b.id), 'segment id')}.gif")
    path = Path(directory) / name
    if not path.exists():
        write_clip(pair_strip_frames(a, b), path, fps)
    return path


def enqueue_segment_pairs(store: Any, pairs: Sequence[tuple[Segment, Segment]],
                          clip_dir: str | Path, *, task: str = "control", ext: str = "gif",
                          priority: float = 0.0, fps: int = 30, labels_wanted: int = 1,
                          metadata: dict[str, Any] | None = None) -> list[int]:
    """Write clips and queue one comparison per fair pair; returns the queue item ids.

    Each item's metadata holds ``"segments"`` (the two ``"segment:<id>"`` references),
    ``"summaries"`` (:func:`describe_segment` of each), for a local store ``"strip"`` (the
    :func:`write_pair_strip` path), and whatever ``metadata`` adds; ``labels_wanted``
    annotators should answer each. Pairs :func:`~rlhf_env.control.labeling.pair_problem`
    rejects are skipped (and logged).
    """
    remote = str(store.path).startswith(("http://", "https://"))
    ids = []
    for a, b in pairs:
        problem = pair_problem(a, b)
        if problem is not None:
            log.info("not queueing segments %s and %s: %s", a.id, b.id, problem)
            continue
        paths = [str(write_segment_clip(s, clip_dir, ext, fps).resolve()) for s in (a, b)]
        extra: dict[str, Any] = {"segments": [a.ref, b.ref],
                                 "summaries": [describe_segment(a), describe_segment(b)]}
        if not remote:  # a server shows the clips itself; a local path means nothing there
            extra["strip"] = str(write_pair_strip(a, b, clip_dir, fps).resolve())
        ids.append(store.enqueue("comparison", QUEUE_PROMPT, paths, task=task,
                                 priority=priority, labels_wanted=labels_wanted,
                                 metadata={**(metadata or {}), **extra}))
    return ids


__all__ = ["CLIP_FORMATS", "QUEUE_PROMPT", "describe_segment", "draw_cartpole",
           "draw_halfcheetah", "draw_highway", "draw_pendulum", "enqueue_segment_pairs",
           "pair_strip_frames", "segment_frames", "write_clip", "write_pair_strip",
           "write_segment_clip"]
