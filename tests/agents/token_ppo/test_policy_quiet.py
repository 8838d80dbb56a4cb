"""Wrapping a policy in LoRA adapters raises none of peft's known deprecation warnings."""

from __future__ import annotations

import warnings

import pytest

from agents.token_ppo.policy import PolicyWithValue
from rlhf_env.models import tiny_causal_lm


def test_lora_policy_raises_no_future_warning() -> None:
    pytest.importorskip("peft")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policy = PolicyWithValue(tiny_causal_lm(seed=0), lora_r=2, seed=0)
    assert hasattr(policy.lm, "peft_config")  # the adapters are there
    assert not [w for w in caught if issubclass(w.category, FutureWarning)], \
        [str(w.message) for w in caught]
