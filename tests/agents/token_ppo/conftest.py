"""Fixtures for the token-level PPO tests: the tiny Llama on a keyword task."""

from __future__ import annotations

import pytest

PROMPTS = ["Say something.", "Write a short review.", "Describe your day."]
"""A restricted prompt set: fast to encode, enough variety for groups."""

WORDS = ["good", "great", "happy", "love", "bad", "sad", "the", "day", "food", "time", "very",
         "!"]
"""Sampling vocabulary for the rule task: 4 keywords among 12 words (+ EOS)."""


@pytest.fixture
def make_env():
    """Build the batched keyword env the trainer expects (kwargs override the defaults)."""
    import gymnasium as gym

    import rlhf_env  # noqa: F401

    envs = []

    def build(num_envs: int = 8, max_response_tokens: int = 4, **kwargs):
        options = {"task": "keyword", "model": "tiny-random-llama", "prompts": PROMPTS,
                   "max_prompt_tokens": 32, "max_response_tokens": max_response_tokens,
                   **kwargs}
        env = gym.make_vec("RLHF-Text-v0", num_envs=num_envs, **options)
        envs.append(env)
        return env

    yield build
    for env in envs:
        env.close()


@pytest.fixture(scope="session")
def word_ids():
    """Token ids of :data:`WORDS` in the tiny tokenizer (each a single token)."""
    from rlhf_env.models import load_tokenizer

    tok = load_tokenizer("tiny-random-llama")
    ids = [tok.encode(" " + w, add_special_tokens=False) for w in WORDS]
    assert all(len(i) == 1 for i in ids)
    return tuple(i[0] for i in ids)


@pytest.fixture
def make_trainer(make_env):
    """A trainer over a fresh tiny Llama (seed 0) and a fresh keyword env."""
    from agents.token_ppo import TokenPPOConfig, TokenPPOTrainer
    from rlhf_env.models import load_causal_lm

    def build(env_kwargs: dict | None = None, policy=None, **config):
        defaults = {"model": "tiny-random-llama", "task": "keyword", "batch_size": 8,
                    "minibatch_size": 4, "max_new_tokens": 4, "progress_bar": False}
        cfg = TokenPPOConfig(**{**defaults, **config})
        env = make_env(cfg.batch_size, cfg.max_new_tokens, **(env_kwargs or {}))
        lm = policy if policy is not None else load_causal_lm("tiny-random-llama", seed=0)
        return TokenPPOTrainer(cfg, env=env, policy=lm)

    return build
