"""Learners that train against the rlhf-env environments.

``agents.sb3`` holds the Stable-Baselines3 helpers (``RLHFVecEnv``, ``RLHFMetricsCallback``,
``make_vec_env``, ``make_ppo``, ``make_a2c``); ``agents.lm_policy.CausalLMPolicy`` is an SB3
policy around a causal LM for the token env. Names are loaded lazily, so ``import agents``
does not import torch or SB3.

Note: the import name ``agents`` is shared with the ``openai-agents`` distribution (which also
installs a top-level ``agents`` package); the two cannot be installed in one environment.
"""

from __future__ import annotations

from rlhf_env._lazy import lazy_getattr

__all__ = [
    "CausalLMPolicy",
    "RLHFMetricsCallback",
    "RLHFVecEnv",
    "collect_episodes",
    "make_a2c",
    "make_ppo",
    "make_vec_env",
    "sb3",
]

__getattr__ = lazy_getattr(
    __name__,
    {
        "sb3": "agents.sb3",
        "CausalLMPolicy": "agents.lm_policy:CausalLMPolicy",
        "RLHFMetricsCallback": "agents.sb3:RLHFMetricsCallback",
        "RLHFVecEnv": "agents.sb3:RLHFVecEnv",
        "make_a2c": "agents.sb3:make_a2c",
        "make_ppo": "agents.sb3:make_ppo",
        "make_vec_env": "agents.sb3:make_vec_env",
        "collect_episodes": "agents.sb3:collect_episodes",
    },
)
