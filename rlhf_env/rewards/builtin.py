"""Factories of the built-in reward-model names (see :mod:`.registry`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SENTIMENT_DIR = Path(__file__).resolve().parents[1] / "data" / "reward_models" / "sentiment-minilm"
"""The shipped sentiment head on all-MiniLM-L6-v2 (trained by scripts/train_sentiment_head.py
on ~38k human sentiment ratings; higher score = more positive)."""


def sentiment(**overrides: Any) -> Any:
    """The shipped sentiment reward model: log-odds that the response reads as positive."""
    from rlhf_env.rewards.encoder_head import EncoderHeadReward

    return EncoderHeadReward.from_pretrained(SENTIMENT_DIR, **overrides)


def vader(**kwargs: Any) -> Any:
    """VADER compound sentiment of the response, in [-1, 1] (a rule-based gold scorer)."""
    from rlhf_env.rewards.vader import VaderReward

    return VaderReward(**kwargs)


def keyword(**kwargs: Any) -> Any:
    """Counts target keywords in the response (default: a few positive words)."""
    from rlhf_env.rewards.rules import KeywordReward

    return KeywordReward(**kwargs)


def length(**kwargs: Any) -> Any:
    """Peaks when the response has ``target_words`` words (default 20)."""
    from rlhf_env.rewards.rules import LengthReward

    return LengthReward(**kwargs)
