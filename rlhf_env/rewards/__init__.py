"""Reward models: the :class:`RewardModel` protocol, implementations and the plug-in registry.

Every reward model has ``score(prompts, responses) -> np.ndarray`` (float32, shape ``(n,)``)
and its output goes through :func:`validate_scores`, so NaN/inf or wrong shapes raise
:class:`~rlhf_env.errors.RewardModelError` naming the model.

===========================  =================================================================
:class:`CallableReward`      a plain function, batched or per (prompt, response) pair
:class:`HFClassifierReward`  any Hugging Face sequence classifier (path or hub id)
:class:`EncoderHeadReward`   sentence encoder + scalar head, trained here; save/load folders
:class:`EnsembleReward`      mean, min or mean − k·std of several reward models
:class:`NormalizedReward`    running mean/std normalisation, optional clipping
:class:`KeywordReward`       counts target words (rule-based)
:class:`LengthReward`        peaks at a target length in words (rule-based)
:class:`VaderReward`         VADER sentiment, a rule-based gold scorer
===========================  =================================================================

Get one by name, path, hub id or object with :func:`make_reward_model`; built-in names are
``sentiment`` (the shipped MiniLM head), ``vader``, ``keyword`` and ``length``. Models with
weights (encoder heads, classifiers, ensembles, normalised models) have ``save_pretrained``;
``make_reward_model(folder)`` loads any of those folders from any working directory (see
:mod:`rlhf_env.models.sources` for how base models are recorded). Importing this package
does not import torch or transformers: the model classes load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlhf_env._lazy import lazy_getattr
from rlhf_env.rewards.base import (
    LowerPrecisionReward,
    RewardModel,
    check_pairs,
    describe,
    reward_at_precision,
    score_checked,
    validate_scores,
)
from rlhf_env.rewards.callable import CallableReward
from rlhf_env.rewards.ensemble import EnsembleConfig, EnsembleReward
from rlhf_env.rewards.heads import HeadConfig
from rlhf_env.rewards.normalize import NormalizeConfig, NormalizedReward, RunningMoments
from rlhf_env.rewards.registry import (
    ENTRY_POINT_GROUP,
    check_reward_spec,
    list_reward_models,
    make_reward_model,
    register_reward_model,
)
from rlhf_env.rewards.rules import KeywordConfig, KeywordReward, LengthConfig, LengthReward
from rlhf_env.rewards.vader import VaderReward

if TYPE_CHECKING:
    from rlhf_env.rewards.encoder_head import EncoderHeadConfig, EncoderHeadReward
    from rlhf_env.rewards.hf_classifier import HFClassifierConfig, HFClassifierReward

__all__ = [
    "ENTRY_POINT_GROUP",
    "CallableReward",
    "EncoderHeadConfig",
    "EncoderHeadReward",
    "EnsembleConfig",
    "EnsembleReward",
    "HFClassifierConfig",
    "HFClassifierReward",
    "HeadConfig",
    "KeywordConfig",
    "KeywordReward",
    "LengthConfig",
    "LengthReward",
    "LowerPrecisionReward",
    "NormalizeConfig",
    "NormalizedReward",
    "RewardModel",
    "RunningMoments",
    "VaderReward",
    "check_pairs",
    "check_reward_spec",
    "describe",
    "list_reward_models",
    "make_reward_model",
    "register_reward_model",
    "reward_at_precision",
    "score_checked",
    "validate_scores",
]

__getattr__ = lazy_getattr(
    __name__,
    {
        "EncoderHeadConfig": "rlhf_env.rewards.encoder_head:EncoderHeadConfig",
        "EncoderHeadReward": "rlhf_env.rewards.encoder_head:EncoderHeadReward",
        "HFClassifierConfig": "rlhf_env.rewards.hf_classifier:HFClassifierConfig",
        "HFClassifierReward": "rlhf_env.rewards.hf_classifier:HFClassifierReward",
    },
)
