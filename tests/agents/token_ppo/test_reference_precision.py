"""``reference_precision``: the reference runs at bfloat16 / int8 as asked (a converted copy,
also under LoRA, where float32 shares the policy's weights), its log-probs stay within
documented bounds of the float32 reference, and training, checkpoints and validation work.

Bounds: per-token reference log-probs on the tiny Llama (measured: bfloat16 max 0.004,
int8 max 0.02 nats), with ~5x headroom.
"""

from __future__ import annotations

import copy

import pytest
import torch

from agents.token_ppo import PolicyWithValue, TokenPPOConfig, load_checkpoint, save_checkpoint
from agents.token_ppo.generation import position_ids
from rlhf_env.errors import ConfigError
from rlhf_env.models import model_precision

BOUNDS = {"bfloat16": 0.02, "int8": 0.1}
"""Largest allowed abs difference of per-token reference log-probs from float32, nats."""


def _reference_logprobs(policy: PolicyWithValue, ids: torch.Tensor) -> torch.Tensor:
    mask = torch.ones_like(ids)
    logits = policy.reference_logits(ids, mask, position_ids(mask), 6).float()
    return logits.log_softmax(-1).gather(-1, ids[:, -6:, None]).squeeze(-1)


@pytest.fixture
def ids():
    return torch.randint(3, 2000, (4, 16), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_full_fine_tuning_reference_runs_lower_within_bounds(tiny_lm, ids, precision):
    base = PolicyWithValue(copy.deepcopy(tiny_lm))
    fast = PolicyWithValue(copy.deepcopy(tiny_lm), reference_precision=precision)
    assert model_precision(fast.reference) == precision
    assert model_precision(fast.lm) == "float32"  # the policy itself is untouched
    diff = (_reference_logprobs(fast, ids) - _reference_logprobs(base, ids)).abs()
    assert 0 < diff.max() < BOUNDS[precision]


@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_lora_reference_becomes_a_converted_copy_of_the_base(tiny_lm, ids, precision):
    pytest.importorskip("peft")
    shared = PolicyWithValue(copy.deepcopy(tiny_lm), lora_r=4)
    assert shared.reference is None  # float32: the policy with adapters off, no copy
    fast = PolicyWithValue(copy.deepcopy(tiny_lm), lora_r=4, reference_precision=precision)
    assert fast.reference is not None and model_precision(fast.reference) == precision
    assert not any("lora" in name for name, _ in fast.reference.named_modules())
    diff = (_reference_logprobs(fast, ids) - _reference_logprobs(shared, ids)).abs()
    assert 0 < diff.max() < BOUNDS[precision]


def test_a_trained_lora_policy_gets_its_base_as_the_reference(tiny_lm, ids):
    pytest.importorskip("peft")
    trained = PolicyWithValue(copy.deepcopy(tiny_lm), lora_r=4)
    with torch.no_grad():  # move the adapters away from zero, as training would
        for name, param in trained.lm.named_parameters():
            if "lora_B" in name:
                param.add_(0.5)
    fast = PolicyWithValue(trained.lm, reference_precision="bfloat16")
    diff = (_reference_logprobs(fast, ids) - _reference_logprobs(trained, ids)).abs()
    assert diff.max() < BOUNDS["bfloat16"]  # the base, not the trained adapters


def test_trainer_trains_with_a_lower_precision_reference(make_trainer):
    base = make_trainer(kl_coef=0.1, seed=2)
    fast = make_trainer(kl_coef=0.1, seed=2, reference_precision="bfloat16")
    assert model_precision(fast.policy.reference) == "bfloat16"
    before = [p.detach().clone() for p in fast.policy.trainable_parameters()]
    m0, m1 = base.step(), fast.step()
    assert m1["rlhf/kl"] == pytest.approx(m0["rlhf/kl"], abs=0.05)
    assert any(not torch.equal(a, b) for a, b in
               zip(before, fast.policy.trainable_parameters(), strict=True))


def test_checkpoints_leave_an_int8_reference_out_and_resume(make_trainer, tmp_path):
    first = make_trainer(kl_coef=0.1, reference_precision="int8")
    first.step()
    path = save_checkpoint(first, tmp_path / "ckpt")
    resumed = load_checkpoint(make_trainer(kl_coef=0.1, reference_precision="int8"), path)
    assert resumed.step()["rlhf/kl"] == pytest.approx(first.step()["rlhf/kl"], abs=1e-6)


def test_reference_precision_is_validated(tiny_lm, make_trainer):
    with pytest.raises(ConfigError, match="reference_precision must be one of"):
        TokenPPOConfig(reference_precision="half")
    policy = PolicyWithValue(copy.deepcopy(tiny_lm), reference_precision="bfloat16")
    with pytest.raises(ConfigError, match="runs its reference at 'bfloat16'"):
        make_trainer(policy=policy)


def test_reward_precision_reaches_the_env_the_trainer_builds():
    """``reward_precision`` is the built env's ``frozen_precision``: the reward model's
    encoder runs converted, the validation names the field."""
    from agents.token_ppo import build_env
    from rlhf_env.rewards.encoder_head import EncoderHeadReward
    from rlhf_env.text.core import text_core

    torch.manual_seed(0)
    reward = EncoderHeadReward(backbone="tiny-random-bert", input_format="response")
    config = TokenPPOConfig(model="tiny-random-llama", task="keyword", batch_size=2,
                            minibatch_size=2, reward_model=reward,
                            reward_precision="bfloat16")
    env = build_env(config)
    try:
        assert model_precision(text_core(env).reward_model.encoder) == "bfloat16"
        assert model_precision(reward.encoder) == "float32"
    finally:
        env.close()
    with pytest.raises(ConfigError, match="reward_precision must be one of"):
        TokenPPOConfig(reward_precision="fp16")
