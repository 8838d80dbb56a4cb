"""rlhf-env: RLHF as an ordinary Gymnasium environment.

    >>> import gymnasium as gym
    >>> import rlhf_env
    >>> env = gym.make("RLHF-Text-v0")          # doctest: +SKIP

Importing this package registers the environments and nothing heavier: torch and
transformers load when a model is first needed.
"""

from __future__ import annotations

from rlhf_env._lazy import lazy_getattr
from rlhf_env._registration import register_envs
from rlhf_env.errors import (
    CheckError,
    ConfigError,
    InvalidActionError,
    MissingDependencyError,
    ModelLoadError,
    PromptError,
    RewardModelError,
    RLHFEnvError,
    UnknownNameError,
)

__version__ = "0.1.0"

__all__ = [
    "CheckError",
    "ConfigError",
    "InvalidActionError",
    "MissingDependencyError",
    "ModelLoadError",
    "PromptError",
    "RLHFEnvError",
    "RewardModelError",
    "TextBanditEnv",
    "TextBanditVectorEnv",
    "UnknownNameError",
    "__version__",
    "check_rlhf_env",
    "make_reward_model",
]

__getattr__ = lazy_getattr(
    __name__,
    {
        "TextBanditEnv": "rlhf_env.text.bandit:TextBanditEnv",
        "TextBanditVectorEnv": "rlhf_env.text.vector:TextBanditVectorEnv",
        "check_rlhf_env": "rlhf_env.checker:check_rlhf_env",
        "make_reward_model": "rlhf_env.rewards:make_reward_model",
    },
)

register_envs()
