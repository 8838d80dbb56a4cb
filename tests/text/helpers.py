"""Small reward models and env factories shared by the text-env tests."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

import rlhf_env  # noqa: F401  (registers the ids)


class CountingReward:
    """Scores the number of 'great' in a response; counts calls and batch sizes."""

    name = "counting"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score(self, prompts, responses) -> np.ndarray:
        self.calls.append(len(responses))
        return np.array([r.split().count("great") for r in responses], dtype=np.float32)


class ConstantReward:
    def __init__(self, values: Any, name: str = "constant") -> None:
        self.values = values
        self.name = name

    def score(self, prompts, responses):
        return self.values(len(responses)) if callable(self.values) else self.values


TINY = {"model": "tiny-random-llama", "task": "keyword", "gold": None, "max_response_tokens": 6}


def make_env(**kwargs: Any) -> gym.Env:
    return gym.make("RLHF-Text-v0", **{**TINY, **kwargs})


def token_action(env: gym.Env, tokens: list[int]) -> np.ndarray:
    """An action that spells ``tokens`` (token ids), padded with EOS."""
    core = env.unwrapped.core
    vocab = core.vocab
    lookup = (dict(enumerate(range(vocab.size))) if vocab.token_ids is None
              else {int(t): i for i, t in enumerate(vocab.token_ids)})
    index = {t: i for i, t in lookup.items()} if vocab.token_ids is None else lookup
    n = env.action_space.shape[0]
    row = [index[t] for t in tokens] + [vocab.eos_action] * (n - len(tokens))
    return np.asarray(row[:n], dtype=np.int64)


def word_ids(env: gym.Env, words: list[str]) -> list[int]:
    from rlhf_env.text.spaces import single_token_id

    tok = env.unwrapped.core.tokenizer
    ids = [single_token_id(tok, w) for w in words]
    assert all(i is not None for i in ids), words
    return [int(i) for i in ids if i is not None]
