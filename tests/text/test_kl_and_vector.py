"""The KL term against a reference model, and the batched vector env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlhf_env.errors import ConfigError
from rlhf_env.text.reference import ReferenceScorer
from tests.text.helpers import TINY, CountingReward, make_env, token_action, word_ids


def _naive_logprob(model, prompt_ids, response_ids) -> float:
    ids = torch.tensor([list(prompt_ids) + list(response_ids)])
    with torch.no_grad():
        logp = model(ids).logits.log_softmax(-1)[0]
    p = len(prompt_ids)
    return float(sum(logp[p - 1 + t, tok] for t, tok in enumerate(response_ids)))


def test_reference_logprobs_match_an_unbatched_forward(tiny_lm):
    scorer = ReferenceScorer(tiny_lm, pad_id=0, vocab_size=2048, batch_size=3)
    rng = np.random.default_rng(0)
    prompts = [rng.integers(3, 2048, n) for n in (5, 9, 2, 7)]
    responses = [rng.integers(3, 2048, n) for n in (4, 0, 6, 1)]
    got = scorer.sequence_logprobs(prompts, responses)
    want = [_naive_logprob(tiny_lm, p, r) for p, r in zip(prompts, responses, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert got[1] == 0.0  # empty response
    assert (got[[0, 2, 3]] < 0).all()


def test_kl_term_is_added_to_the_reward(tiny_lm):
    env = make_env(reward_model=CountingReward(), action_vocab="task", kl_coef=0.5,
                   reference_model=tiny_lm)
    _, info0 = env.reset(seed=0)
    words = word_ids(env, ["great", "day"])
    _, r, _, _, info = env.step(token_action(env, words))
    core = env.unwrapped.core
    prompt_ids = core.encode_prompt(info0["prompt_index"])[0]
    expected_ref = _naive_logprob(tiny_lm, prompt_ids, [*words, core.vocab.eos_id])
    assert info["ref_logprob"] == pytest.approx(expected_ref, rel=1e-4)
    assert info["kl_term"] == pytest.approx(0.5 * expected_ref, rel=1e-4)
    assert r == pytest.approx(info["score"] + info["kl_term"], rel=1e-5)


def test_a_reference_given_with_kl_coef_0_is_measured_not_penalised(tiny_lm):
    env = make_env(reward_model=CountingReward(), action_vocab="task",
                   reference_model=tiny_lm)  # kl_coef = 0
    _, info0 = env.reset(seed=0)
    words = word_ids(env, ["great", "day"])
    _, r, _, _, info = env.step(token_action(env, words))
    core = env.unwrapped.core
    prompt_ids = core.encode_prompt(info0["prompt_index"])[0]
    expected_ref = _naive_logprob(tiny_lm, prompt_ids, [*words, core.vocab.eos_id])
    assert info["ref_logprob"] == pytest.approx(expected_ref, rel=1e-4)
    assert info["kl_term"] == 0.0 and info["kl_coef"] == 0.0 and r == info["score"]
    bare = make_env(reward_model=CountingReward(), action_vocab="task")
    bare.reset(seed=0)
    info = bare.step(token_action(bare, words))[4]
    assert "ref_logprob" not in info and info["kl_coef"] == 0.0  # no reference model


def test_reference_with_a_smaller_vocabulary_is_rejected():
    from rlhf_env.models import tiny_causal_lm

    small = tiny_causal_lm(vocab_size=100)
    with pytest.raises(ConfigError, match="share the policy tokenizer"):
        make_env(kl_coef=0.1, reference_model=small)


def test_negative_kl_coef_is_rejected():
    with pytest.raises(ConfigError, match="kl_coef"):
        make_env(kl_coef=-1.0)


def _vec(num_envs=4, **kwargs):
    return gym.make_vec("RLHF-Text-v0", num_envs=num_envs, **{**TINY, **kwargs})


def test_make_vec_uses_the_batched_env_and_one_reward_call_per_step():
    from rlhf_env.text.vector import TextBanditVectorEnv

    reward = CountingReward()
    venv = _vec(8, reward_model=reward, action_vocab="task")
    assert isinstance(venv, TextBanditVectorEnv)
    venv.reset(seed=0)
    venv.action_space.seed(0)
    for _ in range(3):
        obs, rewards, term, trunc, info = venv.step(venv.action_space.sample())
    assert reward.calls == [8, 8, 8]
    assert obs["input_ids"].shape == (8, 64) and rewards.shape == (8,)
    assert term.all() and not trunc.any()
    assert info["_final_info"].all() and len(info["final_info"]["response"]) == 8
    assert info["final_obs"][0]["input_ids"].shape == (64,)


def test_vector_env_matches_single_envs_under_the_same_seeds():
    reward = CountingReward()
    venv = _vec(3, reward_model=reward, action_vocab="task")
    obs, _ = venv.reset(seed=10)
    actions = np.stack([np.full(6, i + 1) for i in range(3)])
    _, rewards, _, _, vinfo = venv.step(actions)
    for i in range(3):
        env = make_env(reward_model=reward, action_vocab="task")
        single_obs, _ = env.reset(seed=10 + i)
        np.testing.assert_array_equal(single_obs["input_ids"], obs["input_ids"][i])
        _, r, *_, sinfo = env.step(actions[i])
        assert r == pytest.approx(rewards[i])
        assert sinfo["response"] == vinfo["final_info"]["response"][i]


def test_vector_env_is_deterministic_and_final_obs_is_the_answered_prompt():
    def run():
        venv = _vec(4, reward_model=CountingReward(), action_vocab="task")
        obs, _ = venv.reset(seed=1)
        venv.action_space.seed(1)
        first = obs["input_ids"].copy()
        _, r, _, _, info = venv.step(venv.action_space.sample())
        finals = np.stack([o["input_ids"] for o in info["final_obs"]])
        return first, finals, r

    a, b = run(), run()
    np.testing.assert_array_equal(a[0], a[1])  # final_obs = the prompts that were answered
    np.testing.assert_array_equal(a[2], b[2])


def test_vector_env_batches_the_reference_forward(tiny_lm, monkeypatch):
    venv = _vec(5, reward_model=CountingReward(), action_vocab="task", kl_coef=0.1,
                reference_model=tiny_lm)
    calls = []
    original = ReferenceScorer._batch

    def spy(self, prompts, responses):
        calls.append(len(prompts))
        return original(self, prompts, responses)

    monkeypatch.setattr(ReferenceScorer, "_batch", spy)
    venv.reset(seed=0)
    _, rewards, *_, info = venv.step(venv.action_space.sample())
    assert calls == [5]
    scores = np.asarray(info["final_info"]["score"])
    kl = np.asarray(info["final_info"]["kl_term"])
    np.testing.assert_allclose(rewards, scores + kl, rtol=1e-5)
    assert (kl < 0).all()


def test_vector_env_rejects_bad_batch_shape():
    from rlhf_env.errors import InvalidActionError

    venv = _vec(2, reward_model=CountingReward(), action_vocab="task")
    venv.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"expected \(2, 6\)"):
        venv.step(np.zeros((3, 6), dtype=np.int64))


def test_reset_options_choose_prompts_in_both_envs():
    env = make_env(reward_model=CountingReward())
    assert env.reset(seed=0, options={"prompt_index": 5})[1]["prompt_index"] == 5
    venv = _vec(3, reward_model=CountingReward())
    assert list(venv.reset(options={"prompt_index": 2})[1]["prompt_index"]) == [2, 2, 2]
    assert list(venv.reset(options={"prompt_index": [0, 1, 4]})[1]["prompt_index"]) == [0, 1, 4]
    with pytest.raises(ValueError, match="only option is 'prompt_index'"):
        venv.reset(options={"prompt": "hi"})
    with pytest.raises(ValueError, match="2 entries for 3 sub-envs"):
        venv.reset(options={"prompt_index": [0, 1]})


def test_prompt_cache_gives_the_same_logprobs_and_skips_prompt_work(tiny_lm):
    rng = np.random.default_rng(1)
    prompts = [rng.integers(3, 2048, n) for n in (6, 3, 6, 9)]
    prompts[2] = prompts[0]  # a repeated prompt
    responses = [rng.integers(3, 2048, n) for n in (4, 2, 5, 1)]
    cached = ReferenceScorer(tiny_lm, pad_id=0, vocab_size=2048)
    plain = ReferenceScorer(tiny_lm, pad_id=0, vocab_size=2048, prefix_cache_size=0)
    want = plain.sequence_logprobs(prompts, responses)
    np.testing.assert_allclose(cached.sequence_logprobs(prompts, responses), want, rtol=1e-5,
                               atol=1e-5)
    assert len(cached._prefixes) == 3 and not plain._prefixes
    seen = []
    handle = tiny_lm.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["input_ids"].shape), with_kwargs=True)
    try:
        again = cached.sequence_logprobs(prompts, responses)
    finally:
        handle.remove()
    np.testing.assert_allclose(again, want, rtol=1e-5, atol=1e-5)
    assert seen == [(4, 5)]  # one forward over the responses only: prompts came from the cache


def test_prompt_cache_is_bounded(tiny_lm):
    scorer = ReferenceScorer(tiny_lm, pad_id=0, vocab_size=2048, prefix_cache_size=2)
    for n in range(3, 8):
        scorer.sequence_logprobs([np.arange(1, n)], [np.array([5, 6])])
    assert len(scorer._prefixes) == 2
    with pytest.raises(ConfigError, match="prefix_cache_size"):
        ReferenceScorer(tiny_lm, pad_id=0, vocab_size=2048, prefix_cache_size=-1)


def test_envs_on_one_reference_model_share_its_prompt_cache(tiny_lm):
    a = make_env(reward_model=CountingReward(), kl_coef=0.1, reference_model=tiny_lm)
    b = make_env(reward_model=CountingReward(), kl_coef=0.1, reference_model=tiny_lm)
    assert a.unwrapped.core.reference is b.unwrapped.core.reference
