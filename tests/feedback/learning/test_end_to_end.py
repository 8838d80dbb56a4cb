"""All five feedback kinds → one trained reward model → RLHF-Text-v0."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rlhf_env  # noqa: F401  (registers the env ids)
from rlhf_env.feedback.learning.labelers import (
    ComparisonQuery,
    RankingQuery,
    RatingQuery,
    SyntheticLabeler,
    SyntheticLabelerConfig,
)
from rlhf_env.feedback.learning.training import RewardModelTrainer, RewardTrainerConfig
from rlhf_env.feedback.records import Correction, Demonstration
from tests.feedback.learning.conftest import gold_score, toy_pairs, toy_texts


def _mixed_feedback() -> list:
    texts = toy_texts(200, seed=11)
    lab = SyntheticLabeler(gold_score, SyntheticLabelerConfig(temperature=0.0))
    pairs = toy_pairs(texts, 150, seed=11)
    queries = [ComparisonQuery("Review:", a, b) for a, b in pairs]
    queries += [RankingQuery("Review:", tuple(texts[i:i + 3])) for i in range(0, 90, 3)]
    queries += [RatingQuery("Review:", t) for t in texts[:60]]
    records = lab.label(queries)
    records += [Demonstration("Review:", "good great fun"), Demonstration("Say:", "love nice")]
    records += [Correction("Review:", "awful sad", "good fun"),
                Correction("Say:", "hate bad", "happy")]
    return records


def test_five_kinds_train_a_model_that_the_env_uses(tmp_path):
    from rlhf_env.rewards import EncoderHeadReward

    records = _mixed_feedback()
    assert {r.KIND for r in records} == {"comparison", "ranking", "rating", "demonstration",
                                         "correction"}
    model = EncoderHeadReward(backbone="tiny-random-bert", freeze_backbone=True)
    result = RewardModelTrainer(RewardTrainerConfig(epochs=3, head_lr=5e-3)).fit(
        model, records, policy_samples={"Say:": ["dull poor"]})
    assert result.counts["pairs"] > 0 and result.counts["rankings"] > 0
    assert result.counts["ratings"] > 0
    path = tmp_path / "rm"
    model.save_pretrained(path)

    env = gym.make("RLHF-Text-v0", task="keyword", model="tiny-random-llama",
                   action_vocab="task", max_response_tokens=4, reward_model=str(path))
    env.action_space.seed(0)
    for _ in range(20):  # a sampled response can be empty (EOS first); draw until one is not
        env.reset(seed=0)
        _, reward, *_, info = env.step(env.action_space.sample())
        if info["response"].strip():
            break
    else:
        pytest.skip("every sampled response was empty")
    expected = model.score([info["prompt"]], [info["response"]])[0]
    assert info["score"] == pytest.approx(float(expected), rel=1e-5, abs=1e-6)
    assert np.isfinite(reward)
    env.close()
