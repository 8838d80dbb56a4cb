"""Replace an env's reward with a learned reward model's score of ``(s, a, s')``.

Two forms with one behaviour:

- :class:`LearnedRewardWrapper` — a Gymnasium wrapper around one env (before vectorising);
- :class:`LearnedRewardVecEnv` — an SB3 ``VecEnvWrapper`` that scores every sub-env's
  transition in **one** batched call per step.

Both keep the task's own reward in ``info["true_reward"]`` (and the model's in
``info["learned_reward"]``) so learned versus true is always measurable. The reward model
can be swapped at any time by assigning ``.reward_model`` (the online loop retrains it in
place). For a finished episode SB3 resets the sub-env inside ``step``; the vector wrapper
then scores the transition into ``info["terminal_observation"]``, not into the new episode.

Both take an optional ``failure_reward``: a transition whose ``info["failed"]`` is true (the
step into a task's absorbing failure state and every step in it) then scores at most that
value. The online loop sets it to the lowest learned reward of the states it has seen
(``LoopConfig.failure_floor``), so that the failure state is never worth more than the worst
state the labels describe.
"""

from __future__ import annotations

from collections import deque
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from rlhf_env.rewards.base import validate_scores


def score_transitions(model: Any, obs: Any, act: Any, next_obs: Any) -> np.ndarray:
    """``model.score(obs, act, next_obs)`` checked to be finite ``float32 (n,)``."""
    n = len(obs)
    return validate_scores(model.score(obs, act, next_obs), n, model)


def cap_failures(learned: np.ndarray, infos: Any, failure_reward: float | None) -> np.ndarray:
    """``learned`` with every transition whose info says ``failed`` capped at
    ``failure_reward`` (unchanged when it is ``None``)."""
    if failure_reward is None:
        return learned
    failed = np.array([bool(info.get("failed", False)) for info in infos])
    return np.where(failed, np.minimum(learned, np.float32(failure_reward)), learned)


class LearnedRewardWrapper(gym.Wrapper):
    """Reward = ``reward_model.score(obs, action, next_obs)``; true reward kept in ``info``.

    Args:
        env: any env with ``Box`` observations.
        reward_model: an object with ``score(obs, act, next_obs) -> (n,)`` (e.g.
            :class:`~rlhf_env.control.models.TrajectoryRewardNet`).
        failure_reward: the most a failed transition scores (``None``: what the model says).
    """

    def __init__(self, env: gym.Env, reward_model: Any, failure_reward: float | None = None
                 ) -> None:
        super().__init__(env)
        self.reward_model = reward_model
        self.failure_reward = failure_reward
        self._obs: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = obs
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        nxt, true_reward, terminated, truncated, info = self.env.step(action)
        scores = score_transitions(self.reward_model, np.asarray(self._obs)[None],
                                   np.asarray(action)[None], np.asarray(nxt)[None])
        learned = float(cap_failures(scores, [info], self.failure_reward)[0])
        self._obs = nxt
        return nxt, learned, terminated, truncated, {
            **info, "true_reward": float(true_reward), "learned_reward": learned}


class LearnedRewardVecEnv(VecEnvWrapper):
    """The batched SB3 form of :class:`LearnedRewardWrapper`.

    Also tracks per-episode true and learned returns of finished episodes
    (:attr:`episode_true_returns`, :attr:`episode_learned_returns`, last ``window`` each).
    """

    def __init__(self, venv: VecEnv, reward_model: Any, window: int = 100,
                 failure_reward: float | None = None) -> None:
        super().__init__(venv)
        self.reward_model = reward_model
        self.failure_reward = failure_reward
        self._obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self._true = np.zeros(self.num_envs)
        self._learned = np.zeros(self.num_envs)
        self.episode_true_returns: deque[float] = deque(maxlen=window)
        self.episode_learned_returns: deque[float] = deque(maxlen=window)

    def reset(self) -> Any:
        obs = self.venv.reset()
        self._obs = np.asarray(obs).copy()
        self._true[:] = 0.0
        self._learned[:] = 0.0
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> Any:
        obs, true_rewards, dones, infos = self.venv.step_wait()
        nxt = np.asarray(obs).copy()
        for i, done in enumerate(dones):
            if done and "terminal_observation" in infos[i]:
                nxt[i] = infos[i]["terminal_observation"]
        if self._obs is None or self._actions is None:
            raise RuntimeError("LearnedRewardVecEnv.step_wait called before reset/step_async.")
        learned = cap_failures(score_transitions(self.reward_model, self._obs, self._actions, nxt),
                               infos, self.failure_reward)
        for i, info in enumerate(infos):
            info["true_reward"] = float(true_rewards[i])
            info["learned_reward"] = float(learned[i])
        self._track(np.asarray(true_rewards, dtype=np.float64), learned, dones)
        self._obs = np.asarray(obs).copy()
        return obs, learned.astype(np.float32), dones, infos

    def _track(self, true_rewards: np.ndarray, learned: np.ndarray, dones: np.ndarray) -> None:
        self._true += true_rewards
        self._learned += learned
        for i in np.flatnonzero(dones):
            self.episode_true_returns.append(float(self._true[i]))
            self.episode_learned_returns.append(float(self._learned[i]))
            self._true[i] = 0.0
            self._learned[i] = 0.0


__all__ = ["LearnedRewardVecEnv", "LearnedRewardWrapper", "cap_failures", "score_transitions"]
