"""Trajectory segments (fragments): typed records, sampling from rollouts, a side table.

Feedback records are text (``Comparison.response_a`` is a string), so a segment travels
through the feedback store, labelers and trainer as a **reference string**
``"segment:<id>"`` (or the path of its clip, whose file name is ``<id>.gif``). The arrays
live in a :class:`SegmentBank` keyed by id — the side table that the trainer
(:mod:`rlhf_env.control.training`) and the synthetic labeler read. ``bank.save(path)``
writes one ``.npz`` file next to the feedback, so records and segments stay together.

Shapes: ``T`` = segment length, ``O`` = observation shape, ``A`` = action shape (empty for
``Discrete``).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rlhf_env.errors import ConfigError, FeedbackError
from rlhf_env.files import read_npz, write_bytes

REF_PREFIX = "segment:"


@dataclass(frozen=True, eq=False)
class Segment:
    """``T`` consecutive transitions of one episode."""

    obs: np.ndarray
    """Observations ``(T, *O)``."""
    actions: np.ndarray
    """Actions ``(T, *A)``."""
    next_obs: np.ndarray
    """Next observations ``(T, *O)``."""
    true_rewards: np.ndarray
    """The task's own rewards ``(T,)`` (what a synthetic labeler compares)."""
    frames: np.ndarray | None = None
    """Optional rendered frames ``(T, H, W, 3)`` uint8 (for clips)."""
    source: str = ""
    """Env id the segment came from."""
    id: str = field(default="")
    """Content id (filled in from the arrays when empty)."""

    def __post_init__(self) -> None:
        t = len(self.obs)
        lens = {"actions": len(self.actions), "next_obs": len(self.next_obs),
                "true_rewards": len(self.true_rewards)}
        if t == 0 or any(v != t for v in lens.values()):
            raise FeedbackError(
                f"segment arrays disagree in length: obs has {t} steps, {lens}; every array "
                "needs one row per transition."
            )
        for name in ("obs", "next_obs"):
            if not np.isfinite(np.asarray(getattr(self, name), dtype=np.float64)).all():
                raise FeedbackError(f"segment {name} contains NaN or inf; drop that rollout.")
        if not self.id:
            h = hashlib.sha1()
            for arr in (self.obs, self.actions, self.next_obs):
                h.update(np.ascontiguousarray(arr).tobytes())
            object.__setattr__(self, "id", h.hexdigest()[:16])

    @property
    def length(self) -> int:
        """Number of transitions ``T``."""
        return len(self.obs)

    @property
    def true_return(self) -> float:
        """Sum of the true rewards."""
        return float(np.sum(self.true_rewards))

    @property
    def ref(self) -> str:
        """The string that stands for this segment in feedback records."""
        return REF_PREFIX + self.id

    @property
    def view_key(self) -> str:
        """A hash of what a person sees: the observations alone. Actions are left out (the
        content :attr:`id` includes them): two segments through the same states look the
        same in a clip, such as two stretches of the fallen CartPole."""
        h = hashlib.sha1()
        for arr in (self.obs, self.next_obs):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:16]

    @property
    def absorbed(self) -> bool:
        """True when no step changes the state: the segment lies wholly in an absorbing state
        (e.g. ``RLHF-CartPole-v0`` after a fall), so its clip is one still picture."""
        return bool(np.array_equal(self.obs, self.next_obs))


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One episode (or a piece of it) as arrays, like :class:`Segment` but of any length."""

    obs: np.ndarray
    actions: np.ndarray
    next_obs: np.ndarray
    rewards: np.ndarray
    frames: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.obs)


def failed_steps(segment: Segment) -> np.ndarray:
    """``(T,)`` bool: which steps end in the failure state.

    For a task with a known failure observation
    (:data:`~rlhf_env.control.envs.FAILURE_OBSERVATIONS`, found through the segment's
    ``source``) a step ends there when its next observation is that one. Otherwise a step
    counts when it leaves the state unchanged (the frozen absorbing state; the falling step
    itself, whose next observation differs, is then not counted).
    """
    from rlhf_env.control.envs import CONTROL_TASKS, FAILURE_OBSERVATIONS

    task = CONTROL_TASKS.get(segment.source)
    failure = FAILURE_OBSERVATIONS.get(task.base_id if task else segment.source)
    nxt = np.asarray(segment.next_obs).reshape(segment.length, -1)
    if failure is not None and nxt.shape[1] == len(failure):
        return np.all(np.isclose(nxt, np.asarray(failure, dtype=nxt.dtype)), axis=1)
    return np.all(np.asarray(segment.obs).reshape(segment.length, -1) == nxt, axis=1)


def segment_id_from_ref(ref: str) -> str:
    """``"segment:<id>"`` or a clip path ``…/<id>.gif`` → ``<id>``."""
    if ref.startswith(REF_PREFIX):
        return ref[len(REF_PREFIX):]
    return Path(ref).stem


Policy = Callable[[np.ndarray], Any]


def as_policy(policy: Any, env: gym.Env) -> Policy:
    """``None`` (uniform random), an SB3 model (``predict``), or ``f(obs) -> action``."""
    if policy is None:
        return lambda obs: env.action_space.sample()
    predict = getattr(policy, "predict", None)
    if callable(predict):
        return lambda obs: predict(obs, deterministic=False)[0]
    if callable(policy):
        return policy
    raise ConfigError(f"policy must be None, an SB3 model or a function obs -> action; "
                      f"got {type(policy).__name__}.")


def collect_trajectories(env: gym.Env, policy: Any, n_steps: int, *, seed: int | None = None,
                         record_frames: bool = False) -> list[Trajectory]:
    """Run ``policy`` in ``env`` for ``n_steps`` transitions, one :class:`Trajectory` per
    episode (the last one may be partial). ``record_frames`` needs ``render_mode="rgb_array"``.
    """
    if n_steps < 1:
        raise ConfigError(f"collect_trajectories: n_steps must be >= 1, got {n_steps}.")
    act = as_policy(policy, env)
    if seed is not None:
        env.action_space.seed(seed)
    out: list[Trajectory] = []
    obs, _ = env.reset(seed=seed)
    buf: dict[str, list[Any]] = _empty_buffer()
    for _ in range(n_steps):
        action = act(obs)
        if record_frames:
            buf["frames"].append(env.render())
        nxt, reward, terminated, truncated, _ = env.step(action)
        for key, value in (("obs", obs), ("actions", action), ("next_obs", nxt),
                           ("rewards", reward)):
            buf[key].append(value)
        obs = nxt
        if terminated or truncated:
            out.append(_to_trajectory(buf))
            buf = _empty_buffer()
            obs, _ = env.reset()
    if buf["obs"]:
        out.append(_to_trajectory(buf))
    return out


def _empty_buffer() -> dict[str, list[Any]]:
    return {"obs": [], "actions": [], "next_obs": [], "rewards": [], "frames": []}


def _to_trajectory(buf: dict[str, list[Any]]) -> Trajectory:
    frames = np.stack(buf["frames"]) if buf["frames"] else None
    return Trajectory(np.asarray(buf["obs"], dtype=np.float32), np.asarray(buf["actions"]),
                      np.asarray(buf["next_obs"], dtype=np.float32),
                      np.asarray(buf["rewards"], dtype=np.float64), frames)


def sample_segments(trajectories: Sequence[Trajectory], length: int, n: int,
                    rng: np.random.Generator, source: str = "") -> list[Segment]:
    """``n`` random windows of ``length`` steps from trajectories at least that long."""
    if length < 1:
        raise ConfigError(f"segment length must be >= 1, got {length}.")
    usable = [t for t in trajectories if len(t) >= length]
    if not usable:
        longest = max((len(t) for t in trajectories), default=0)
        raise ConfigError(
            f"no trajectory has {length} steps (longest: {longest}); collect more steps or "
            "use shorter segments."
        )
    weights = np.array([len(t) - length + 1 for t in usable], dtype=np.float64)
    picks = rng.choice(len(usable), size=n, p=weights / weights.sum())
    out = []
    for i in picks:
        t = usable[int(i)]
        s = int(rng.integers(0, len(t) - length + 1))
        sl = slice(s, s + length)
        out.append(Segment(t.obs[sl], t.actions[sl], t.next_obs[sl], t.rewards[sl],
                           None if t.frames is None else t.frames[sl], source))
    return out


def stack_segments(segments: Sequence[Segment]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, T, *O)``, ``(N, T, *A)``, ``(N, T, *O)`` arrays of equally long segments."""
    if not segments:
        raise FeedbackError("no segments to stack.")
    lengths = sorted({s.length for s in segments})
    if len(lengths) > 1:
        raise FeedbackError(
            f"segments of unequal length {lengths}: compare and batch segments of one length "
            "(sample them with one `length`)."
        )
    return (np.stack([s.obs for s in segments]), np.stack([s.actions for s in segments]),
            np.stack([s.next_obs for s in segments]))


class SegmentBank:
    """Segments by id: the side table behind the ``"segment:<id>"`` strings in records."""

    def __init__(self, segments: Iterable[Segment] = ()) -> None:
        self._by_id: dict[str, Segment] = {}
        self.add(segments)

    def add(self, segments: Iterable[Segment]) -> None:
        """Store segments (a segment already stored is kept once)."""
        for s in segments:
            self._by_id.setdefault(s.id, s)

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, ref: str) -> bool:
        return segment_id_from_ref(ref) in self._by_id

    def get(self, ref: str) -> Segment:
        """The segment behind ``ref`` (an id, ``"segment:<id>"`` or a clip path)."""
        key = segment_id_from_ref(ref)
        try:
            return self._by_id[key]
        except KeyError:
            raise FeedbackError(
                f"unknown segment {ref!r}: the segment bank has no id {key!r}; load the bank "
                "that was saved with these records."
            ) from None

    def segments(self) -> list[Segment]:
        """All stored segments, in insertion order."""
        return list(self._by_id.values())

    def true_returns(self, refs: Sequence[str]) -> np.ndarray:
        """True returns ``(n,)`` of the referenced segments."""
        return np.array([self.get(r).true_return for r in refs], dtype=np.float64)

    def transitions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All stored transitions, flattened: ``(N·T, *O)``, ``(N·T, *A)``, ``(N·T, *O)``."""
        segs = self.segments()
        return (np.concatenate([s.obs for s in segs]), np.concatenate([s.actions for s in segs]),
                np.concatenate([s.next_obs for s in segs]))

    def save(self, path: str | Path | Any) -> None:
        """Write every segment (frames left out) to one ``.npz`` file."""
        segs = self.segments()
        arrays: dict[str, Any] = {"ids": np.array([s.id for s in segs]),
                                  "sources": np.array([s.source for s in segs])}
        for i, s in enumerate(segs):
            for name in ("obs", "actions", "next_obs", "true_rewards"):
                arrays[f"{i}_{name}"] = getattr(s, name)
        if isinstance(path, (str, Path)):  # atomic: a killed save keeps the old file
            buffer = io.BytesIO()
            np.savez_compressed(buffer, **arrays)
            write_bytes(path, buffer.getvalue())
        else:
            np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> SegmentBank:
        """Read a bank written by :meth:`save`."""
        def needed(arrays: dict[str, np.ndarray]) -> list[str]:
            n = len(arrays.get("ids", ()))
            return ["ids", "sources", *(f"{i}_{name}" for i in range(n) for name in
                                        ("obs", "actions", "next_obs", "true_rewards"))]

        data = read_npz(path, "segment bank", needed)
        if len(data["ids"]) != len(data["sources"]):
            raise ConfigError(f"{path} is not a complete segment bank (ids and sources "
                              f"differ in length).")
        segs = [Segment(data[f"{i}_obs"], data[f"{i}_actions"], data[f"{i}_next_obs"],
                        data[f"{i}_true_rewards"], None, str(src), str(sid))
                for i, (sid, src) in enumerate(zip(data["ids"], data["sources"], strict=True))]
        return cls(segs)


__all__ = ["REF_PREFIX", "Segment", "SegmentBank", "Trajectory", "as_policy",
           "collect_trajectories", "failed_steps", "sample_segments", "segment_id_from_ref",
           "stack_segments"]
