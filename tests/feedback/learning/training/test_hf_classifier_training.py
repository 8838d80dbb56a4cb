"""RewardModelTrainer fine-tunes Hugging Face sequence classifiers: our wrapper, a raw
transformers model and a folder path, built tiny from a config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlhf_env.errors import ConfigError
from rlhf_env.feedback.learning.evaluation import evaluate
from rlhf_env.feedback.learning.labelers import (
    ComparisonQuery,
    SyntheticLabeler,
    SyntheticLabelerConfig,
)
from rlhf_env.feedback.learning.training import RewardModelTrainer, RewardTrainerConfig
from rlhf_env.models import tiny_tokenizer
from rlhf_env.rewards import HFClassifierReward, make_reward_model
from tests.feedback.learning.conftest import gold_score, toy_pairs, toy_texts

FINE_TUNE = RewardTrainerConfig(epochs=6, lr=1e-3, head_lr=1e-2, batch_size=32, device="cpu")
"""Whole-model fine-tuning of a 2-layer, 32-wide BERT: ~1 s on one CPU thread."""


def _comparisons(n: int, seed: int) -> list:
    pairs = toy_pairs(toy_texts(300, seed=seed), n, seed=seed)
    labeler = SyntheticLabeler(gold_score, SyntheticLabelerConfig(temperature=0.0), seed=seed)
    return labeler.label([ComparisonQuery("Review:", a, b) for a, b in pairs])


def _raw_classifier(folder: Path | None = None):
    from transformers import BertConfig, BertForSequenceClassification

    tok = tiny_tokenizer()
    config = BertConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                        num_hidden_layers=2, num_attention_heads=2,
                        max_position_embeddings=128, num_labels=1)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    if folder is not None:
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
        model = BertForSequenceClassification.from_pretrained(folder)
    return model, tok


@pytest.fixture(scope="module")
def held_out() -> list:
    return _comparisons(300, seed=99)


def test_the_wrapper_learns_an_easy_preference(held_out):
    model, tok = _raw_classifier()
    rm = HFClassifierReward(model=model, tokenizer=tok, input_format="response", device="cpu")
    before = evaluate(rm, held_out).pairwise_accuracy
    result = RewardModelTrainer(FINE_TUNE).fit(rm, _comparisons(400, seed=0))
    after = evaluate(rm, held_out).pairwise_accuracy
    assert before < 0.65 and after > 0.9, (before, after)
    assert result.model is rm and result.val_accuracy is not None and result.val_accuracy > 0.9
    assert result.val_accuracy_ci is not None and result.val_accuracy_ci[0] > 0.5


def test_a_raw_transformers_classifier_trains_in_place(tmp_path, held_out):
    model, _ = _raw_classifier(tmp_path / "clf")
    weight = model.classifier.weight.detach().clone()
    result = RewardModelTrainer(FINE_TUNE).fit(model, _comparisons(400, seed=0))
    assert isinstance(result.model, HFClassifierReward) and result.model.model is model
    assert not torch.equal(weight, model.classifier.weight)  # the user's object changed
    # the prompt is part of the input here ("prompt+response"); it is the same everywhere
    assert evaluate(result.model, held_out).pairwise_accuracy > 0.85


def test_a_folder_path_trains_and_saves_back(tmp_path, held_out):
    _raw_classifier(tmp_path / "clf")
    result = RewardModelTrainer(FINE_TUNE).fit(str(tmp_path / "clf"), _comparisons(400, 0))
    result.model.save_pretrained(tmp_path / "tuned")
    reloaded = make_reward_model(str(tmp_path / "tuned"))
    assert evaluate(reloaded, held_out).pairwise_accuracy > 0.85


def test_freezing_trains_only_the_classification_head():
    model, tok = _raw_classifier()
    rm = HFClassifierReward(model=model, tokenizer=tok, input_format="response", device="cpu")
    assert rm.backbone is model.bert
    body = {k: v.clone() for k, v in model.bert.state_dict().items()}
    head = model.classifier.weight.detach().clone()
    cfg = RewardTrainerConfig(epochs=2, head_lr=1e-2, freeze_backbone=True, device="cpu",
                              warn_at_chance=False)
    RewardModelTrainer(cfg).fit(rm, _comparisons(200, seed=1))
    assert all(torch.equal(v, model.bert.state_dict()[k]) for k, v in body.items())
    assert not torch.equal(head, model.classifier.weight)


def test_a_raw_classifier_without_a_tokenizer_says_how_to_wrap_it():
    model, _ = _raw_classifier()
    with pytest.raises(ConfigError, match=r"HFClassifierReward\(model=model, tokenizer="):
        RewardModelTrainer(FINE_TUNE).fit(model, _comparisons(50, seed=2))
