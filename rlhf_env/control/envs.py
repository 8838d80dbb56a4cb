"""Fixed-horizon control tasks whose reward can be replaced by a learned reward model.

Why a fixed horizon
-------------------
CartPole pays +1 on every step and ends the episode when the pole falls. Cut its
trajectories into segments of equal length and every segment has the same true return, so
a labeler comparing returns has nothing to prefer and preference learning fails. The
control ids here never end an episode early instead:

- every episode lasts exactly ``horizon`` steps (``truncated=True`` at the end,
  ``terminated`` is always ``False``);
- when the underlying task would terminate (the pole falls, the cart leaves the track),
  the env enters an **absorbing failure state**: actions do nothing, the true reward is
  ``absorbing_reward`` (0 for CartPole) on every remaining step, and the observation is one
  fixed *failure observation* (CartPole: the cart centred, the pole lying at 0.4 rad, twice
  the failure angle — visibly fallen in a clip; Highway: the ego car stopped with another car
  on top of it). Tasks without a known failure observation freeze the observation at the
  moment of failure instead.

Why one fixed failure observation: a learned reward model sees only observations. If the
absorbing state kept the last real observation, every way of falling would be a different
state, and a reward model trained on a few hundred labels gives some of them (say, the
state reached by pushing one way at full speed) a reward above the average; an agent then
learns to fall fast on purpose (measured here: PPO fell in 9 steps). With one failure
observation there is one absorbing value to learn, and the labels pin it below being up.

So a segment that contains a failure has a lower true return than one that does not, and
segments in the absorbing state score lowest: the preference signal exists. Tasks that never
terminate (Pendulum, HalfCheetah) are just cut at ``horizon``.

Rewards
-------
The registered ids pay the **true** task reward by default (that is what data collection
and the true-reward baseline need); pass ``reward_model=`` (a trajectory reward model with
``score(obs, act, next_obs)``) to get the learned reward instead. With a reward model the
true reward is always kept in ``info["true_reward"]``; ``info["failed"]`` says whether the
episode is in the absorbing failure state.

=========================  ====================  =======  ==========================
id                         underlying task       horizon  absorbing reward
=========================  ====================  =======  ==========================
``RLHF-CartPole-v0``       ``CartPole-v1``       200      0.0
``RLHF-Pendulum-v0``       ``Pendulum-v1``       200      (never terminates)
``RLHF-HalfCheetah-v0``    ``HalfCheetah-v5``    1000     (never terminates; needs
                                                          ``pip install mujoco``)
``RLHF-Highway-v0``        ``highway-fast-v0``   40       0.0 (a crash; needs
                           (highway-env)                  ``rlhf-env[control]``)
=========================  ====================  =======  ==========================

Version history: v0 — first version.

    >>> import gymnasium as gym
    >>> import rlhf_env
    >>> env = gym.make("RLHF-CartPole-v0")
    >>> obs, info = env.reset(seed=0)
    >>> steps = 0
    >>> terminated = truncated = False
    >>> while not (terminated or truncated):
    ...     obs, reward, terminated, truncated, info = env.step(0)
    ...     steps += 1
    >>> steps, terminated, info["failed"]
    (200, False, True)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from rlhf_env.control.highway import FAILURE_OBSERVATION as HIGHWAY_FAILURE
from rlhf_env.control.highway import HIGHWAY_BASE_ID, make_highway
from rlhf_env.errors import ConfigError, MissingDependencyError
from rlhf_env.validation import check_float, check_int, check_str

FAILURE_OBSERVATIONS: dict[str, Any] = {
    "CartPole-v1": (0.0, 0.0, 0.4, 0.0),
    HIGHWAY_BASE_ID: HIGHWAY_FAILURE,
}
"""The fixed observation of the absorbing failure state, per underlying task id."""

BASE_MAKERS: dict[str, Callable[..., gym.Env]] = {HIGHWAY_BASE_ID: make_highway}
"""Underlying tasks that need more than ``gym.make(base_id)`` (an import that registers them,
settings, a render wrapper): ``maker(base_id, horizon, render_mode, **kwargs)``."""


@dataclass(frozen=True)
class ControlTask:
    """A registered control id: which task it wraps and how."""

    base_id: str
    """The Gymnasium id of the underlying task."""
    horizon: int
    """Steps per episode."""
    absorbing_reward: float = 0.0
    """True reward per step in the absorbing failure state."""


CONTROL_TASKS: dict[str, ControlTask] = {
    "RLHF-CartPole-v0": ControlTask("CartPole-v1", 200, 0.0),
    "RLHF-Pendulum-v0": ControlTask("Pendulum-v1", 200, 0.0),
    "RLHF-HalfCheetah-v0": ControlTask("HalfCheetah-v5", 1000, 0.0),
    "RLHF-Highway-v0": ControlTask(HIGHWAY_BASE_ID, 40, 0.0),
}
"""Every registered control id (see the module docstring)."""


class FixedHorizon(gym.Wrapper):
    """Run ``env`` for exactly ``horizon`` steps; termination becomes an absorbing state.

    Args:
        env: the task (its own time limit should be longer than ``horizon``).
        horizon: steps per episode (``truncated`` becomes ``True`` on the last one).
        absorbing_reward: true reward paid on every step after the task terminated.
        failure_observation: the observation of the absorbing state from the terminating
            step on (``None``: freeze the observation at the moment of failure).
    """

    def __init__(self, env: gym.Env, horizon: int, absorbing_reward: float = 0.0,
                 failure_observation: Any = None) -> None:
        horizon = check_int("FixedHorizon: horizon", horizon, minimum=1)
        super().__init__(env)
        self.failure_observation = None
        if failure_observation is not None:
            space = env.observation_space
            self.failure_observation = np.asarray(failure_observation, dtype=space.dtype)
            if not space.contains(self.failure_observation):
                raise ConfigError(f"FixedHorizon: failure_observation {failure_observation} "
                                  f"is not in the observation space {space}.")
        self.horizon = int(horizon)
        self.absorbing_reward = float(absorbing_reward)
        self._t = 0
        self._failed = False
        self._last_obs: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._t, self._failed, self._last_obs = 0, False, obs
        return obs, {**info, "failed": False}

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        info: dict[str, Any] = {}
        reward: SupportsFloat = self.absorbing_reward
        if self._failed:
            obs = self._last_obs
        else:
            obs, reward, terminated, _, info = self.env.step(action)
            self._failed = bool(terminated)
            if self._failed and self.failure_observation is not None:
                obs = self.failure_observation
            self._last_obs = obs
        self._t += 1
        out = np.array(obs, copy=True) if isinstance(obs, np.ndarray) else obs
        return out, float(reward), False, self._t >= self.horizon, {
            **info, "failed": self._failed}


def headless_gl() -> None:
    """Let MuJoCo render without a display: ``MUJOCO_GL=egl`` unless the user chose a backend
    or a display exists. MuJoCo reads it when first imported, so the control envs call this
    before they build a MuJoCo task. EGL needs Debian's ``libegl1``, ``libegl-mesa0`` and
    ``libgl1-mesa-dri`` (Mesa's software renderer; ``scripts/setup.sh`` installs them)."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")


def _make_base(base_id: str, horizon: int, render_mode: str | None, **kwargs: Any) -> gym.Env:
    maker = BASE_MAKERS.get(base_id)
    if maker is not None:
        return maker(base_id, horizon, render_mode, **kwargs)
    headless_gl()  # before MuJoCo's first import, so its clips render without a display
    try:
        return gym.make(base_id, render_mode=render_mode, max_episode_steps=horizon + 1,
                        disable_env_checker=True, **kwargs)
    except gym.error.DependencyNotInstalled as exc:
        raise MissingDependencyError("mujoco", f"{base_id} (the MuJoCo simulator; {exc})"
                                     ) from exc


def make_control_env(
    base_id: str,
    horizon: int,
    absorbing_reward: float = 0.0,
    reward_model: Any = None,
    render_mode: str | None = None,
    **kwargs: Any,
) -> gym.Env:
    """The fixed-horizon form of ``base_id``, with its reward replaced when a model is given.

    Args:
        base_id: any Gymnasium id (``"CartPole-v1"``, ``"HalfCheetah-v5"``…).
        horizon: steps per episode.
        absorbing_reward: true reward per step once the task terminated.
        reward_model: a trajectory reward model (``score(obs, act, next_obs)``); ``None``
            keeps the true reward.
        render_mode: passed to the underlying task (``"rgb_array"`` for clips).
        kwargs: passed to the underlying task's constructor.
    """
    horizon = check_int("horizon", horizon, minimum=1)
    absorbing_reward = check_float("absorbing_reward", absorbing_reward)
    if render_mode is not None:
        check_str("render_mode", render_mode)
    env: gym.Env = FixedHorizon(_make_base(base_id, horizon, render_mode, **kwargs),
                                horizon, absorbing_reward, FAILURE_OBSERVATIONS.get(base_id))
    if reward_model is not None:
        from rlhf_env.control.wrappers import LearnedRewardWrapper

        env = LearnedRewardWrapper(env, reward_model)
    return env


def make_rlhf_env(env_id: str, reward_model: Any = None, horizon: int | None = None,
                  **kwargs: Any) -> gym.Env:
    """Any env id as a fixed-horizon task with (optionally) a learned reward.

    Registered control ids (``RLHF-CartPole-v0``…) go through ``gym.make``; any other id is
    wrapped directly, with ``horizon`` defaulting to its registered episode limit (or 1000).
    """
    task = CONTROL_TASKS.get(env_id)
    if task is not None:
        extra: dict[str, Any] = {} if horizon is None else {"horizon": horizon}
        return gym.make(env_id, reward_model=reward_model, **extra, **kwargs)
    if horizon is None:
        try:
            spec = gym.spec(env_id)
        except gym.error.Error as exc:
            raise ConfigError(f"unknown env id {env_id!r}: {exc}") from exc
        horizon = spec.max_episode_steps or 1000
    return make_control_env(env_id, horizon, reward_model=reward_model, **kwargs)


__all__ = ["BASE_MAKERS", "CONTROL_TASKS", "FAILURE_OBSERVATIONS", "ControlTask", "FixedHorizon",
           "make_control_env", "make_rlhf_env"]


def random_policy_return(env: gym.Env, episodes: int = 5) -> float:
    """Mean return of the uniform random policy over ``episodes`` seeded episodes (a scale
    reference for learned-versus-true comparisons)."""
    env.action_space.seed(0)
    total = 0.0
    for episode in range(episodes):
        env.reset(seed=episode)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
    return total / episodes
