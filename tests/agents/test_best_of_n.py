"""Best-of-n: reranking beats single samples on the same draws, more draws score higher,
the KL formula, the expected-best-of-k estimator, the env's prompts and scorers, bad input."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from agents.best_of_n import (
    BestOfNConfig,
    best_of_n,
    best_of_n_baseline,
    best_of_n_kl,
    expected_best_of,
)
from agents.token_ppo import PolicyWithValue, TokenPPOConfig
from rlhf_env.errors import ConfigError, PromptError

PROMPTS = ["Say something.", "Write a short review.", "Describe your day.", "Greet a friend.",
           "Tell me about food.", "Rate the hotel."]
WORDS = ["good", "great", "happy", "love", "bad", "sad", "the", "day", "food", "time", "very",
         "!"]


@pytest.fixture(scope="module")
def lm():
    """The tiny Llama; best-of-n never changes weights, so one model serves the module."""
    from rlhf_env.models import load_causal_lm

    return load_causal_lm("tiny-random-llama", seed=0)


@pytest.fixture(scope="module")
def core():
    """The keyword task's batched env core on six prompts, the length scorer as gold."""
    from rlhf_env.text.core import TextBanditCore, TextEnvConfig

    return TextBanditCore(TextEnvConfig(task="keyword", model="tiny-random-llama",
                                        prompts=PROMPTS, gold="length", max_prompt_tokens=32,
                                        max_response_tokens=4))


@pytest.fixture(scope="module")
def config(tiny_tok):
    """Sampling over 12 words (4 keywords) + EOS: single samples score ≈ 1 on average."""
    ids = tuple(tiny_tok.encode(" " + w, add_special_tokens=False)[0] for w in WORDS)
    return BestOfNConfig(max_new_tokens=4, allowed_token_ids=ids)


def test_best_of_n_beats_single_samples_from_the_same_draws(lm, core, config):
    result = best_of_n_baseline(lm, core, 8, config=config)
    assert np.array_equal(result.scores, result.sample_scores.max(1))
    assert result.mean_score > result.baseline_score + 1.0
    assert result.baseline_score == pytest.approx(result.sample_scores.mean())
    chosen = result.sample_scores.argmax(1)
    for p, response in enumerate(result.responses):
        assert response == result.samples[p][chosen[p]]
        assert sum(response.split().count(w) for w in WORDS[:4]) == result.scores[p]


def test_more_draws_score_higher_on_the_same_seed(lm, core, config):
    means = [best_of_n_baseline(lm, core, n, config=config).mean_score for n in (1, 4, 16)]
    assert means[0] < means[1] < means[2]
    result = best_of_n_baseline(lm, core, 16, config=config)
    curve = [result.score_at(k) for k in range(1, 17)]
    assert np.all(np.diff(curve) >= -1e-9)
    assert curve[0] == pytest.approx(result.baseline_score)
    assert curve[-1] == pytest.approx(result.mean_score)


def test_shapes_gold_and_summary(lm, core, config):
    result = best_of_n_baseline(lm, core, 3, num_prompts=4, config=config)
    assert len(result.prompts) == len(result.responses) == 4
    assert set(result.prompts) <= set(PROMPTS)
    assert len(result.samples) == 4 and all(len(s) == 3 for s in result.samples)
    assert result.sample_scores.shape == result.sample_gold.shape == (4, 3)
    assert result.scores.shape == result.gold_scores.shape == (4,)
    assert result.scores.dtype == np.float32
    assert result.n == 3 and result.kl == pytest.approx(best_of_n_kl(3))
    best = result.sample_scores.argmax(1)
    assert np.array_equal(result.gold_scores, result.sample_gold[np.arange(4), best])
    assert result.gold_at(3) == pytest.approx(result.mean_gold)
    assert result.gold_at(1) == pytest.approx(result.baseline_gold)
    assert all(len(r.split()) <= 4 for s in result.samples for r in s)  # 4 tokens, 1 word each
    line = result.summary()
    assert line.startswith("best-of-3 reference: score ")
    assert f"KL {best_of_n_kl(3):.3f} nats" in line and "gold" in line


def test_env_and_text_prompts_give_the_same_draws(lm, core, config, tiny_tok):
    """Text prompts are encoded and decoded as the env does: same seed, same responses."""
    from_env = best_of_n_baseline(lm, core, 2, config=config)
    from_text = best_of_n(lm, tiny_tok, PROMPTS, "keyword", 2, config, gold="length")
    assert from_text.samples == from_env.samples
    assert np.array_equal(from_text.sample_gold, from_env.sample_gold)


def test_a_vector_env_and_a_policy_with_value_sample_alike(lm, config):
    import gymnasium as gym

    import rlhf_env  # noqa: F401

    env = gym.make_vec("RLHF-Text-v0", num_envs=2, task="keyword", model="tiny-random-llama",
                       prompts=PROMPTS, max_prompt_tokens=32, max_response_tokens=4)
    plain = best_of_n_baseline(lm, env, 2, config=config)
    wrapped = best_of_n_baseline(PolicyWithValue(lm), env, 2, config=config)
    env.close()
    assert plain.samples == wrapped.samples  # the trainer's generate() in both cases
    assert plain.gold_scores is None  # the keyword task has no gold scorer


def test_a_callable_reward_and_ppo_sampling_settings(lm, tiny_tok):
    def bangs(prompt: str, response: str) -> float:
        return float(response.count("!"))

    ppo = TokenPPOConfig(model="tiny-random-llama", max_new_tokens=5, temperature=0.8,
                         top_k=50, allowed_token_ids=(tiny_tok.encode("!")[0], 280, 300))
    config = BestOfNConfig.from_ppo(ppo)
    assert (config.max_new_tokens, config.temperature, config.top_k) == (5, 0.8, 50)
    result = best_of_n(lm, tiny_tok, PROMPTS[:3], bangs, 6, config)
    assert np.array_equal(result.scores, [r.count("!") for r in result.responses])
    assert result.mean_score >= result.baseline_score


def test_kl_formula():
    assert best_of_n_kl(1) == 0.0
    assert best_of_n_kl(2) == pytest.approx(math.log(2) - 0.5)
    assert best_of_n_kl(16) == pytest.approx(math.log(16) - 15 / 16)
    values = [best_of_n_kl(n) for n in range(1, 64)]
    assert np.all(np.diff(values) > 0)
    with pytest.raises(ConfigError, match="n must be ≥ 1"):
        best_of_n_kl(0)


def test_expected_best_of_k_matches_brute_force():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, size=(4, 5)).astype(np.float32)  # many ties
    gold = rng.normal(size=(4, 5))
    for k in range(1, 6):
        weights = expected_best_of(scores, k)
        assert np.allclose(weights.sum(1), 1.0)
        for row in range(4):
            picks = [subset[int(np.argmax(scores[row, list(subset)]))]
                     for subset in itertools.combinations(range(5), k)]
            brute = np.mean([gold[row, j] for j in picks])
            assert (weights[row] * gold[row]).sum() == pytest.approx(brute)
    with pytest.raises(ConfigError, match=r"k must lie in \[1, 5\]"):
        expected_best_of(scores, 6)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda lm, core, tok, cfg: best_of_n_baseline(lm, core, 0, config=cfg), ConfigError,
     "n must be ≥ 1"),
    (lambda lm, core, tok, cfg: best_of_n(lm, tok, [], "keyword", 4, cfg), PromptError,
     "at least one prompt"),
    (lambda lm, core, tok, cfg: best_of_n_baseline(lm, core, 2, num_prompts=7, config=cfg),
     ConfigError, r"num_prompts must lie in \[1, 6\]"),
    (lambda lm, core, tok, cfg: best_of_n_baseline(lm, core, 2,
                                                   config=BestOfNConfig(max_new_tokens=8)),
     ConfigError, "exceeds the env's max_response_tokens=4"),
    (lambda lm, core, tok, cfg: best_of_n_baseline(lm, object(), 2), ConfigError,
     "expected an RLHF-Text-v0 or RLHF-TextToken-v0 env"),
    (lambda lm, core, tok, cfg: best_of_n(lm, tok, ["hi"], "keyword", 2,
                                          BestOfNConfig(allowed_token_ids=(5000,))),
     ConfigError, r"allowed_token_ids must lie in \[0, 2047\]"),
], ids=["n=0", "no-prompts", "too-many-prompts", "too-long", "not-an-env", "bad-token-id"])
def test_bad_input_raises(lm, core, tiny_tok, config, call, error, match):
    with pytest.raises(error, match=match):
        call(lm, core, tiny_tok, config)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"temperature": 0.0}, "temperature must be > 0"),
    ({"top_p": 0.0}, r"top_p must lie in \(0, 1\]"),
    ({"top_k": -1}, "top_k must be ≥ 0"),
    ({"batch_size": 0}, "batch_size must be ≥ 1"),
    ({"max_new_tokens": 0}, "max_new_tokens must be ≥ 1"),
    ({"allowed_token_ids": ()}, "at least one token"),
])
def test_config_is_validated(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BestOfNConfig(**kwargs)


def test_sampling_is_seeded(lm, core, config):
    a = best_of_n_baseline(lm, core, 2, config=config)
    b = best_of_n_baseline(lm, core, 2, config=config)
    c = best_of_n_baseline(lm, core, 2, config=BestOfNConfig(
        max_new_tokens=4, allowed_token_ids=config.allowed_token_ids, seed=1))
    assert a.samples == b.samples and a.samples != c.samples


def test_docstring_examples():
    import doctest

    import agents.best_of_n

    result = doctest.testmod(agents.best_of_n)
    assert result.attempted > 0 and result.failed == 0


def test_draws_equal_the_ppo_trainers_rollout(lm, tiny_tok, config):
    """Same prompts, seed and batch: best-of-n's single draws are the trainer's rollout."""
    import gymnasium as gym

    import rlhf_env  # noqa: F401
    from agents.token_ppo import TokenPPOTrainer

    ppo = TokenPPOConfig(model="tiny-random-llama", task="keyword", batch_size=8,
                         minibatch_size=8, max_new_tokens=4, temperature=1.3, top_k=8,
                         allowed_token_ids=config.allowed_token_ids, progress_bar=False)
    env = gym.make_vec("RLHF-Text-v0", num_envs=8, task="keyword", model="tiny-random-llama",
                       prompts=PROMPTS, max_prompt_tokens=32, max_response_tokens=4)
    rollout = TokenPPOTrainer(ppo, env=env, policy=lm).collect_rollout()
    env.close()
    bon = best_of_n(lm, tiny_tok, rollout.prompts, "keyword", 1,
                    dataclasses.replace(BestOfNConfig.from_ppo(ppo), batch_size=8))
    assert [s[0] for s in bon.samples] == rollout.responses
    assert np.allclose(bon.sample_scores[:, 0], rollout.scores.numpy())


def test_a_policy_with_a_smaller_vocabulary_is_refused(core):
    from rlhf_env.models import tiny_causal_lm

    with pytest.raises(ConfigError, match="100 token embeddings"):
        best_of_n_baseline(tiny_causal_lm(vocab_size=100), core, 2)
