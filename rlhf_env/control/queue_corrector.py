"""People correct the agent through the feedback store's queue: :class:`QueueCorrector`.

It has the corrector interface of the loop (``correct(policy, n, rng=...) ->
[ControlCorrection]``, like :class:`~rlhf_env.control.corrections.SyntheticCorrector`),
but a person finds the step where the agent went wrong and says what it should have done:

1. **enqueue**: the agent drives one episode per seed; each episode becomes a clip (every
   frame headed by its step number, :func:`write_episode_clip`) and one
   ``control_correction`` item whose metadata holds what the answer needs to replay: the env
   id, seed, the agent's actions, the horizon, the action space as people type it (names for
   discrete spaces, bounds for boxes, :func:`action_spec`), the most corrective actions one
   answer may give and the observation fingerprint before every step (see
   :mod:`rlhf_env.feedback.control_items`). An episode already queued is not queued again;
2. **wait** and **collect**: as :class:`~rlhf_env.control.queue_labeler.QueueLabeler` does,
   through the same :class:`~rlhf_env.control.queue_channel.QueueChannel`: answers are
   handed out once, unanswered items stay queued for a later round, a corrector made again
   on the same store (after a resume) adopts the earlier items.

People answer with ``rlhf-env label STORE --annotator ID`` (the clip, then the step and the
actions typed as names, indices or numbers) or in the browser of an ``rlhf-env serve``
server (pass its address and an admin token instead of a store). The records are the ones
the store keeps, with the annotator's id, ``duration_s`` and the ``queue_item``; the loop
replays them into ``corrected ≻ original`` segment pairs
(:func:`~rlhf_env.control.corrections.replay_corrections`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rlhf_env.control.clips import label_band, segment_frames, write_clip
from rlhf_env.control.corrections import episode_horizon, observation_digest, play, record_action
from rlhf_env.control.envs import make_rlhf_env
from rlhf_env.control.queue_channel import QueueChannel
from rlhf_env.control.segments import Segment, Trajectory, as_policy
from rlhf_env.errors import ConfigError
from rlhf_env.feedback.control_items import KIND, PROMPT, ActionSpec
from rlhf_env.feedback.records import ControlCorrection
from rlhf_env.files import safe_file_name
from rlhf_env.validation import check_int


def _action_names(env_id: str, n: int) -> tuple[str, ...]:
    """Names people type for a discrete space of ``n`` actions (indices when unknown)."""
    from rlhf_env.control.highway import ACTION_NAMES as HIGHWAY

    known = {"CartPole": ("left", "right"), "Highway": HIGHWAY,
             "highway": HIGHWAY, "MountainCar": ("left", "none", "right"),
             "Acrobot": ("minus", "none", "plus")}
    for key, names in known.items():
        if key in env_id and len(names) == n:
            return tuple(names)
    return tuple(str(i) for i in range(n))


def action_spec(env_id: str, space: gym.Space) -> ActionSpec:
    """How a person types actions of ``space``: names (``Discrete``) or bounded numbers
    (``Box``, flattened); ConfigError for other spaces."""
    if isinstance(space, gym.spaces.Discrete) and int(space.start) == 0:
        return ActionSpec("discrete", names=_action_names(env_id, int(space.n)))
    if isinstance(space, gym.spaces.Box) and np.all(np.isfinite(space.low)) and \
            np.all(np.isfinite(space.high)):
        return ActionSpec("box", low=tuple(float(v) for v in space.low.reshape(-1)),
                          high=tuple(float(v) for v in space.high.reshape(-1)))
    raise ConfigError(f"people can correct Discrete (from 0) and bounded Box actions; "
                      f"{env_id} has {space}.")


def episode_frames(env_id: str, episode: Trajectory) -> np.ndarray:
    """Frames ``(T + 1, H, W, 3)`` of an episode, each under a band naming its step: frame
    ``t`` is the state before step ``t``, the last one the state after the last step."""
    seg = Segment(episode.obs, episode.actions, episode.next_obs, episode.rewards,
                  source=env_id)
    frames = segment_frames(seg)
    bands = [label_band(frames.shape[2], [(4, f"step {t}" if t < len(episode) else "end")])
             for t in range(len(frames))]
    return np.concatenate([np.stack(bands), frames], axis=1)


def write_episode_clip(env_id: str, episode: Trajectory, path: str | Path,
                       fps: int = 15) -> Path:
    """Write :func:`episode_frames` as a clip (kept if it already exists)."""
    path = Path(path)
    if not path.exists():
        write_clip(episode_frames(env_id, episode), path, fps)
    return path


class QueueCorrector:
    """Ask people to correct the agent's episodes through a store's queue (module docstring).

    Args:
        store: a :class:`~rlhf_env.feedback.store.FeedbackStore`, its file, or the address
            of an ``rlhf-env serve`` server.
        env_id: the control id the agent drives.
        horizon: episode length (``None``: the id's own).
        max_actions: the most corrective actions one answer may give.
        clip_dir: where clips are written (default: ``clips/`` next to the store file).
        timeout: most seconds one :meth:`correct` call waits (``None``: until answered).
        poll_interval: seconds between two looks at the store.
        min_answers: new answers that end the wait (``None``: one per episode asked).
        clip_format: ``"gif"`` or ``"mp4"``.
        fps: clip frame rate (slow enough to see the step numbers).
        labels_wanted: annotators who should answer each item.
        priority: queue priority of the items (higher first).
        task: the items' task.
        name: written into each item's metadata as ``asked_by``, to find them again.
        notify: called with a line for people whenever episodes are queued.
        clock: the time function (injectable for tests).
        sleep: the sleep function (injectable for tests).
        token: the admin token of a remote server (default ``$RLHF_ENV_TOKEN``).
    """

    def __init__(self, store: Any, env_id: str, *, horizon: int | None = None,
                 max_actions: int = 5, clip_dir: str | Path | None = None,
                 timeout: float | None = None, poll_interval: float = 1.0,
                 min_answers: int | None = None, clip_format: str = "gif", fps: int = 15,
                 labels_wanted: int = 1, priority: float = 0.0, task: str | None = None,
                 name: str = "prefs-corrections",
                 notify: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, token: str | None = None) -> None:
        self.max_actions = check_int("QueueCorrector: max_actions", max_actions, minimum=1)
        self.channel = QueueChannel(store, KIND, name=name, clip_dir=clip_dir,
                                    timeout=timeout, poll_interval=poll_interval,
                                    min_answers=min_answers, clip_format=clip_format,
                                    clock=clock, sleep=sleep, token=token,
                                    owner="QueueCorrector")
        self.store: Any = self.channel.store
        self.env_id, self.task = env_id, task or env_id
        self.env = make_rlhf_env(env_id, horizon=horizon)
        self.length = episode_horizon(self.env)
        self.spec = action_spec(env_id, self.env.action_space)
        self.fps, self.labels_wanted, self.priority = fps, labels_wanted, priority
        self.notify = notify
        self._episodes = {self._key(i.metadata["seed"], i.metadata["actions"])
                          for i in self.channel.adopt()}

    @staticmethod
    def _key(seed: int, actions: Iterable[Any]) -> tuple[int, str]:
        return int(seed), repr([list(a) if isinstance(a, (list, tuple)) else a
                                for a in actions])

    # -- the corrector interface ----------------------------------------------------------------
    def correct(self, policy: Any, n: int, seeds: Iterable[int] | None = None,
                rng: np.random.Generator | None = None) -> list[ControlCorrection]:
        """Queue ``n`` episodes of ``policy`` (seeds from ``seeds``, or drawn from ``rng``),
        wait for answers, return every answer not handed out before."""
        n = check_int("QueueCorrector.correct: n", n, minimum=0)
        if n == 0:
            return []
        rng = rng if rng is not None else np.random.default_rng(0)
        pool = list(seeds) if seeds is not None else [int(rng.integers(2**31))
                                                     for _ in range(n)]
        queued = self.enqueue(policy, pool[:n])
        if queued and self.notify is not None:
            plural = "s" if len(queued) != 1 else ""
            self.notify(f"queued {len(queued)} episode{plural} to correct "
                        f"({self.open_items()} open) in {self.store.path}: answer them "
                        f"{self.channel.where_to_answer()}")
        return self.channel.wait(n, self.collect)

    def enqueue(self, policy: Any, seeds: Iterable[int]) -> list[int]:
        """Drive one episode per seed, write its clip and queue it (unless queued before);
        returns the new item ids."""
        act = as_policy(policy, self.env)
        ids = []
        for seed in seeds:
            episode = play(self.env, int(seed), (), self.length, act)
            actions = [record_action(a) for a in episode.actions]
            key = self._key(seed, actions)
            if key in self._episodes:
                continue
            ids.append(self._enqueue_episode(int(seed), episode, actions))
            self._episodes.add(key)
        self.channel.items.update(ids)
        return ids

    def _enqueue_episode(self, seed: int, episode: Trajectory, actions: list[Any]) -> int:
        digests = [observation_digest(o) for o in episode.obs]
        name = safe_file_name(f"correct-{self.env_id}-{seed}-{digests[-1]}", "clip name")
        clip = write_episode_clip(self.env_id, episode,
                                  self.channel.clip_dir / f"{name}.{self.channel.clip_format}",
                                  self.fps)
        metadata = {"asked_by": self.channel.name, "env_id": self.env_id, "seed": seed,
                    "actions": [list(a) if isinstance(a, tuple) else a for a in actions],
                    "horizon": self.length, "action_space": self.spec.to_json(),
                    "max_actions": self.max_actions, "first_step": 0,
                    "last_step": len(actions) - 1, "state_digests": digests, "fps": self.fps}
        return int(self.store.enqueue(KIND, PROMPT, [str(clip.resolve())], task=self.task,
                                      priority=self.priority,
                                      labels_wanted=self.labels_wanted, metadata=metadata))

    def collect(self) -> list[ControlCorrection]:
        """Answers to this corrector's items not handed out before, in the order given."""
        return [r for r in self.channel.collect() if isinstance(r, ControlCorrection)]

    def open_items(self) -> int:
        """This corrector's queued items that still want an answer from someone."""
        return self.channel.open_items(self.labels_wanted)


__all__ = ["QueueCorrector", "action_spec", "episode_frames", "write_episode_clip"]
