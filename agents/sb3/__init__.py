"""Stable-Baselines3 helpers: the ``VecEnv`` adapter, RLHF metrics callback and factories.

    >>> from agents.sb3 import make_vec_env, make_ppo, RLHFMetricsCallback
    >>> env = make_vec_env(8, task="keyword", model="tiny-random-llama",
    ...                    action_vocab="task", max_response_tokens=4)  # doctest: +SKIP
    >>> model = make_ppo(env).learn(256, callback=RLHFMetricsCallback())  # doctest: +SKIP

Importing this module imports SB3 (and torch); ``import agents`` alone does not.
"""

from __future__ import annotations

from agents.sb3.callbacks import INFO_KEYS, RLHFMetricsCallback, summarize_episodes
from agents.sb3.evaluation import collect_episodes, mean_of
from agents.sb3.factories import A2C_DEFAULTS, PPO_DEFAULTS, make_a2c, make_ppo, make_vec_env
from agents.sb3.vec_env import RLHFVecEnv, unbatch_info

__all__ = [
    "A2C_DEFAULTS",
    "INFO_KEYS",
    "PPO_DEFAULTS",
    "RLHFMetricsCallback",
    "RLHFVecEnv",
    "collect_episodes",
    "make_a2c",
    "make_ppo",
    "make_vec_env",
    "mean_of",
    "summarize_episodes",
    "unbatch_info",
]
