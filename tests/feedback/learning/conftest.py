"""Fixtures for the learning side of feedback: a toy sentiment task and tiny models.

The task: texts of three words drawn from a positive and a negative list; the gold score is
(#positive − #negative). A bag-of-words reward module learns it in well under a second, and
the tiny random BERT (frozen, embeddings cached) learns it in a few seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch
from torch import nn

GOOD = ("good", "great", "happy", "love", "nice", "fun")
BAD = ("bad", "sad", "awful", "hate", "poor", "dull")


def gold_score(prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
    """#positive − #negative words of each response."""
    return np.array([sum(w in GOOD for w in r.split()) - sum(w in BAD for w in r.split())
                     for r in responses], dtype=np.float64)


def toy_texts(n: int, seed: int = 0, words: int = 3) -> list[str]:
    """``n`` distinct texts of ``words`` sentiment words."""
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        out[" ".join(rng.choice(GOOD + BAD, size=words))] = None
    return list(out)


def toy_pairs(texts: Sequence[str], n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` random pairs of texts with different gold scores."""
    rng = np.random.default_rng(seed)
    gold = gold_score([""] * len(texts), texts)
    pairs: list[tuple[str, str]] = []
    while len(pairs) < n:
        i, j = rng.integers(0, len(texts), size=2)
        if gold[i] != gold[j]:
            pairs.append((texts[i], texts[j]))
    return pairs


class BagOfWordsReward(nn.Module):
    """A tiny trainable reward model: mean of token embeddings, then a linear head.

    It has what the trainer uses: ``tokenizer``, ``encoder`` (the embedding table, the
    "backbone"), ``embed``/``score_embeddings`` and ``forward``, plus ``score`` for
    evaluation.
    """

    def __init__(self, tokenizer, dim: int = 16, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.tokenizer = tokenizer
        self.encoder = nn.Embedding(len(tokenizer), dim)
        self.head = nn.Linear(dim, 1)
        self.input_format = "response"
        self.max_length = 32

    def embed(self, input_ids, attention_mask, token_type_ids=None):
        mask = attention_mask.unsqueeze(-1).float()
        return (self.encoder(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1)

    def score_embeddings(self, pooled):
        return self.head(pooled).squeeze(-1)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return self.score_embeddings(self.embed(input_ids, attention_mask))

    @torch.no_grad()
    def score(self, prompts, responses):
        enc = self.tokenizer(list(responses), padding=True, return_tensors="pt")
        return self(enc["input_ids"], enc["attention_mask"]).numpy().astype(np.float32)


@pytest.fixture(scope="session")
def bert_tok():
    from rlhf_env.models import load_sentence_encoder

    return load_sentence_encoder("tiny-random-bert")[1]


@pytest.fixture()
def bow_model(bert_tok):
    return BagOfWordsReward(bert_tok)
