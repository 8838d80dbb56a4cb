"""RLHF-Text-v0's ``frozen_precision``: the reference and the encoder-head reward model run at
the asked precision (converted copies, shared by the envs that ask for them), the gold
scorer and other reward models stay as given, and the scores and reference log-probs stay
within documented bounds of the float32 env on the tiny models."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlhf_env  # noqa: F401
from rlhf_env.errors import ConfigError
from rlhf_env.models import model_precision
from rlhf_env.rewards.encoder_head import EncoderHeadReward
from rlhf_env.text.core import text_core
from tests.text.helpers import CountingReward

BOUNDS = {"bfloat16": {"score": 0.05, "ref_logprob": 0.05},
          "int8": {"score": 0.02, "ref_logprob": 0.1}}
"""Largest allowed abs difference from the float32 env per response (6 tokens; measured on
these tiny models: bfloat16 0.001 score / 0.005 log-prob, int8 0.0002 / 0.011)."""


@pytest.fixture(scope="module")
def reward_model():
    torch.manual_seed(0)
    return EncoderHeadReward(backbone="tiny-random-bert", input_format="response")


def _env(reward_model, **kwargs):
    return gym.make_vec("RLHF-Text-v0", num_envs=8, task="keyword", model="tiny-random-llama",
                        reward_model=reward_model, kl_coef=0.1, max_response_tokens=6,
                        **kwargs)


def _step(env):
    env.reset(seed=0, options={"prompt_index": [i % 3 for i in range(8)]})
    actions = np.random.default_rng(0).integers(3, 2000, (8, 6))
    final = env.step(actions)[-1]["final_info"]
    return np.asarray(final["score"]), np.asarray(final["ref_logprob"])


@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_frozen_models_run_at_the_precision_within_bounds(reward_model, precision):
    base, fast = _env(reward_model), _env(reward_model, frozen_precision=precision)
    core = text_core(fast)
    assert model_precision(core.reference.model) == precision
    assert core.reward_model is not reward_model
    assert model_precision(core.reward_model.encoder) == precision
    assert model_precision(reward_model.encoder) == "float32"  # the caller's model as it was
    assert model_precision(text_core(base).reference.model) == "float32"
    (s0, r0), (s1, r1) = _step(base), _step(fast)
    assert 0 < np.abs(r1 - r0).max() < BOUNDS[precision]["ref_logprob"]
    assert np.abs(s1 - s0).max() < BOUNDS[precision]["score"]


def test_envs_share_one_converted_copy(reward_model):
    a = text_core(_env(reward_model, frozen_precision="bfloat16"))
    b = text_core(_env(reward_model, frozen_precision="bfloat16"))
    assert a.reward_model is b.reward_model
    assert a.reference.model is b.reference.model


def test_other_reward_models_and_the_gold_stay_as_given(reward_model):
    counting = CountingReward()
    env = gym.make("RLHF-Text-v0", task="keyword", model="tiny-random-llama",
                   reward_model=counting, gold=reward_model, frozen_precision="int8",
                   max_response_tokens=4)
    core = text_core(env)
    assert core.reward_model is counting  # nothing to convert in a rule or a callable
    assert core.gold is reward_model  # the independent judge is never converted
    assert model_precision(core.gold.encoder) == "float32"


def test_an_unknown_precision_is_refused():
    with pytest.raises(ConfigError, match="frozen_precision must be one of 'float32', "
                                          "'bfloat16', 'int8'"):
        gym.make("RLHF-Text-v0", model="tiny-random-llama", task="keyword",
                 frozen_precision="fp16")
