"""Token-level PPO: a causal LM with a value head trained against ``RLHF-Text-v0``.

>>> from agents.token_ppo import TokenPPOConfig
>>> TokenPPOConfig(batch_size=8, minibatch_size=4).advantage
'gae'
"""

from agents.token_ppo.checkpoint import load_checkpoint, save_checkpoint
from agents.token_ppo.config import ADVANTAGE_ESTIMATORS, TokenPPOConfig
from agents.token_ppo.generation import Generation, LMSampler, SamplingTransform, generate
from agents.token_ppo.policy import PolicyWithValue
from agents.token_ppo.rollout import Rollout
from agents.token_ppo.trainer import TokenPPOTrainer, build_env

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "Generation",
    "LMSampler",
    "PolicyWithValue",
    "Rollout",
    "SamplingTransform",
    "TokenPPOConfig",
    "TokenPPOTrainer",
    "build_env",
    "generate",
    "load_checkpoint",
    "save_checkpoint",
]
