"""Corrections for control tasks: someone takes over where the policy went wrong.

A person watching the policy drive (or a scripted corrector) stops it at the step where its
behaviour went wrong and plays a few actions of their own. That is one
:class:`~rlhf_env.feedback.records.ControlCorrection` record: the env id, the reset seed, the
policy's actions, the step and the corrector's actions. Control envs here are
deterministic under a seed, so the record replays without saved simulator state::

    ControlCorrection ──replay_correction──▶ (corrected, original) segments of `length` steps
          │                                   from the same state: the policy's own actions
          │                                   vs the takeover, then the policy again
          ├─ as_comparison ──▶ Comparison(corrected ≻ original) ─▶ RewardModelTrainer
          └─ correction_demonstrations ──▶ the takeover as a Trajectory ─▶ behaviour_clone

:func:`replay_corrections` replays records into a :class:`~rlhf_env.control.segments.SegmentBank`
and returns them with ``metadata["segments"]`` (the two segment references) and
``metadata["start"]`` (the episode step the segments start at) filled in;
:func:`~rlhf_env.control.training.fit_segment_ensemble` then trains on such records like on
comparisons (:func:`as_comparison` turns each into ``corrected ≻ original``).

Without a person, :class:`SyntheticCorrector` finds the step to correct from the true
reward: at each step ``t`` of the policy's episode it compares the true return of "the
expert drives from ``s_t``" with "the policy's action at ``t``, then the expert", over
``lookahead`` steps (the expert's one-step advantage over the policy). The first step where
the policy's action loses more than ``min_gain`` is where it went wrong; the expert takes
over there for ``takeover`` steps. The expert drives from deep copies of the env saved along
the episode when the env copies faithfully (highway-env and the classic-control tasks do;
checked once), else from a replay of the prefix; steps where the policy did what the expert
would do cost nothing. :class:`~rlhf_env.control.loop.PreferenceLearningLoop`
spends ``LoopConfig.correction_fraction`` of its label budget this way.

    >>> import gymnasium as gym
    >>> import rlhf_env
    >>> from rlhf_env.control.segments import SegmentBank
    >>> push_right = lambda obs: 1                      # CartPole falls within ~10 steps
    >>> corrector = SyntheticCorrector("RLHF-CartPole-v0", horizon=40)
    >>> record = corrector.correct(push_right, 1, seeds=[0])[0]
    >>> record.step, record.corrected_actions
    (4, (0, 0, 0))
    >>> bank = SegmentBank()
    >>> [replayed] = replay_corrections([record], bank, length=10, policy=push_right)
    >>> pair = as_comparison(replayed)
    >>> bank.get(pair.chosen).true_return > bank.get(pair.rejected).true_return
    True
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rlhf_env.control.envs import make_rlhf_env
from rlhf_env.control.labeling import SEGMENT_PROMPT
from rlhf_env.control.segments import (
    Segment,
    SegmentBank,
    Trajectory,
    _empty_buffer,
    _to_trajectory,
    as_policy,
)
from rlhf_env.errors import ConfigError, FeedbackError
from rlhf_env.feedback.records import (
    Comparison,
    ControlAction,
    ControlCorrection,
    FeedbackRecord,
)
from rlhf_env.validation import check_fields, check_float, check_int

SYNTHETIC_CORRECTOR = "synthetic-corrector"
"""Annotator id of :class:`SyntheticCorrector`'s records."""


def observation_digest(obs: Any) -> str:
    """A 16-hex-digit fingerprint of an observation (rounded to 5 decimals, so the last bits
    of a float do not matter): ``ControlCorrection.state_digest``."""
    values = np.round(np.asarray(obs, dtype=np.float64), 5) + 0.0  # + 0.0: no negative zeros
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()[:16]


def record_action(action: Any) -> ControlAction:
    """An env action in a record's form: an ``int`` (Discrete) or a tuple of floats (Box)."""
    value = np.asarray(action)
    if value.ndim == 0 and np.issubdtype(value.dtype, np.integer):
        return int(value)
    return tuple(float(v) for v in value.reshape(-1))


def env_action(action: ControlAction, space: gym.Space) -> Any:
    """A record's action as ``space`` takes it (a Box action as an array of its dtype)."""
    if isinstance(space, gym.spaces.Box):
        return np.asarray(action, dtype=space.dtype).reshape(space.shape)
    return action


# -- replay ----------------------------------------------------------------------------------

Snapshot = tuple[gym.Env, np.ndarray]
"""A copy of an env and its observation at one step (the state to drive on from)."""


def play(env: gym.Env, seed: int, actions: Sequence[Any], steps: int,
         then: Callable[[np.ndarray], Any] | None = None,
         snapshots: list[Snapshot] | None = None) -> Trajectory:
    """Reset ``env`` with ``seed``, play ``actions`` (record form), then ``then(obs)`` until
    ``steps`` transitions were made; the :class:`Trajectory` of them, rewards as the env pays.
    With ``snapshots`` (a list), a copy of the env is appended before every step.

    Raises :class:`~rlhf_env.errors.FeedbackError` when ``actions`` run out and no ``then``
    is given, or when the episode ends before ``steps``.
    """
    obs, _ = env.reset(seed=seed)
    return drive(env, obs, actions, steps, then, snapshots)


def drive(env: gym.Env, obs: np.ndarray, actions: Sequence[Any], steps: int,
          then: Callable[[np.ndarray], Any] | None = None,
          snapshots: list[Snapshot] | None = None) -> Trajectory:
    """:func:`play` from the current state of ``env`` (whose observation is ``obs``)."""
    rows = _empty_buffer()
    for t in range(steps):
        if t < len(actions):
            action = env_action(actions[t], env.action_space)
        elif then is not None:
            action = then(obs)
        else:
            raise FeedbackError(f"replay needs {steps} actions but has {len(actions)} and no "
                                "policy to continue with; pass policy=.")
        if snapshots is not None:
            snapshots.append((copy.deepcopy(env), obs))
        nxt, reward, terminated, truncated, _ = env.step(action)
        for key, value in (("obs", obs), ("actions", action), ("next_obs", nxt),
                           ("rewards", reward)):
            rows[key].append(value)
        obs = nxt
        if (terminated or truncated) and t < steps - 1:
            raise FeedbackError(f"the episode ended after {t + 1} steps, before the {steps} "
                                "the replay needs; control envs here never end early, so "
                                "check the record's horizon.")
    return _to_trajectory(rows)


def _window(traj: Trajectory, start: int, source: str) -> Segment:
    sl = slice(start, len(traj))
    return Segment(traj.obs[sl], traj.actions[sl], traj.next_obs[sl], traj.rewards[sl],
                   source=source)


@dataclass(frozen=True)
class CorrectionReplay:
    """What :func:`replay_correction` rebuilt from one record."""

    corrected: Segment
    """``length`` steps from ``start``: the policy's actions before ``step``, the takeover,
    then the continuation."""
    original: Segment
    """The same steps as the policy played them."""
    start: int
    """Episode step both segments start at (``step`` itself unless the episode ends first)."""


def episode_horizon(env: gym.Env) -> int:
    """The fixed episode length of a control env (its wrapper's ``horizon``)."""
    try:
        return int(env.get_wrapper_attr("horizon"))
    except AttributeError:
        raise ConfigError("replaying corrections needs a fixed-horizon env; make it with "
                          "make_rlhf_env(...).") from None


def _check_same_start(record: ControlCorrection, original: Trajectory,
                      corrected: Trajectory) -> None:
    """Both replays must agree up to the corrected step, and with the recorded state."""
    s = record.step
    if not np.array_equal(original.obs[:s + 1], corrected.obs[:s + 1]):
        raise FeedbackError(f"{record.env_id} gave two different states at step {s} for one "
                            "seed and action prefix: the env is not deterministic under a "
                            "seed, so corrections cannot be replayed on it.")
    if record.state_digest is not None and \
            observation_digest(original.obs[s]) != record.state_digest:
        raise FeedbackError(
            f"replaying correction {record.id} reached another state at step {s} than the "
            f"one corrected (state_digest {record.state_digest}); the env or its version "
            "differs from the one the correction was made on.")


def replay_correction(record: ControlCorrection, length: int, *, policy: Any = None,
                      env: gym.Env | None = None) -> CorrectionReplay:
    """Rebuild the original and the corrected segment of ``record``.

    Args:
        record: the correction.
        length: steps per segment (the loop's ``segment_length``, so they batch with other
            segments); both start at ``record.step`` (earlier when the episode would end
            first), so they share their first state.
        policy: who drives after the takeover: an SB3 model or ``f(obs) -> action`` (the
            policy that was corrected); ``None``: the policy's recorded actions resume, open
            loop, at the steps they were played.
        env: the env to replay in (default: ``make_rlhf_env(record.env_id,
            horizon=record.horizon)``).
    """
    length = check_int("replay_correction: length", length, minimum=1)
    env = env if env is not None else make_rlhf_env(record.env_id, horizon=record.horizon)
    horizon = episode_horizon(env)
    if length > horizon or record.step >= horizon:
        raise ConfigError(f"segments of {length} steps from step {record.step} do not fit "
                          f"episodes of {horizon} steps; use shorter segments.")
    start = max(0, min(record.step, horizon - length))
    end = start + length
    if len(record.actions) < end:
        raise FeedbackError(
            f"correction {record.id} holds {len(record.actions)} of the policy's actions, but "
            f"the original segment (steps {start}–{end - 1}) needs {end}; record the policy's "
            "actions up to that step or replay with a shorter length.")
    original = play(env, record.seed, record.actions, end)
    takeover = [*record.actions[:record.step], *record.corrected_actions]
    if policy is None:
        takeover += record.actions[len(takeover):end]
    then = None if policy is None else as_policy(policy, env)
    corrected = play(env, record.seed, takeover[:end], end, then)
    _check_same_start(record, original, corrected)
    return CorrectionReplay(_window(corrected, start, record.env_id),
                            _window(original, start, record.env_id), start)


def replay_corrections(records: Iterable[ControlCorrection], bank: SegmentBank, length: int,
                       *, policy: Any = None, env: gym.Env | None = None
                       ) -> list[ControlCorrection]:
    """Replay every record into ``bank``; the records come back with their segments in
    ``metadata`` (``"segments"``: corrected and original reference, ``"start"``), ready for
    :func:`as_comparison` and the trainer. Arguments as :func:`replay_correction`."""
    envs: dict[tuple[str, int | None], gym.Env] = {}
    out = []
    for record in records:
        key = (record.env_id, record.horizon)
        if env is None and key not in envs:
            envs[key] = make_rlhf_env(record.env_id, horizon=record.horizon)
        rep = replay_correction(record, length, policy=policy, env=env or envs[key])
        bank.add([rep.corrected, rep.original])
        meta = {**record.metadata, "segments": [rep.corrected.ref, rep.original.ref],
                "start": rep.start}
        out.append(dataclasses.replace(record, metadata=meta))
    return out


def unreplayed(record: ControlCorrection) -> ControlCorrection:
    """``record`` without what :func:`replay_corrections` added to its metadata (the record
    as the corrector gave it: a corrector handing an answer in again after a resume gives
    this one)."""
    meta = {k: v for k, v in record.metadata.items() if k not in ("segments", "start")}
    return dataclasses.replace(record, metadata=meta)


def _segments_of(record: ControlCorrection) -> tuple[str, str, int]:
    refs, start = record.metadata.get("segments"), record.metadata.get("start")
    if not (isinstance(refs, list) and len(refs) == 2 and isinstance(start, int)):
        raise FeedbackError(
            f"correction {record.id} has not been replayed into segments yet; call "
            "replay_corrections(records, bank, length) first.")
    return str(refs[0]), str(refs[1]), start


def as_comparison(record: ControlCorrection) -> Comparison:
    """``corrected ≻ original`` as a segment :class:`Comparison` (annotator, task and time
    of the correction; ``metadata["correction"]`` is the record's id)."""
    corrected, original, _ = _segments_of(record)
    return Comparison(SEGMENT_PROMPT, corrected, original, "a", annotator=record.annotator,
                      task=record.task, timestamp=record.timestamp,
                      metadata={"labeler": "correction", "correction": record.id})


def training_records(records: Iterable[FeedbackRecord]) -> list[FeedbackRecord]:
    """``records`` with every :class:`ControlCorrection` replaced by :func:`as_comparison`
    (what the segment trainer reads; other records pass through)."""
    return [as_comparison(r) if isinstance(r, ControlCorrection) else r for r in records]


def correction_demonstrations(records: Iterable[ControlCorrection], bank: SegmentBank
                              ) -> list[Trajectory]:
    """The takeover steps of replayed records, one :class:`Trajectory` each (for
    :func:`~rlhf_env.control.demonstrations.behaviour_clone`)."""
    out = []
    for record in records:
        corrected, _, start = _segments_of(record)
        seg = bank.get(corrected)
        sl = slice(record.step - start, record.step - start + record.takeover)
        out.append(Trajectory(seg.obs[sl], seg.actions[sl], seg.next_obs[sl],
                              seg.true_rewards[sl]))
    return out


# -- the synthetic corrector -----------------------------------------------------------------

@dataclass(frozen=True)
class CorrectorConfig:
    """Settings of :class:`SyntheticCorrector`."""

    takeover: int = 3
    """Steps the expert drives from the corrected step."""
    lookahead: int = 10
    """Steps of expert driving that value a state (the true return over them)."""
    min_gain: float = 0.5
    """True return the expert's action must win by for a step to count as wrong (in the
    task's reward units: half a step of CartPole, about one crashed step of Highway)."""
    attempts: int = 3
    """Episodes tried per correction asked for (a policy may drive a whole episode without a
    step worth correcting)."""

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("takeover", "lookahead", "attempts"):
            check_int(f"CorrectorConfig.{name}", getattr(self, name), minimum=1)
        check_float("CorrectorConfig.min_gain", self.min_gain, minimum=0.0)


class SyntheticCorrector:
    """Corrects a policy's episodes with an expert, at the first step the true reward says
    went wrong (see the module docstring).

    Args:
        env_id: a control id or any Gymnasium id (its fixed-horizon form).
        expert: ``f(obs) -> action`` (default: the id's
            :func:`~rlhf_env.control.demonstrations.scripted_expert`).
        config: takeover, lookahead, threshold and attempts.
        horizon: episode length (``None``: the id's default).
        annotator: annotator id of the records.
    """

    def __init__(self, env_id: str, expert: Callable[[np.ndarray], Any] | None = None,
                 config: CorrectorConfig | None = None, *, horizon: int | None = None,
                 annotator: str = SYNTHETIC_CORRECTOR) -> None:
        if expert is None:
            from rlhf_env.control.demonstrations import scripted_expert

            expert = scripted_expert(env_id)
        self.env_id, self.expert, self.annotator = env_id, expert, annotator
        self.config = config or CorrectorConfig()
        self.horizon = horizon
        self.env = make_rlhf_env(env_id, horizon=horizon)
        self.length = episode_horizon(self.env)
        self.copyable = _copyable(self.env)

    def expert_from(self, seed: int, actions: Sequence[ControlAction], t: int, steps: int,
                    snapshots: Sequence[Snapshot] | None = None) -> Trajectory:
        """The expert's transitions from step ``t`` of the episode ``actions`` plays from
        ``seed`` (at most ``steps`` of them: none past the horizon); from a copy of
        ``snapshots[t]`` when given, else replayed from the reset."""
        steps = min(steps, self.length - t)
        if snapshots is not None:
            env, obs = snapshots[t]
            return drive(copy.deepcopy(env), obs, (), steps, self.expert)
        traj = play(self.env, seed, actions[:t], t + steps, self.expert)
        return Trajectory(traj.obs[t:], traj.actions[t:], traj.next_obs[t:], traj.rewards[t:])

    def find_step(self, seed: int, episode: Trajectory,
                  snapshots: Sequence[Snapshot] | None = None
                  ) -> tuple[int, Trajectory] | None:
        """The first step of ``episode`` (played from ``seed``) where the policy's action
        loses more than ``min_gain`` of true return against the expert's, and the expert's
        transitions from there; ``None`` if there is none.

        Gain at ``t`` = return of the expert from ``s_t`` over ``lookahead`` steps − (the
        policy's reward at ``t`` + return of the expert from ``s_{t+1}`` over one step
        less). Where the policy did what the (deterministic) expert would do the gain is 0
        and nothing is rolled out; elsewhere two expert rollouts, from copies of the env
        saved along the episode (``snapshots``) or replayed from the reset (about
        ``t + lookahead`` env steps each)."""
        cfg, n = self.config, len(episode)
        actions = [record_action(a) for a in episode.actions]
        span = max(cfg.lookahead, cfg.takeover)
        for t in range(n):
            if record_action(self.expert(episode.obs[t])) == actions[t]:
                continue
            k = min(cfg.lookahead, n - t)
            here = self.expert_from(seed, actions, t, span, snapshots)
            later = float(self.expert_from(seed, actions, t + 1, k - 1, snapshots)
                          .rewards.sum()) if k > 1 else 0.0
            gain = float(here.rewards[:k].sum()) - float(episode.rewards[t]) - later
            if gain > cfg.min_gain:
                return t, here
        return None

    def correct_episode(self, seed: int, episode: Trajectory,
                        snapshots: Sequence[Snapshot] | None = None
                        ) -> ControlCorrection | None:
        """The correction of one episode of the policy, or ``None`` if it went nowhere wrong."""
        found = self.find_step(seed, episode, snapshots)
        if found is None:
            return None
        step, expert = found
        return ControlCorrection(
            self.env_id, seed, tuple(record_action(a) for a in episode.actions), step,
            tuple(record_action(a) for a in expert.actions[:self.config.takeover]),
            horizon=self.horizon, state_digest=observation_digest(episode.obs[step]),
            annotator=self.annotator, task=self.env_id,
            metadata={"labeler": "synthetic-corrector"})

    def correct(self, policy: Any, n: int, seeds: Iterable[int] | None = None,
                rng: np.random.Generator | None = None) -> list[ControlCorrection]:
        """Up to ``n`` corrections of ``policy`` (an SB3 model or ``f(obs) -> action``), one
        per episode, trying at most ``n · attempts`` episodes (seeds from ``seeds``, or drawn
        from ``rng``)."""
        n = check_int("SyntheticCorrector.correct: n", n, minimum=0)
        rng = rng if rng is not None else np.random.default_rng(0)
        pool = iter(seeds) if seeds is not None else iter(
            lambda: int(rng.integers(2**31)), None)
        act = as_policy(policy, self.env)
        out: list[ControlCorrection] = []
        for _ in range(n * self.config.attempts):
            seed = next(pool, None)
            if seed is None or len(out) == n:
                break
            snapshots: list[Snapshot] | None = [] if self.copyable else None
            episode = play(self.env, seed, (), self.length, act, snapshots)
            record = self.correct_episode(seed, episode, snapshots)
            if record is not None:
                out.append(record)
        return out


def _copyable(env: gym.Env) -> bool:
    """Whether a deep copy of ``env`` steps exactly as the env does (then the corrector
    saves copies along an episode instead of replaying every prefix from the reset)."""
    env.reset(seed=0)
    try:
        twin = copy.deepcopy(env)
    except Exception:  # simulators with handles that cannot be copied: replay instead
        return False
    action = env.action_space.sample()
    return bool(np.array_equal(env.step(action)[0], twin.step(action)[0]))


def correction_share(n_labels: int, fraction: float) -> int:
    """How many of a round's ``n_labels`` go to corrections (the rest to comparisons)."""
    return round(n_labels * fraction)


__all__ = ["SYNTHETIC_CORRECTOR", "CorrectionReplay", "CorrectorConfig", "Snapshot",
           "SyntheticCorrector", "as_comparison", "correction_demonstrations",
           "correction_share", "drive", "env_action", "observation_digest", "play",
           "record_action", "replay_correction", "replay_corrections", "training_records",
           "unreplayed"]
