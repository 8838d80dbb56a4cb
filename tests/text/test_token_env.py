"""RLHF-TextToken-v0: one token per step, per-token KL, the final score, the batched version."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlhf_env import check_rlhf_env
from rlhf_env.errors import InvalidActionError
from rlhf_env.text.spaces import TokenDiscrete
from rlhf_env.text.token_env import TextTokenEnv
from rlhf_env.text.token_vector import TextTokenVectorEnv
from tests.text.helpers import CountingReward, word_ids

KW = {"model": "tiny-random-llama", "task": "keyword", "gold": None, "max_response_tokens": 4,
      "max_prompt_tokens": 32, "action_vocab": "task"}


class FixedReward:
    """Scores every response 10 and records each call's batch size."""

    name = "fixed"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score(self, prompts, responses) -> np.ndarray:
        self.calls.append(len(responses))
        return np.full(len(responses), 10.0, dtype=np.float32)


def make(**kwargs) -> gym.Env:
    return gym.make("RLHF-TextToken-v0", **{**KW, **kwargs})


def action_of(env, token_id: int) -> int:
    """The action index that spells ``token_id``."""
    ids = env.unwrapped.action_space.token_ids
    return token_id if ids is None else ids.index(token_id)


def not_eos_actions(env) -> list[int]:
    core = env.unwrapped.core
    return [a for a in range(core.vocab.size) if a != core.vocab.eos_action]


def test_spaces_hold_prompt_plus_response_and_one_token():
    env = make()
    obs_space = env.observation_space
    assert isinstance(obs_space, spaces.Dict)
    for key in ("input_ids", "attention_mask"):
        assert obs_space[key].shape == (36,) and obs_space[key].dtype == np.int64
    core = env.unwrapped.core
    assert isinstance(env.action_space, TokenDiscrete)
    assert env.action_space.n == core.vocab.size < len(core.tokenizer)
    assert list(env.action_space.token_ids) == core.vocab.token_ids.tolist()
    full = make(action_vocab=None)
    assert full.action_space.n == len(core.tokenizer) and full.action_space.token_ids is None


def test_observation_is_the_left_padded_context():
    env = make()
    obs, info = env.reset(seed=3)
    prompt = env.unwrapped.core.encode_prompt(info["prompt_index"])[0]
    great, day = word_ids(env, ["great", "day"])
    for token in (great, day):
        obs, *_ = env.step(action_of(env, token))
    n = prompt.size + 2
    np.testing.assert_array_equal(obs["input_ids"][-n:], [*prompt, great, day])
    np.testing.assert_array_equal(obs["attention_mask"], [0] * (36 - n) + [1] * n)


def test_the_checker_contracts_hold_over_a_whole_episode():
    from rlhf_env import checker

    env = make(gold=lambda p, r: [1.0] * len(r), kl_coef=0.1)
    checker.check_observation_space(env.observation_space)
    checker.check_action_space(env.action_space)
    pad = env.unwrapped.core.tokenizer.pad_token_id
    obs, _ = env.reset(seed=0)
    done, info = False, {}
    while not done:
        checker.check_observation(obs, env.observation_space, pad, "reset()/step()")
        obs, reward, terminated, truncated, info = env.step(not_eos_actions(env)[3])
        checker.check_reward(reward, "step()")
        done = terminated or truncated
    checker.check_step_info(info, True, "step()")
    checker.check_determinism(env, seed=0)


@pytest.mark.parametrize("vector", [False, True])
def test_check_rlhf_env_passes(vector):
    env = (gym.make_vec("RLHF-TextToken-v0", num_envs=2, **KW) if vector
           else make())
    check_rlhf_env(env, warn=False)


def test_gymnasium_and_sb3_checkers_pass():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no checker warning either
        check_env(make(render_mode="ansi").unwrapped)
        check_env(make(action_vocab=None, kl_coef=0.1).unwrapped)
        sb3_check_env(make(), warn=True)
    assert isinstance(make().unwrapped, TextTokenEnv)


def test_eos_terminates_and_the_limit_truncates():
    env = make()
    core = env.unwrapped.core
    env.reset(seed=0)
    _, _, terminated, truncated, info = env.step(core.vocab.eos_action)
    assert (terminated, truncated) == (True, False)
    assert info["response"] == "" and info["response_tokens"] == 1
    assert not info["hit_token_limit"]
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
    env.reset(seed=0)
    ends = [env.step(not_eos_actions(env)[0])[2:4] for _ in range(4)]
    assert ends == [(False, False)] * 3 + [(False, True)]


def _naive_logprobs(model, context: list[int], response: list[int]) -> list[float]:
    ids = torch.tensor([context + response])
    with torch.no_grad():
        logp = model(ids).logits.log_softmax(-1)[0]
    p = len(context)
    return [float(logp[p - 1 + t, tok]) for t, tok in enumerate(response)]


def test_per_token_reward_is_the_reference_logprob_and_the_score_comes_once(tiny_lm):
    reward = FixedReward()
    env = make(reward_model=reward, kl_coef=0.5, reference_model=tiny_lm)
    _, info0 = env.reset(seed=1)
    tokens = [*word_ids(env, ["great", "food", "love"]), env.unwrapped.core.vocab.eos_id]
    rewards, infos = [], []
    for token in tokens:
        _, r, terminated, _, info = env.step(action_of(env, token))
        rewards.append(r)
        infos.append(info)
    prompt = env.unwrapped.core.encode_prompt(info0["prompt_index"])[0].tolist()
    want = 0.5 * np.array(_naive_logprobs(tiny_lm, prompt, tokens))
    want[-1] += 10.0
    np.testing.assert_allclose(rewards, want, rtol=1e-4, atol=1e-4)
    assert terminated and reward.calls == [1]
    assert [i["token"] for i in infos] == tokens and "score" not in infos[0]
    end = infos[-1]
    assert end["score"] == 10.0 and end["response"] == "great food love"
    assert end["kl_term"] == pytest.approx(sum(want) - 10.0, rel=1e-4)
    assert end["ref_logprob"] == pytest.approx(2 * end["kl_term"], rel=1e-6)


def test_no_kl_means_zero_step_rewards_and_gold_in_the_final_info():
    env = make(reward_model=FixedReward(), gold=lambda p, r: [float(len(x)) for x in r])
    env.reset(seed=0)
    steps = [env.step(not_eos_actions(env)[1]) for _ in range(4)]
    assert [s[1] for s in steps] == [0.0, 0.0, 0.0, 10.0]
    end = steps[-1][4]
    assert end["kl_term"] == 0.0 and end["gold_score"] == float(len(end["response"]))
    assert end["hit_token_limit"] and end["response_tokens"] == 4


def test_same_seed_same_prompt_and_rewards_other_seed_other_prompt():
    def run(seed: int):
        env = make()
        obs, _ = env.reset(seed=seed)
        return obs["input_ids"], [env.step(a)[1] for a in (5, 9, 2)]

    a, b, c = run(0), run(0), run(7)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    assert not np.array_equal(a[0], c[0])


def test_prompt_index_option_and_bad_options():
    env = make()
    _, info = env.reset(options={"prompt_index": 4})
    assert info["prompt_index"] == 4
    with pytest.raises(ValueError, match="outside"):
        env.reset(options={"prompt_index": 10_000})
    with pytest.raises(ValueError, match="only option"):
        env.reset(options={"prompt": "hi"})


@pytest.mark.parametrize(("action", "message"), [
    (10_000, r"outside \[0, \d+\]"),
    (-1, "outside"),
    (1.0, "dtype float64"),
    ("a", "dtype <U1"),
    (np.array([1, 2]), r"shape \(2,\)"),
])
def test_bad_actions_raise_clear_errors(action, message):
    env = make()
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=message):
        env.step(action)


def test_vector_env_rejects_bad_actions():
    venv = gym.make_vec("RLHF-TextToken-v0", num_envs=2, **KW)
    venv.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"expected \(2,\)"):
        venv.step(np.array([1, 2, 3]))
    with pytest.raises(InvalidActionError, match="outside"):
        venv.step(np.array([1, 10_000]))


def _actions(rng, eos: int, steps: int, n: int) -> np.ndarray:
    """Random actions with EOS now and then, so episodes end at different steps."""
    acts = rng.integers(0, 20, (steps, n))
    acts[rng.random((steps, n)) < 0.3] = eos
    return acts


def test_vector_env_equals_single_envs_and_scores_once_per_step(tiny_lm):
    reward, n, steps = FixedReward(), 3, 9
    kwargs = {**KW, "kl_coef": 0.1, "reference_model": tiny_lm}
    venv = gym.make_vec("RLHF-TextToken-v0", num_envs=n, reward_model=reward, **kwargs)
    assert isinstance(venv, TextTokenVectorEnv)
    acts = _actions(np.random.default_rng(0), venv.core.vocab.eos_action, steps, n)
    vobs, _ = venv.reset(seed=10)
    singles = [make(reward_model=FixedReward(), **kwargs) for _ in range(n)]
    sobs = [env.reset(seed=10 + i)[0] for i, env in enumerate(singles)]
    for i in range(n):
        np.testing.assert_array_equal(vobs["input_ids"][i], sobs[i]["input_ids"])
    ended_per_step = []
    for t in range(steps):
        vobs, vrew, vterm, vtrunc, vinfo = venv.step(acts[t])
        ended_per_step.append(int((vterm | vtrunc).sum()))
        for i, env in enumerate(singles):
            obs, r, term, trunc, info = env.step(acts[t, i])
            assert (term, trunc) == (vterm[i], vtrunc[i])
            assert r == pytest.approx(float(vrew[i]), abs=1e-5)
            if term or trunc:
                final = vinfo["final_info"]
                assert final["response"][i] == info["response"]
                np.testing.assert_array_equal(vinfo["final_obs"][i]["input_ids"],
                                              obs["input_ids"])
                obs, _ = env.reset()
            np.testing.assert_array_equal(vobs["input_ids"][i], obs["input_ids"])
    assert sum(ended_per_step) > n  # episodes ended, at different steps
    assert reward.calls == [k for k in ended_per_step if k]  # one call per step, batched


def test_vector_env_works_through_the_sb3_adapter():
    from agents.sb3 import RLHFVecEnv

    venv = RLHFVecEnv(gym.make_vec("RLHF-TextToken-v0", num_envs=2, **KW))
    venv.seed(0)
    obs = venv.reset()
    not_eos = [a for a in range(venv.action_space.n)
               if a != venv.venv.core.vocab.eos_action][:2]
    for step in range(4):
        obs, _, dones, infos = venv.step(np.array(not_eos))
        assert dones.tolist() == [step == 3] * 2
    assert infos[0]["TimeLimit.truncated"] and infos[0]["episode"]["l"] == 4
    assert infos[0]["terminal_observation"]["attention_mask"].sum() > obs["attention_mask"][0].sum()
    assert "response" in infos[0] and "score" in infos[0]


def test_render_shows_the_response_so_far_and_the_end():
    env = make(render_mode="ansi")
    env.reset(seed=0)
    great = word_ids(env, ["great"])[0]
    env.step(action_of(env, great))
    assert "SO FAR   'great'" in env.render()
    env.step(env.unwrapped.core.vocab.eos_action)
    assert "RESPONSE 'great'" in env.render() and "score" in env.render()


def test_counting_reward_sees_decoded_text():
    reward = CountingReward()
    env = make(reward_model=reward)
    env.reset(seed=0)
    great = word_ids(env, ["great"])[0]
    total = sum(env.step(action_of(env, great))[1] for _ in range(4))
    assert total == 4.0 and reward.calls == [1]


def test_docstring_example_runs():
    import doctest

    from rlhf_env.text import token_env

    result = doctest.testmod(token_env)
    assert result.attempted > 0 and result.failed == 0


def _kl_vec(tiny_lm, n=3, **kwargs):
    return gym.make_vec("RLHF-TextToken-v0", num_envs=n, **{
        **KW, "kl_coef": 1.0, "reference_model": tiny_lm, "reward_model": FixedReward(),
        "max_prompt_tokens": 64, **kwargs})


def test_kv_cache_gives_the_full_forward_logprobs_with_one_token_forwards(tiny_lm):
    cached, full = _kl_vec(tiny_lm), _kl_vec(tiny_lm)
    full.episodes.cache = None  # the reference path without a cache: full contexts each step
    lengths: list[int] = []
    hook = tiny_lm.register_forward_pre_hook(
        lambda _, args, kwargs: lengths.append(kwargs["input_ids"].shape[1]), with_kwargs=True)
    acts = _actions(np.random.default_rng(1), cached.core.vocab.eos_action, 14, 3)
    try:
        cached.reset(seed=4)
        full.reset(seed=4)
        calls, width = [], []
        for t in range(14):
            before = len(lengths)
            _, r_cached, *_ = cached.step(acts[t])
            calls.append(lengths[before:])
            width.append(cached.episodes.cache.mask.shape[1])
            _, r_full, *_ = full.step(acts[t])
            np.testing.assert_allclose(r_cached, r_full, rtol=1e-4, atol=1e-4)
    finally:
        hook.remove()
    # per step: at most one prefill of the rows that started a prompt, one length-1 forward
    assert all(len(c) <= 2 and sum(n > 1 for n in c) <= 1 for c in calls)
    assert sum(n == 1 for c in calls for n in c) >= 10
    assert max(width) <= 64 + 4 + 1  # leading columns no row uses are dropped


def test_kv_cache_falls_back_to_full_forwards_for_unknown_cache_layouts(tiny_lm, monkeypatch):
    from rlhf_env.text import reference as reference_module

    reference = _kl_vec(tiny_lm, n=2)
    reference.reset(seed=0)
    want = reference.step(np.array([3, 5]))[1]
    monkeypatch.setattr(reference_module, "kv_layers", lambda cache: None)
    venv = _kl_vec(tiny_lm, n=2)
    scorer = venv.unwrapped.core.reference  # shared: restore its prompt cache after the test
    monkeypatch.setattr(scorer, "prefix_cache_size", scorer.prefix_cache_size)
    venv.reset(seed=0)
    np.testing.assert_allclose(venv.step(np.array([3, 5]))[1], want, rtol=1e-4, atol=1e-4)
    assert venv.episodes.cache is None
