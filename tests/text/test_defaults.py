"""The no-argument default: SmolLM2 tokenizer, learned sentiment reward, VADER gold.

Slow: it converts the bundled 135M GGUF into the (test-private) cache. Run with `-m slow`.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import rlhf_env  # noqa: F401


@pytest.mark.slow
def test_default_env_works_offline_with_no_arguments():
    env = gym.make("RLHF-Text-v0")
    obs, _ = env.reset(seed=0)
    assert obs["input_ids"].shape == (64,)
    assert int(env.action_space.nvec[0]) == 49152
    core = env.unwrapped.core
    positive = [core.tokenizer.encode(" wonderful", add_special_tokens=False)[0]]
    action = env.action_space.sample() * 0 + core.vocab.eos_action
    action[0] = positive[0]
    _, _, terminated, _, step_info = env.step(action)
    assert terminated and step_info["response"] == "wonderful"
    assert step_info["gold_score"] > 0.3 and step_info["score"] > 0
    env.reset(seed=0)
    action[0] = core.tokenizer.encode(" awful", add_special_tokens=False)[0]
    bad = env.step(action)[4]
    assert bad["score"] < step_info["score"] and bad["gold_score"] < 0
