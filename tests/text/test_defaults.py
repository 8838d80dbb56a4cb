"""The package's headline, on the real bundled models: ``gym.make("RLHF-Text-v0")`` with no
arguments (SmolLM2 tokenizer, learned MiniLM sentiment reward, VADER gold), offline.

It starts from an empty (test-private) cache, as a new user does: without a KL term the env
needs only the tokenizer, which is read from the GGUF file alone (~10 s), not the whole
135M conversion.
"""

from __future__ import annotations

import gymnasium as gym

import rlhf_env  # noqa: F401
from rlhf_env.models import cache_root


def test_default_env_works_offline_with_no_arguments():
    env = gym.make("RLHF-Text-v0")
    models = cache_root() / "models"
    assert not (models / "smollm2-135m-instruct").exists(), "converted the 135M model"
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
