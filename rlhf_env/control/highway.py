"""``RLHF-Highway-v0``: drive on a three-lane highway (``highway-env``), fixed horizon.

Description
-----------
The agent drives the ego car of highway-env's ``highway-fast-v0`` among 20 cars that follow
the IDM car-following and MOBIL lane-changing models. It decides once per second (40
decisions per episode) whether to change lane or cruise faster or slower; a low-level
controller steers and tracks the chosen speed. A good driver goes fast, keeps to the right
and never crashes. As with every control id in :mod:`rlhf_env.control.envs`, the episode
never ends early: a crash is an absorbing failure state (see *Episode End*), so a segment
that contains a crash has a lower true return than one that does not, and a labeler
comparing segments always has something to prefer.

Action Space
------------
``Discrete(5)``, highway-env's meta-actions:

===  ==============  ===========================================================
0    ``LANE_LEFT``   change to the lane on the left (towards lane 0)
1    ``IDLE``        keep lane and target speed
2    ``LANE_RIGHT``  change to the lane on the right (towards lane 2)
3    ``FASTER``      next higher target speed of (10, 15, 20, 25, 30) m/s
4    ``SLOWER``      next lower target speed
===  ==============  ===========================================================

The stock target speeds are (20, 25, 30) m/s. With them the car cannot slow below 20 m/s,
and a car stuck behind a slower one with both neighbouring lanes taken crashes whatever it
does (the reference expert below crashed in 4 of 20 episodes that way). 10 and 15 m/s make
every crash avoidable, so a crash always means the driver erred.

Observation Space
-----------------
``Box(-inf, inf, (5, 5), float32)``: highway-env's *Kinematics* observation, one row per car
(the ego car first, then the 4 nearest cars ahead or up to 10 m behind, nearest first; rows
of zeros when fewer are in sight), columns ``presence, x, y, vx, vy``:

- ego row: absolute position and velocity, ``x / 200 m`` (clipped to ±1, so it saturates
  after 200 m), ``y / 12 m`` (lane ``i`` is centred at ``y = 4i`` m, so lanes read 0, ⅓, ⅔),
  ``vx / 80 m/s``, ``vy / 80 m/s``;
- other rows: the same quantities **relative to the ego car**, clipped to ±1.

All values lie in [−1, 1]; the space is unbounded because highway-env declares it so.
After a crash the observation is the fixed *failure observation*
:data:`FAILURE_OBSERVATION` (the ego car stopped at the origin with a car on top of it).

Rewards
-------
highway-env's normalised reward, in [0, 1] per step: ``0.4 × speed term`` (forward speed
mapped from [20, 30] m/s to [0, 1]) ``+ 0.1 × lane term`` (0 in the left lane, 1 in the
right one) ``− 1 × crashed``, mapped from [−1, 0.5] to [0, 1]; 0 when off the road. A
car at 30 m/s in the right lane earns 1.0 per step, one at 20 m/s in the left lane 0.67, the
crash step about 0.1–0.3, and every step after a crash 0 (``absorbing_reward``). The best
possible return is 40.

Measured on seeds 0–19 (horizon 40; ``python -m rlhf_env.control.highway`` prints them):
the scripted :func:`highway_expert` **33.2 ± 1.6**, no crash; the uniform random policy
**9.4 ± 8.9**, 18 of 20 episodes crash; always ``IDLE`` 9.0 (every episode crashes into a
slower car). With a learned reward model, ``info["true_reward"]`` keeps this reward.

Starting State
--------------
The ego car starts at 25 m/s in a random lane, about 150 m down the road; the 20 other cars
are placed one after another ahead of it, in random lanes at random spacings, with speeds of
21–24 m/s and randomised IDM parameters, all drawn from the env's ``np_random`` (seeded by
``reset(seed=...)``).

Episode End
-----------
Every episode lasts exactly ``horizon`` decisions (40: 40 s of driving): ``truncated`` is
``True`` on the last step and ``terminated`` is always ``False``. When the ego car collides,
``info["failed"]`` becomes ``True``, actions stop having any effect, the reward is 0 and
the observation is :data:`FAILURE_OBSERVATION` until the horizon. Rendered frames keep
showing the crash (the crashed cars are drawn in red).

Arguments
---------
``gym.make("RLHF-Highway-v0", horizon=40, reward_model=None, render_mode=None,
config=None)``

- ``horizon``: decisions per episode;
- ``reward_model``: a trajectory reward model (``score(obs, act, next_obs)``) whose score
  replaces the reward; the true reward stays in ``info["true_reward"]``;
- ``render_mode``: ``"rgb_array"`` gives 600×150 top-down frames, drawn offscreen by
  pygame (no display needed; see :class:`OffscreenFrames`); ``"human"`` opens a window;
- ``config``: highway-env settings laid over :data:`HIGHWAY_CONFIG` (e.g.
  ``{"vehicles_count": 30}``); the episode length is always ``horizon``.

Needs ``pip install 'rlhf-env[control]'`` (``highway-env``, which brings ``pygame-ce``).

Version History
---------------
- v0: first version (highway-env 1.12.1, ``highway-fast-v0`` with the settings above).

Example
-------
    >>> import gymnasium as gym
    >>> import rlhf_env
    >>> env = gym.make("RLHF-Highway-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, env.action_space
    ((5, 5), Discrete(5))
    >>> total, steps, truncated = 0.0, 0, False
    >>> while not truncated:
    ...     obs, reward, terminated, truncated, info = env.step(highway_expert(obs))
    ...     total, steps = total + reward, steps + 1
    >>> steps, info["failed"], total > 30
    (40, False, True)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np

from rlhf_env.errors import MissingDependencyError

HIGHWAY_BASE_ID = "highway-fast-v0"
"""The highway-env id under ``RLHF-Highway-v0``."""
LANES = 3
"""Lanes of the road (lane 0 is the leftmost)."""
LANE_WIDTH = 4.0
"""Metres between lane centres (highway-env's default lane width)."""
TARGET_SPEEDS = (10.0, 15.0, 20.0, 25.0, 30.0)
"""Speeds ``FASTER`` and ``SLOWER`` step through, m/s (see the module docstring)."""
FEATURES = ("presence", "x", "y", "vx", "vy")
"""Columns of the observation."""
FEATURE_SCALE = {"x": 200.0, "y": LANE_WIDTH * LANES, "vx": 80.0, "vy": 80.0}
"""Each column is divided by this (metres, m/s) and clipped to ±1: highway-env's own ranges,
written out so that the observation does not depend on how highway-env derives them."""
LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER = range(5)
"""highway-env's meta-actions."""
ACTION_NAMES = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")
"""The meta-actions' names, by index (what people type when they correct a driver)."""

HIGHWAY_CONFIG: dict[str, Any] = {
    "observation": {
        "type": "Kinematics",
        "vehicles_count": 5,
        "features": list(FEATURES),
        "features_range": {k: [-v, v] for k, v in FEATURE_SCALE.items()},
        "absolute": False,
        "order": "sorted",
        "normalize": True,
        "clip": True,
        "see_behind": False,
    },
    "action": {"type": "DiscreteMetaAction", "target_speeds": list(TARGET_SPEEDS)},
    "lanes_count": LANES,
    "vehicles_count": 20,
    "simulation_frequency": 5,
    "policy_frequency": 1,
}
"""highway-env settings of ``RLHF-Highway-v0`` (over ``highway-fast-v0``'s defaults)."""

FAILURE_OBSERVATION: tuple[tuple[float, ...], ...] = (
    (1.0, 0.0, 0.0, 0.0, 0.0),
    (1.0, 0.0, 0.0, 0.0, 0.0),
    (0.0, 0.0, 0.0, 0.0, 0.0),
    (0.0, 0.0, 0.0, 0.0, 0.0),
    (0.0, 0.0, 0.0, 0.0, 0.0),
)
"""The absorbing state's observation: the ego car stopped at the road's origin in the left
lane, another car on top of it. No drive reaches it (the ego car starts far from the origin
at 25 m/s), so a reward model sees one distinct crashed state."""


def _import_highway_env() -> None:
    try:
        import highway_env  # noqa: F401  (registers highway-fast-v0 with gymnasium)
    except ImportError as exc:
        raise MissingDependencyError("highway-env", "RLHF-Highway-v0 (the highway-env "
                                     "driving simulator)",
                                     "pip install 'rlhf-env[control]'") from exc


@contextmanager
def offscreen_video() -> Iterator[None]:
    """Let pygame draw without a display while the block runs (then restore the variable).

    SDL picks its video driver from ``SDL_VIDEODRIVER`` when pygame's display starts.
    ``"offscreen"`` needs no display. The usual headless choice, ``"dummy"``, must not be
    used: highway-env 1.12.1 turns drawing off when it sees it and returns blank frames.
    A user's own choice of another driver is kept.
    """
    old = os.environ.get("SDL_VIDEODRIVER")
    if old not in (None, "", "dummy"):
        yield
        return
    os.environ["SDL_VIDEODRIVER"] = "offscreen"
    try:
        yield
    finally:
        if old is None:
            del os.environ["SDL_VIDEODRIVER"]
        else:
            os.environ["SDL_VIDEODRIVER"] = old


class OffscreenFrames(gym.Wrapper):
    """In ``rgb_array`` mode, ``render()`` runs under :func:`offscreen_video`, so frames are
    drawn without a display (highway-env creates its pygame viewer on the first
    ``render()``). Other modes render as they are; the wrapper is there in every mode, so
    the env's spec is the same whatever the mode (gymnasium's checker remakes it)."""

    def render(self) -> Any:
        if self.env.render_mode != "rgb_array":
            return self.env.render()
        with offscreen_video():
            return self.env.render()


def make_highway(base_id: str, horizon: int, render_mode: str | None = None,
                 config: dict[str, Any] | None = None, **kwargs: Any) -> gym.Env:
    """The highway-env task ``base_id`` with :data:`HIGHWAY_CONFIG` (``config`` laid over
    it) and an episode a step longer than ``horizon``, so that
    :class:`~rlhf_env.control.envs.FixedHorizon` decides where it ends."""
    _import_highway_env()
    settings = {**HIGHWAY_CONFIG, **(config or {}), "duration": horizon + 1}
    env = gym.make(base_id, render_mode=render_mode, config=settings,
                   max_episode_steps=horizon + 1, disable_env_checker=True, **kwargs)
    return OffscreenFrames(env)


# -- the reference expert ------------------------------------------------------------------

SAFE_HEADWAY_S = 3.0
"""Seconds to reach the car ahead (at the closing speed) below which the expert acts."""
MIN_GAP_M = 20.0
"""Centre-to-centre distance to the car ahead below which the expert acts."""
FREE_LANE_M = 40.0
"""Distance ahead a lane must be free for the expert to move right into it."""


def _cars(obs: np.ndarray) -> tuple[float, np.ndarray]:
    """``(ego y in m, others)``; ``others`` is ``(k, 3)``: distance ahead (m), lane index and
    closing speed (m/s, > 0 while the gap shrinks) of each car in sight."""
    rows = np.asarray(obs, dtype=np.float64).reshape(-1, len(FEATURES))
    y = rows[0, 2] * FEATURE_SCALE["y"]
    seen = rows[1:][rows[1:, 0] > 0.5]
    dx = seen[:, 1] * FEATURE_SCALE["x"]
    lane = np.rint((y + seen[:, 2] * FEATURE_SCALE["y"]) / LANE_WIDTH)
    closing = -seen[:, 3] * FEATURE_SCALE["vx"]
    return float(y), np.stack([dx, lane, closing], axis=1)


def _ahead(others: np.ndarray, lane: int) -> tuple[float, float]:
    """Distance to and closing speed on the nearest car ahead in ``lane`` (inf, 0: none)."""
    mine = others[(others[:, 1] == lane) & (others[:, 0] > -1.0)]
    if not len(mine):
        return float("inf"), 0.0
    i = int(np.argmin(mine[:, 0]))
    return float(mine[i, 0]), float(mine[i, 2])


def _blocked(others: np.ndarray, lane: int) -> bool:
    """Whether a car is alongside in ``lane`` (12 m behind to 15 m ahead) or it is off-road."""
    if not 0 <= lane < LANES:
        return True
    beside = (others[:, 1] == lane) & (others[:, 0] > -12.0) & (others[:, 0] < 15.0)
    return bool(beside.any())


def _too_close(gap: float, closing: float) -> bool:
    return gap < MIN_GAP_M or (closing > 0 and (gap - 5.0) / closing < SAFE_HEADWAY_S)


def highway_expert(obs: np.ndarray) -> int:
    """A rule-based driver over the Kinematics observation (the reference expert).

    1. While a lane change is under way, keep it (``IDLE``), or brake if the car ahead is too
       close.
    2. When the car ahead is too close (nearer than 20 m, or reached within 3 s), move to a
       neighbouring lane that is free alongside and has more room ahead (the roomier one),
       else brake (``SLOWER``).
    3. Otherwise move right when the lane there is free for 40 m (the reward prefers the
       right lane), else speed up while the road ahead is clear, else keep going.
    """
    y, others = _cars(obs)
    lane = int(np.clip(np.rint(y / LANE_WIDTH), 0, LANES - 1))
    gap, closing = _ahead(others, lane)
    danger = _too_close(gap, closing)
    if abs(y - lane * LANE_WIDTH) > 0.6:  # between lanes: a change is under way
        return SLOWER if danger else IDLE
    if danger:
        room = {side: _ahead(others, lane + d)[0] for side, d in
                ((LANE_RIGHT, 1), (LANE_LEFT, -1)) if not _blocked(others, lane + d)}
        room = {side: r for side, r in room.items() if r > max(gap + 5.0, 15.0)}
        return max(room, key=lambda s: room[s]) if room else SLOWER
    right_gap, right_closing = _ahead(others, lane + 1)
    if not _blocked(others, lane + 1) and right_gap > FREE_LANE_M and \
            not _too_close(right_gap, right_closing):
        return LANE_RIGHT
    if gap > FREE_LANE_M or closing < 0:
        return FASTER
    return IDLE


def expert_and_random_returns(seeds: range = range(20), horizon: int = 40
                              ) -> dict[str, tuple[float, float, int]]:
    """``{"expert" | "random": (mean return, std, crashed episodes)}`` over ``seeds`` (the
    numbers in the module docstring)."""
    from rlhf_env.control.envs import make_rlhf_env

    env = make_rlhf_env("RLHF-Highway-v0", horizon=horizon)
    env.action_space.seed(0)
    out = {}
    for name, act in (("expert", highway_expert), ("random", None)):
        returns, crashes = [], 0
        for seed in seeds:
            obs, info = env.reset(seed=seed)
            total, done = 0.0, False
            while not done:
                action = env.action_space.sample() if act is None else act(obs)
                obs, reward, _, done, info = env.step(action)
                total += float(reward)
            returns.append(total)
            crashes += bool(info["failed"])
        out[name] = (float(np.mean(returns)), float(np.std(returns)), crashes)
    return out


__all__ = ["ACTION_NAMES", "FAILURE_OBSERVATION", "HIGHWAY_BASE_ID", "HIGHWAY_CONFIG",
           "OffscreenFrames", "expert_and_random_returns", "highway_expert", "make_highway",
           "offscreen_video"]


if __name__ == "__main__":  # python -m rlhf_env.control.highway
    for who, (mean, std, crashed) in expert_and_random_returns().items():
        print(f"{who:7s} {mean:6.1f} ± {std:4.1f}   crashed in {crashed} of 20")
