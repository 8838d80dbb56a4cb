"""Bad configurations fail early with messages that say what to change."""

from __future__ import annotations

import pytest

from agents.token_ppo import TokenPPOConfig
from rlhf_env.errors import ConfigError


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch_size": 10, "minibatch_size": 4}, "not divisible by minibatch_size"),
    ({"minibatch_size": 4, "batch_size": 8, "grad_accum_steps": 3}, "grad_accum_steps"),
    ({"advantage": "rloo", "group_size": 1}, "group_size ≥ 2"),
    ({"advantage": "grpo", "group_size": 3, "batch_size": 16}, "group_size=3"),
    ({"advantage": "vtrace"}, "advantage must be one of"),
    ({"kl_estimator": "k9"}, "kl_estimator"),
    ({"temperature": 0.0}, "temperature"),
    ({"top_p": 0.0}, "top_p"),
    ({"top_k": -1}, "top_k"),
    ({"kl_coef": -0.1}, "kl_coef"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"allowed_token_ids": ()}, "allowed_token_ids"),
    ({"lora_r": -2}, "lora_r"),
])
def test_invalid_settings_raise_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TokenPPOConfig(**kwargs)


def test_config_is_frozen_and_defaults_are_valid():
    cfg = TokenPPOConfig()
    with pytest.raises(AttributeError):
        cfg.batch_size = 3  # type: ignore[misc]


def test_tokenizer_without_pad_token_is_handled(make_trainer):
    from rlhf_env.models.tiny import tiny_tokenizer

    raw = tiny_tokenizer()
    assert raw.pad_token is None
    trainer = make_trainer(env_kwargs={"tokenizer": raw})
    assert trainer.tokenizer.pad_token_id == trainer.eos_id  # padded with EOS
    assert trainer.step()["rlhf/response_length"] > 0


def test_tokenizer_without_eos_is_a_clear_error(make_env):
    from agents.token_ppo import TokenPPOTrainer
    from rlhf_env.models import load_causal_lm

    env = make_env(8, 4)
    tokenizer = env.unwrapped.core.tokenizer
    original = tokenizer.eos_token
    tokenizer.eos_token = None
    try:
        with pytest.raises(ConfigError, match="no EOS token"):
            TokenPPOTrainer(TokenPPOConfig(batch_size=8, minibatch_size=4, max_new_tokens=4),
                            env=env, policy=load_causal_lm("tiny-random-llama"))
    finally:
        tokenizer.eos_token = original


def test_reference_with_a_different_vocabulary_is_rejected(make_env):
    from agents.token_ppo import TokenPPOTrainer
    from rlhf_env.models import load_causal_lm
    from rlhf_env.models.tiny import tiny_causal_lm

    cfg = TokenPPOConfig(batch_size=8, minibatch_size=4, max_new_tokens=4)
    with pytest.raises(ConfigError, match="reference model has a vocabulary of 1000"):
        TokenPPOTrainer(cfg, env=make_env(8, 4), policy=load_causal_lm("tiny-random-llama"),
                        reference=tiny_causal_lm(vocab_size=1000))


@pytest.mark.parametrize(("env_kwargs", "num_envs", "message"), [
    ({"kl_coef": 0.1}, 8, "kl_coef=0"),
    ({"action_vocab": 16}, 8, "action_vocab=None"),
    ({}, 4, "num_envs=batch_size"),
])
def test_an_env_the_trainer_cannot_use_is_rejected(make_env, env_kwargs, num_envs, message):
    from agents.token_ppo import TokenPPOTrainer
    from rlhf_env.models import load_causal_lm

    cfg = TokenPPOConfig(batch_size=8, minibatch_size=4, max_new_tokens=4)
    env = make_env(num_envs, 4, **env_kwargs)
    with pytest.raises(ConfigError, match=message):
        TokenPPOTrainer(cfg, env=env, policy=load_causal_lm("tiny-random-llama"))


def test_policy_smaller_than_the_tokenizer_is_rejected(make_env):
    from agents.token_ppo import TokenPPOTrainer
    from rlhf_env.models.tiny import tiny_causal_lm

    cfg = TokenPPOConfig(batch_size=8, minibatch_size=4, max_new_tokens=4)
    with pytest.raises(ConfigError, match="token embeddings"):
        TokenPPOTrainer(cfg, env=make_env(8, 4), policy=tiny_causal_lm(vocab_size=1000))
