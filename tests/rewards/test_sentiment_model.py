"""The shipped sentiment reward model (MiniLM + trained head) ranks clear texts correctly."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.rewards import VaderReward, make_reward_model
from rlhf_env.rewards.builtin import SENTIMENT_DIR

POSITIVE = ["I love this, wonderful!", "What a fantastic, friendly place. Highly recommended.",
            "The staff were kind and the food was delicious."]
NEGATIVE = ["This is awful, I hate it.", "Terrible service, rude staff, never again.",
            "The train was late, dirty and I felt miserable."]


@pytest.fixture(scope="module")
def sentiment():
    if not (SENTIMENT_DIR / "head.safetensors").is_file():
        pytest.fail(f"the shipped sentiment head is missing from {SENTIMENT_DIR}")
    return make_reward_model("sentiment")


def test_positive_texts_score_above_negative_ones(sentiment):
    texts = POSITIVE + NEGATIVE
    out = sentiment.score([""] * len(texts), texts)
    assert out.dtype == np.float32 and out.shape == (6,)
    assert out[:3].min() > out[3:].max() + 1.0
    assert (out[:3] > 0).all() and (out[3:] < 0).all()


def test_agrees_with_vader_on_direction(sentiment):
    texts = POSITIVE + NEGATIVE
    learned = sentiment.score([""] * 6, texts)
    gold = VaderReward().score([""] * 6, texts)
    assert (np.sign(learned) == np.sign(gold)).all()


def test_config_references_the_bundled_backbone(sentiment):
    assert sentiment.config.backbone == "all-minilm-l6-v2"
    assert sentiment.config.input_format == "response"
    assert sentiment.training_metadata["heldout"]["accuracy_pos_vs_neg"] >= 0.85
