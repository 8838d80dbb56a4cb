"""Learners that train against the rlhf-env environments.

``agents.sb3`` holds the Stable-Baselines3 helpers (``RLHFVecEnv``, ``RLHFMetricsCallback``,
``make_vec_env``, ``make_ppo``, ``make_a2c``); ``agents.lm_policy.CausalLMPolicy`` is an SB3
policy around a causal LM for the token env; ``agents.token_ppo`` is the token-level PPO
trainer (``TokenPPOTrainer``, ``TokenPPOConfig``). Names are loaded lazily, so ``import agents``
does not import torch or SB3.
``agents.sft`` (``supervised_finetune``: the SFT warm start) and ``agents.best_of_n``
(``best_of_n_baseline``: the best-of-n reference) complete the token-level recipe.

Note: the import name ``agents`` is shared with the ``openai-agents`` distribution (which also
installs a top-level ``agents`` package); the two cannot be installed in one environment.
"""

from __future__ import annotations

from rlhf_env._lazy import lazy_getattr

__all__ = [
    "BestOfNConfig",
    "BestOfNResult",
    "CausalLMPolicy",
    "PolicyWithValue",
    "RLHFMetricsCallback",
    "RLHFVecEnv",
    "SFTConfig",
    "SFTResult",
    "TokenPPOConfig",
    "TokenPPOTrainer",
    "best_of_n_baseline",
    "collect_episodes",
    "load_checkpoint",
    "load_demonstrations",
    "make_a2c",
    "make_ppo",
    "make_vec_env",
    "save_checkpoint",
    "sb3",
    "supervised_finetune",
    "token_ppo",
]

__getattr__ = lazy_getattr(
    __name__,
    {
        "sb3": "agents.sb3",
        "CausalLMPolicy": "agents.lm_policy:CausalLMPolicy",
        "token_ppo": "agents.token_ppo",
        "TokenPPOConfig": "agents.token_ppo:TokenPPOConfig",
        "TokenPPOTrainer": "agents.token_ppo:TokenPPOTrainer",
        "PolicyWithValue": "agents.token_ppo:PolicyWithValue",
        "save_checkpoint": "agents.token_ppo:save_checkpoint",
        "load_checkpoint": "agents.token_ppo:load_checkpoint",
        "RLHFMetricsCallback": "agents.sb3:RLHFMetricsCallback",
        "RLHFVecEnv": "agents.sb3:RLHFVecEnv",
        "make_a2c": "agents.sb3:make_a2c",
        "make_ppo": "agents.sb3:make_ppo",
        "make_vec_env": "agents.sb3:make_vec_env",
        "collect_episodes": "agents.sb3:collect_episodes",
        "SFTConfig": "agents.sft:SFTConfig",
        "SFTResult": "agents.sft:SFTResult",
        "supervised_finetune": "agents.sft:supervised_finetune",
        "load_demonstrations": "agents.sft:load_demonstrations",
        "BestOfNConfig": "agents.best_of_n:BestOfNConfig",
        "BestOfNResult": "agents.best_of_n:BestOfNResult",
        "best_of_n_baseline": "agents.best_of_n:best_of_n_baseline",
    },
)
