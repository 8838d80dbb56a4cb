"""Fixtures for reward-model tests: tiny classifiers saved to disk, fake reward models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Build (once per setting) a 2-layer BertForSequenceClassification + tiny tokenizer
    folder and return its path."""
    made: dict[tuple, Path] = {}

    def build(num_labels: int = 1, id2label: dict[int, str] | None = None,
              seed: int = 0) -> Path:
        key = (num_labels, tuple(sorted((id2label or {}).items())), seed)
        if key in made:
            return made[key]
        import torch
        from transformers import BertConfig, BertForSequenceClassification

        from rlhf_env.models import tiny_tokenizer

        tok = tiny_tokenizer()
        extra = {"id2label": id2label, "label2id": {v: k for k, v in id2label.items()}} \
            if id2label else {}
        cfg = BertConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=128, num_labels=num_labels, **extra)
        torch.manual_seed(seed)
        folder = tmp_path_factory.mktemp(f"clf{num_labels}")
        BertForSequenceClassification(cfg).save_pretrained(folder)
        tok.save_pretrained(folder)
        made[key] = folder
        return folder

    return build


class FixedReward:
    """A reward model that returns a fixed array (to test validation and wrappers)."""

    def __init__(self, values, name: str = "fixed") -> None:
        self.values = values
        self.name = name
        self.calls = 0

    def score(self, prompts, responses):
        self.calls += 1
        return self.values


@pytest.fixture
def fixed_reward() -> type[FixedReward]:
    return FixedReward
