"""CausalLMPolicy: stock SB3 PPO / A2C over a causal LM on RLHF-TextToken-v0."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.vec_env import DummyVecEnv

import rlhf_env  # noqa: F401  (registers the ids)
from agents.lm_policy import CausalLMPolicy, token_inputs
from rlhf_env.errors import ConfigError
from tests.agents.conftest import TINY_KWARGS

TOKEN_ID = "RLHF-TextToken-v0"
LM = {"model": "tiny-random-llama"}


def _params(policy) -> list[torch.Tensor]:
    return [p.detach().clone() for p in policy.parameters()]


def _changed(before, policy) -> tuple[bool, bool]:
    """(some LM weight changed, the value head changed)."""
    after = dict(policy.named_parameters())
    moved = {name for (name, p), old in zip(after.items(), before, strict=True)
             if not torch.equal(p.detach(), old)}
    return any(n.startswith("lm.") for n in moved), any(n.startswith("value_net") for n in moved)


def _naive_probs(lm, ids: np.ndarray, mask: np.ndarray, token_ids) -> torch.Tensor:
    """Softmax of the LM's next-token logits over ``token_ids``, context without padding."""
    context = torch.tensor(ids[mask.astype(bool)])[None]
    with torch.no_grad():
        logits = lm(context).logits[0, -1]
    return logits[list(token_ids)].softmax(-1) if token_ids is not None else logits.softmax(-1)


@pytest.mark.parametrize("action_vocab", [TINY_KWARGS["action_vocab"], None])
def test_initial_policy_is_the_lms_softmax_over_the_action_vocabulary(action_vocab):
    env = gym.make(TOKEN_ID, **{**TINY_KWARGS, "action_vocab": action_vocab})
    policy = PPO(CausalLMPolicy, env, policy_kwargs=LM, seed=0, n_steps=8, batch_size=8).policy
    env.reset(seed=0)
    great = env.unwrapped.core.tokenizer.encode(" great", add_special_tokens=False)[0]
    obs, _, _, _, _ = env.step(env.action_space.token_ids.index(great) if action_vocab
                               else great)
    obs_t, _ = policy.obs_to_tensor(obs)
    with torch.no_grad():
        probs = policy.get_distribution(obs_t).distribution.probs[0]
        floats = policy.get_distribution(
            {k: v.float() for k, v in obs_t.items()}).distribution.probs[0]
    want = _naive_probs(policy.lm, obs["input_ids"], obs["attention_mask"],
                        env.action_space.token_ids)
    assert probs.shape == (env.action_space.n,)
    torch.testing.assert_close(probs, want, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(floats, probs)  # ids stored as floats come back exact


def test_left_padding_and_positions_come_from_the_mask():
    obs = {"input_ids": torch.tensor([[0, 0, 5, 6], [1, 2, 3, 4]]),
           "attention_mask": torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])}
    ids, mask, positions = token_inputs(obs)
    assert positions.tolist() == [[0, 0, 0, 1], [0, 1, 2, 3]]
    assert ids.dtype == mask.dtype == torch.long


def test_ppo_trains_the_lm_and_value_head_through_the_batched_vector_env(make_env):
    venv = make_env(num_envs=4, env_id=TOKEN_ID)
    model = PPO(CausalLMPolicy, venv, policy_kwargs=LM, n_steps=8, batch_size=16, n_epochs=2,
                learning_rate=1e-3, seed=0)
    before = _params(model.policy)
    model.learn(32)
    assert _changed(before, model.policy) == (True, True)
    values = model.rollout_buffer.values
    assert np.isfinite(values).all() and model.rollout_buffer.observations[
        "input_ids"].dtype == np.int64


def test_a2c_trains_on_single_token_envs_in_a_dummy_vec_env():
    venv = DummyVecEnv([lambda: gym.make(TOKEN_ID, **TINY_KWARGS) for _ in range(2)])
    model = A2C(CausalLMPolicy, venv, policy_kwargs=LM, n_steps=4, seed=0)
    before = _params(model.policy)
    model.learn(16)
    assert _changed(before, model.policy) == (True, True)
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (2,) and ((action >= 0) & (action < venv.action_space.n)).all()


def test_value_is_a_head_on_the_shared_trunk():
    env = gym.make(TOKEN_ID, **TINY_KWARGS)
    policy = PPO(CausalLMPolicy, env, policy_kwargs=LM, n_steps=8, batch_size=8).policy
    obs_t, _ = policy.obs_to_tensor(env.reset(seed=0)[0])
    with torch.no_grad():
        policy.value_net.weight.fill_(0.01)
    policy.predict_values(obs_t).sum().backward()
    grads = [p.grad for n, p in policy.named_parameters() if n.startswith("lm.")]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_a_passed_model_object_and_explicit_token_ids_are_used(tiny_lm):
    env = gym.make(TOKEN_ID, **TINY_KWARGS)
    ids = list(env.action_space.token_ids)
    space = spaces.Discrete(len(ids))  # a plain Discrete: token ids come from the kwarg
    policy = CausalLMPolicy(env.observation_space, space, lambda _: 1e-3, model=tiny_lm,
                            action_token_ids=ids)
    assert policy.lm is tiny_lm and policy.action_token_ids.tolist() == ids


@pytest.mark.parametrize(("space", "kwargs", "message"), [
    (spaces.MultiDiscrete([3, 3]), {}, "Discrete action space"),
    (spaces.Discrete(3), {"action_token_ids": [1, 2]}, "2 entries for 3 actions"),
    (spaces.Discrete(3), {"action_token_ids": [1, 2, 99_999]}, "outside the LM's vocabulary"),
    (spaces.Discrete(99_999), {}, "restricted"),
])
def test_bad_configurations_fail_clearly(space, kwargs, message, tiny_lm):
    env = gym.make(TOKEN_ID, **TINY_KWARGS)
    with pytest.raises(ConfigError, match=message):
        CausalLMPolicy(env.observation_space, space, lambda _: 1e-3, model=tiny_lm, **kwargs)


def test_an_lm_with_a_smaller_vocabulary_than_the_env_is_rejected():
    from rlhf_env.models import tiny_causal_lm

    env = gym.make(TOKEN_ID, **TINY_KWARGS)
    small = tiny_causal_lm(vocab_size=1000)
    with pytest.raises(ConfigError, match="share the env's tokenizer"):
        CausalLMPolicy(env.observation_space, spaces.Discrete(5), lambda _: 1e-3, model=small,
                       action_token_ids=[1, 2, 3, 4, 5])
    box = spaces.Box(0, 1, (4,))
    with pytest.raises(ConfigError, match="Dict observation space"):
        CausalLMPolicy(box, spaces.Discrete(5), lambda _: 1e-3, model=small,
                       action_token_ids=[1, 2, 3, 4, 5])


def test_save_pretrained_exports_a_policy_folder(tmp_path):
    import json

    from transformers import AutoModelForCausalLM

    from agents.token_ppo import PolicyWithValue
    from rlhf_env.text.core import text_core

    env = gym.make(TOKEN_ID, **TINY_KWARGS)
    policy = PPO(CausalLMPolicy, env, policy_kwargs=LM, n_steps=8, batch_size=8).policy
    with torch.no_grad():
        policy.value_net.weight.normal_()
    policy.save_pretrained(tmp_path / "policy", text_core(env).tokenizer)
    info = json.loads((tmp_path / "policy" / "rlhf_env_policy.json").read_text())
    assert info["base_model"] == {"kind": "bundled", "location": "tiny-random-llama"}
    assert info["action_token_ids"] == policy.action_token_ids.tolist()
    ids = torch.tensor([[3, 14, 15]])
    with torch.no_grad():
        plain = AutoModelForCausalLM.from_pretrained(tmp_path / "policy")(input_ids=ids).logits
        torch.testing.assert_close(plain, policy.lm(input_ids=ids).logits)
    loaded = PolicyWithValue.from_pretrained(tmp_path / "policy")
    torch.testing.assert_close(loaded.value_head.weight, policy.value_net.weight)
