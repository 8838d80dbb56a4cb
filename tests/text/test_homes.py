"""The shared homes of the text envs' mechanisms: left padding, prompt picking, config from
keyword arguments, the core accessor, and the one judge of finished episodes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rlhf_env.errors import ConfigError
from rlhf_env.text import text_core
from rlhf_env.text.core import TextBanditCore, TextEnvConfig
from rlhf_env.text.prompts import PromptSource, pick_prompts
from rlhf_env.text.spaces import left_pad
from tests.text.helpers import TINY, CountingReward, make_env, token_action


# -- left_pad -------------------------------------------------------------------------------
def test_left_pad_right_aligns_rows_and_masks_the_padding():
    ids, mask = left_pad([[5, 6, 7], np.array([8]), []], pad_id=0)
    assert ids.dtype == mask.dtype == np.int64
    np.testing.assert_array_equal(ids, [[5, 6, 7], [0, 0, 8], [0, 0, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [0, 0, 1], [0, 0, 0]])


def test_left_pad_to_a_fixed_width_and_a_row_that_does_not_fit():
    ids, mask = left_pad([[1, 2]], pad_id=9, width=4)
    np.testing.assert_array_equal(ids, [[9, 9, 1, 2]])
    np.testing.assert_array_equal(mask, [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="3 tokens does not fit width 2"):
        left_pad([[1, 2, 3]], pad_id=0, width=2)


# -- pick_prompts ---------------------------------------------------------------------------
PROMPTS = PromptSource(["a", "b", "c"])


def _rngs(n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(i) for i in range(n)]


def test_pick_prompts_draws_from_each_generator_without_the_option():
    want = [int(np.random.default_rng(i).integers(3)) for i in range(4)]
    assert pick_prompts(None, PROMPTS, _rngs(4)) == want
    assert pick_prompts({}, PROMPTS, _rngs(4)) == want


@pytest.mark.parametrize(("chosen", "n", "want"), [
    (2, 1, [2]), (np.int64(1), 3, [1, 1, 1]), ([0, 2], 2, [0, 2]),
    (np.array([2, 1, 0]), 3, [2, 1, 0]), (np.array(1), 2, [1, 1])])
def test_pick_prompts_takes_an_int_or_one_index_per_sub_env(chosen, n, want):
    picked = pick_prompts({"prompt_index": chosen}, PROMPTS, _rngs(n))
    assert picked == want
    assert all(type(i) is int for i in picked)


@pytest.mark.parametrize(("options", "n", "match"), [
    ({"prompt": 1}, 1, r"unknown reset option\(s\) \['prompt'\]; the only option is "
                       r"'prompt_index'"),
    ({"prompt_index": 3}, 1, r"options\['prompt_index'\]=3 is outside \[0, 2\]"),
    ({"prompt_index": -1}, 1, r"options\['prompt_index'\]=-1 is outside \[0, 2\]"),
    ({"prompt_index": [0, 5]}, 2, r"=5 is outside \[0, 2\]"),
    ({"prompt_index": 1.0}, 1, "must hold integer prompt indices, got 1.0 \\(float\\)"),
    ({"prompt_index": "1"}, 1, "must hold integer prompt indices, got '1' \\(str\\)"),
    ({"prompt_index": True}, 1, "must hold integer prompt indices, got True \\(bool\\)"),
    ({"prompt_index": [0, 1]}, 3, r"has 2 entries for 3 sub-envs"),
    ({"prompt_index": [0]}, 2, r"has 1 entries for 2 sub-envs"),
], ids=["unknown", "too-large", "negative", "one-of-a-list", "float", "str", "bool",
        "too-few", "list-for-two"])
def test_pick_prompts_rejects_bad_prompt_index_values(options, n, match):
    with pytest.raises(ConfigError, match=match):
        pick_prompts(options, PROMPTS, _rngs(n))


def test_every_text_env_reads_prompt_index_through_pick_prompts():
    kwargs = {**TINY, "reward_model": CountingReward()}
    envs = [gym.make("RLHF-Text-v0", **kwargs), gym.make("RLHF-TextToken-v0", **kwargs),
            gym.make_vec("RLHF-Text-v0", num_envs=2, **kwargs),
            gym.make_vec("RLHF-TextToken-v0", num_envs=2, **kwargs)]
    for env in envs:
        with pytest.raises(ConfigError, match=r"=10000 is outside"):
            env.reset(options={"prompt_index": 10_000})
        with pytest.raises(ConfigError, match="must hold integer prompt indices"):
            env.reset(options={"prompt_index": 0.5})
    _, info = envs[3].reset(options={"prompt_index": [3, 1]})  # one per sub-env, token env too
    assert list(info["prompt_index"]) == [3, 1]


# -- TextEnvConfig.from_kwargs --------------------------------------------------------------
def test_from_kwargs_builds_the_config():
    config = TextEnvConfig.from_kwargs({"task": "keyword", "kl_coef": 0.5})
    assert config == TextEnvConfig(task="keyword", kl_coef=0.5)


def test_from_kwargs_suggests_the_closest_name_for_a_misspelt_keyword():
    with pytest.raises(ConfigError) as err:
        TextEnvConfig.from_kwargs({"max_respons_tokens": 4, "zzz": 1}, "RLHF-TextToken-v0")
    message = str(err.value)
    assert message.startswith("unknown RLHF-TextToken-v0 argument(s): 'max_respons_tokens' "
                              "(did you mean 'max_response_tokens'?), 'zzz'.")
    assert "'zzz' (did you mean" not in message  # no far-fetched suggestion


def test_the_token_envs_name_themselves_in_the_error():
    with pytest.raises(ConfigError, match=r"unknown RLHF-TextToken-v0 argument\(s\): "
                                          r"'kl_cof' \(did you mean 'kl_coef'\?\)"):
        gym.make_vec("RLHF-TextToken-v0", num_envs=2, **TINY, kl_cof=0.1)


# -- text_core ------------------------------------------------------------------------------
def test_text_core_unwraps_every_text_env():
    kwargs = {**TINY, "reward_model": CountingReward()}
    envs = [gym.make("RLHF-Text-v0", **kwargs), gym.make("RLHF-TextToken-v0", **kwargs),
            gym.make_vec("RLHF-Text-v0", num_envs=2, **kwargs),
            gym.make_vec("RLHF-TextToken-v0", num_envs=2, **kwargs)]
    envs.append(gym.wrappers.TransformReward(envs[0], lambda r: 2 * r))
    envs.append(gym.wrappers.vector.TransformReward(envs[2], lambda r: 2 * r))
    for env in envs:
        core = text_core(env)
        assert isinstance(core, TextBanditCore)
        assert core is env.unwrapped.core
        assert text_core(core) is core


@pytest.mark.parametrize("env", [lambda: gym.make("CartPole-v1"), lambda: object()],
                         ids=["cartpole", "object"])
def test_text_core_on_another_env_says_what_to_build(env):
    env = env()
    with pytest.raises(ConfigError, match=(
            rf"expected an RLHF-Text-v0 or RLHF-TextToken-v0 env \(single or vector, wrapped "
            rf"or not\), got {type(env).__name__}, which has no text core; build one with "
            rf"gym.make\('RLHF-Text-v0', ...\)")):
        text_core(env)


# -- one judge for both envs ----------------------------------------------------------------
def test_bandit_and_token_env_give_the_same_episode_info(tiny_lm):
    kwargs = {**TINY, "reward_model": CountingReward(), "kl_coef": 0.1,
              "reference_model": tiny_lm, "action_vocab": "task"}
    bandit = make_env(**kwargs)
    token = gym.make("RLHF-TextToken-v0", **kwargs)
    core = text_core(bandit)
    words = [int(t) for t in core.vocab.token_ids[:3]]
    bandit.reset(options={"prompt_index": 2})
    _, _, _, _, want = bandit.step(token_action(bandit, words))
    token.reset(options={"prompt_index": 2})
    ids = text_core(token).vocab.token_ids.tolist()
    for t in [*words, core.vocab.eos_id]:
        _, _, terminated, _, info = token.step(ids.index(t))
    assert terminated
    assert set(info) - {"token"} == set(want)
    for key in ("prompt", "response", "score", "response_tokens", "hit_token_limit",
                "prompt_index", "prompt_truncated"):
        assert info[key] == want[key], key
    for key in ("kl_term", "ref_logprob"):  # per-token sums vs one forward: float rounding
        assert info[key] == pytest.approx(want[key], rel=1e-4, abs=1e-4), key
