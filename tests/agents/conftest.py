"""Fixtures for the SB3 tests: tiny keyword-task envs, one torch thread."""

from __future__ import annotations

import pytest

KEYWORD_VOCAB = ["good", "great", "happy", "love", "bad", "sad", "the", "day", "food", "time",
                 "very", "!"]
"""A 12-word action vocabulary (13 actions with EOS) holding the keyword task's 4 targets."""

TINY_KWARGS = {"task": "keyword", "model": "tiny-random-llama", "action_vocab": KEYWORD_VOCAB,
               "max_response_tokens": 4, "max_prompt_tokens": 32}
"""Env kwargs of a fast keyword task: random responses score ≈ 1.2, the best 4.0."""


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny MLPs run far faster on one thread, above all on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def make_env():
    """Build an ``RLHFVecEnv`` over the tiny keyword task (kwargs override the defaults)."""
    from agents.sb3 import make_vec_env

    envs = []

    def build(num_envs: int = 4, seed: int | None = 0, **kwargs):
        env = make_vec_env(num_envs, seed=seed, **{**TINY_KWARGS, **kwargs})
        envs.append(env)
        return env

    yield build
    for env in envs:
        env.close()
