"""The reward-model trainer: every objective learns, weights matter, models save and load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rlhf_env.errors import ConfigError, FeedbackError
from rlhf_env.feedback.learning.evaluation import evaluate
from rlhf_env.feedback.learning.labelers import (
    AnnotatorProfile,
    ComparisonQuery,
    RankingQuery,
    RatingQuery,
    SyntheticLabeler,
    SyntheticLabelerConfig,
)
from rlhf_env.feedback.learning.training import (
    RewardModelTrainer,
    RewardTrainerConfig,
    build_dataset,
)
from rlhf_env.feedback.records import Comparison, Correction, Demonstration, Rating
from tests.feedback.learning.conftest import BagOfWordsReward, gold_score, toy_pairs, toy_texts

FAST = RewardTrainerConfig(epochs=8, batch_size=32, head_lr=0.05, patience=0,
                           freeze_backbone=True)
"""Frozen random word embeddings (cached once) + a trained linear head: 12 words in 16
dimensions are linearly independent, so the head can represent the gold word weights."""
END_TO_END = RewardTrainerConfig(epochs=8, batch_size=32, lr=0.05, head_lr=0.05, patience=0,
                                 freeze_backbone=False)


def _comparisons(n: int, seed: int = 0, **cfg) -> list[Comparison]:
    pairs = toy_pairs(toy_texts(300, seed=seed), n, seed=seed)
    lab = SyntheticLabeler(gold_score, SyntheticLabelerConfig(**{"temperature": 0.0, **cfg}),
                           seed=seed)
    return lab.label([ComparisonQuery("Review:", a, b) for a, b in pairs])  # type: ignore[return-value]


def _held_out() -> list[Comparison]:
    return _comparisons(300, seed=99)


def test_bradley_terry_learns_above_chance(bow_model):
    before = [p.detach().clone() for p in bow_model.parameters()]
    result = RewardModelTrainer(END_TO_END).fit(bow_model, _comparisons(600))
    assert not torch.equal(before[0], bow_model.encoder.weight)  # the backbone trained too
    assert any(not torch.equal(a, b) for a, b in zip(before, bow_model.parameters(), strict=False))
    assert evaluate(bow_model, _held_out()).pairwise_accuracy > 0.9
    assert result.history[-1]["val_accuracy"] > 0.85
    assert result.counts["pairs"] == 480  # 20% held out (the default val_fraction)


def test_untrained_model_is_near_chance(bow_model):
    assert evaluate(bow_model, _held_out()).pairwise_accuracy < 0.75


def test_plackett_luce_rankings_learn(bow_model):
    texts = toy_texts(300, seed=1)
    rng = np.random.default_rng(0)
    qs = [RankingQuery("Review:", tuple(rng.choice(texts, 4, replace=False))) for _ in range(200)]
    recs = SyntheticLabeler(gold_score, SyntheticLabelerConfig(temperature=0.5)).label(qs)
    RewardModelTrainer(FAST).fit(bow_model, recs)
    assert evaluate(bow_model, _held_out()).pairwise_accuracy > 0.85


@pytest.mark.parametrize("objective", ["regression", "ordinal"])
def test_ratings_learn_with_harsh_and_lenient_annotators(bow_model, objective):
    pop = (AnnotatorProfile("harsh", temperature=0.3, rating_offset=-2.0),
           AnnotatorProfile("lenient", temperature=0.3, rating_offset=2.0))
    cfg = SyntheticLabelerConfig(temperature=0.3, rating_noise=0.3, rating_scale=(1, 7),
                                 rating_spread=1.5, population=pop)
    recs = SyntheticLabeler(gold_score, cfg).label(
        [RatingQuery("Review:", t) for t in toy_texts(400, seed=2)])
    trainer = RewardModelTrainer(RewardTrainerConfig(**{**FAST.__dict__,
                                                        "rating_objective": objective}))
    trainer.fit(bow_model, recs)
    assert evaluate(bow_model, _held_out()).pairwise_accuracy > 0.85


def test_demonstrations_and_corrections_train_as_preferences(bow_model):
    texts = toy_texts(300, seed=3)
    gold = gold_score([], texts)
    good = [t for t, g in zip(texts, gold, strict=False) if g >= 2]
    bad = [t for t, g in zip(texts, gold, strict=False) if g <= -1]
    n = min(len(good), len(bad))
    demos = [Demonstration(f"prompt {i}", good[i]) for i in range(n // 2)]
    samples = {f"prompt {i}": [bad[i]] for i in range(n // 2)}
    corrections = [Correction(f"prompt {i}", bad[i], good[i]) for i in range(n // 2, n)]
    result = RewardModelTrainer(FAST).fit(bow_model, demos + corrections, policy_samples=samples)
    assert result.counts["pairs"] > 0
    assert evaluate(bow_model, _held_out()).pairwise_accuracy > 0.8


def test_demonstration_without_policy_sample_raises(bow_model):
    with pytest.raises(FeedbackError, match="no policy sample"):
        RewardModelTrainer(FAST).fit(bow_model, [Demonstration("p", "good"),
                                                 Demonstration("q", "bad")])


def test_reliability_weights_silence_an_adversarial_annotator(bow_model, bert_tok):
    good = _comparisons(300, seed=4)
    flip = {"a": "b", "b": "a"}
    adversary = [dataclasses.replace(c, preference=flip[c.preference], annotator="adversary")
                 for c in _comparisons(500, seed=5)]
    data = good + adversary
    RewardModelTrainer(FAST).fit(bow_model, data, annotator_weights={"adversary": 0.0})
    weighted = evaluate(bow_model, _held_out()).pairwise_accuracy
    other = BagOfWordsReward(bert_tok)
    RewardModelTrainer(FAST).fit(other, data)
    unweighted = evaluate(other, _held_out()).pairwise_accuracy
    assert weighted > 0.9 and unweighted < 0.5


def test_ties_pull_scores_together():
    data = build_dataset([Comparison("p", "x", "y", "tie"),
                          Comparison("p", "x", "z", "a", strength=2.0)], use_margins=True)
    assert data.pairs.target.tolist() == [0.5, 1.0]
    assert data.pairs.margin.tolist() == [0.0, 2.0]


def test_ensemble_members_differ_and_give_member_scores(bert_tok):
    trainer = RewardModelTrainer(FAST)
    ens = trainer.fit_ensemble(lambda i: BagOfWordsReward(bert_tok, seed=i), _comparisons(300),
                               k=3)
    scores = ens.member_scores(["p"] * 3, ["good fun", "bad sad", "nice"])
    assert scores.shape == (3, 3)
    assert not np.allclose(scores[0], scores[1])
    assert evaluate(ens, _held_out()).pairwise_accuracy > 0.85


def test_frozen_encoder_head_trains_saves_and_loads_via_make_reward_model(tmp_path):
    from rlhf_env.rewards import EncoderHeadReward, make_reward_model

    model = EncoderHeadReward(backbone="tiny-random-bert", freeze_backbone=True,
                              head={"kind": "mlp", "hidden_sizes": (32,)})
    trainer = RewardModelTrainer(RewardTrainerConfig(epochs=15, head_lr=5e-3, patience=0))
    result = trainer.fit(model, _comparisons(500))
    assert len(trainer.embedding_cache) > 0  # frozen backbone: embeddings computed once
    assert evaluate(model, _held_out()).pairwise_accuracy > 0.75
    assert result.best_epoch >= 1
    model.save_pretrained(tmp_path / "rm")
    loaded = make_reward_model(str(tmp_path / "rm"))
    texts = ["good fun nice", "awful sad", "good bad"]
    np.testing.assert_allclose(loaded.score(["Review:"] * 3, texts),
                               model.score(["Review:"] * 3, texts), rtol=1e-5, atol=1e-6)


def test_early_stopping_keeps_the_best_epoch(bow_model):
    cfg = RewardTrainerConfig(epochs=30, batch_size=8, head_lr=0.3, patience=2,
                              freeze_backbone=True, val_fraction=0.3)
    noisy = _comparisons(120, error_rate=0.3)
    result = RewardModelTrainer(cfg).fit(bow_model, noisy)
    losses = [h["val_loss"] for h in result.history]
    assert result.stopped_early
    assert losses[result.best_epoch - 1] == min(losses)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"rating_objective": "huber"}, "rating_objective must be one of"),
        ({"val_fraction": 1.0}, r"val_fraction must be in \[0, 1\)"),
        ({"lr": -1.0}, "lr must be a finite number >= 0"),
        ({"max_steps": 0}, "max_steps must be >= 1"),
    ],
)
def test_bad_trainer_configs_raise(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RewardTrainerConfig(**kwargs)


def test_bad_training_inputs_raise(bow_model):
    trainer = RewardModelTrainer(RewardTrainerConfig(rating_objective="ordinal",
                                                     freeze_backbone=False))
    mixed = [Rating("p", "good", 3, scale=(1, 5)), Rating("p", "bad", 2, scale=(1, 7))]
    with pytest.raises(FeedbackError, match="one integer scale"):
        trainer.fit(bow_model, mixed * 5)
    with pytest.raises(FeedbackError, match="no feedback records"):
        trainer.fit(bow_model, [])
    with pytest.raises(ConfigError, match="trains torch modules"):
        trainer.fit(object(), _comparisons(10))
    with pytest.raises(FeedbackError, match="weight"):
        build_dataset([Comparison("p", "x", "y", "a", metadata={"weight": -1})])


def test_freeze_flag_clash_with_model_raises():
    from rlhf_env.rewards import EncoderHeadReward

    model = EncoderHeadReward(backbone="tiny-random-bert", freeze_backbone=True)
    with pytest.raises(ConfigError, match="build the model with freeze_backbone=False"):
        RewardModelTrainer(RewardTrainerConfig(freeze_backbone=False)).fit(
            model, _comparisons(20))


def test_trainer_embedding_cache_is_filled_once_and_can_be_seeded(bow_model):
    trainer = RewardModelTrainer(FAST)
    emb = trainer.embed(bow_model, ["p", "p"], ["good fun", "bad"])
    assert emb.shape == (2, 16) and len(trainer.embedding_cache) == 2
    trainer.add_embeddings(bow_model, ["p"], ["new text"], np.zeros((1, 16)))
    assert torch.equal(trainer.embed(bow_model, ["p"], ["new text"])[0], torch.zeros(16))
    with pytest.raises(ConfigError, match="one \\(H,\\) row per pair"):
        trainer.add_embeddings(bow_model, ["p"], ["x"], np.zeros((2, 16)))


def test_frozen_backbone_without_cache_trains_head_only(bow_model):
    before = bow_model.encoder.weight.detach().clone()
    cfg = RewardTrainerConfig(**{**FAST.__dict__, "cache_embeddings": False})
    RewardModelTrainer(cfg).fit(bow_model, _comparisons(400))
    assert torch.equal(before, bow_model.encoder.weight)
    assert evaluate(bow_model, _held_out()).pairwise_accuracy > 0.85


def test_a_nan_loss_stops_reward_model_training(bow_model):
    from rlhf_env.errors import TrainingError

    with torch.no_grad():
        next(bow_model.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingError, match="reward-model training: the loss is nan"):
        RewardModelTrainer(END_TO_END).fit(bow_model, _comparisons(64))
