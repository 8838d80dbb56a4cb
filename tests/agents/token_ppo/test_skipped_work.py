"""Work that cannot change the update is skipped: the reference pass at a fixed β = 0, the
value head for critic-free estimators (RLOO, GRPO) — and the updates stay exactly the same."""

from __future__ import annotations

import pytest
import torch

from agents.token_ppo import TokenPPOConfig
from agents.token_ppo.policy import PolicyWithValue
from rlhf_env.errors import ConfigError


def _count_reference_passes(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = PolicyWithValue.reference_logits

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PolicyWithValue, "reference_logits", counted)
    return calls


def test_a_fixed_zero_beta_runs_no_reference_pass_and_logs_no_kl(make_trainer, monkeypatch):
    calls = _count_reference_passes(monkeypatch)
    trainer = make_trainer(kl_coef=0.0)
    metrics = trainer.step()
    assert calls == []
    assert "rlhf/kl" not in metrics and "train/kl_k1" not in metrics
    assert metrics["rlhf/reward"] == pytest.approx(metrics["rlhf/score"], abs=1e-5)


def test_the_progress_bar_runs_without_a_kl_to_show(make_trainer):
    trainer = make_trainer(kl_coef=0.0, progress_bar=True)
    history = trainer.train(2)
    assert len(history) == 2 and all("rlhf/kl" not in m for m in history)


@pytest.mark.parametrize("config", [{"kl_coef": 0.0, "reference_pass": "always"},
                                    {"kl_coef": 0.1},
                                    {"kl_coef": 0.0, "adaptive_kl": True}])
def test_the_reference_runs_when_the_kl_is_penalised_or_asked_for(make_trainer, monkeypatch,
                                                                  config):
    calls = _count_reference_passes(monkeypatch)
    metrics = make_trainer(**config).step()
    assert len(calls) == 1 and metrics["rlhf/kl"] >= 0


def test_skipping_the_reference_at_zero_beta_leaves_the_update_unchanged(make_trainer):
    skipped = make_trainer(kl_coef=0.0, seed=3)
    measured = make_trainer(kl_coef=0.0, seed=3, reference_pass="always")
    for trainer in (skipped, measured):
        trainer.step()
    for (name, a), (_, b) in zip(skipped.policy.lm.named_parameters(),
                                 measured.policy.lm.named_parameters(), strict=True):
        assert torch.equal(a, b), name


def _count_value_head_calls(trainer) -> list[int]:
    calls: list[int] = []
    trainer.policy.value_head.register_forward_hook(lambda *_: calls.append(1))
    return calls


@pytest.mark.parametrize("advantage", ["rloo", "grpo"])
def test_critic_free_estimators_never_run_the_value_head(make_trainer, advantage):
    trainer = make_trainer(advantage=advantage, group_size=4, minibatch_size=8)
    calls = _count_value_head_calls(trainer)
    metrics = trainer.step()
    assert calls == [] and "train/value_loss" not in metrics


def test_gae_still_uses_the_value_head(make_trainer):
    trainer = make_trainer(advantage="gae")
    calls = _count_value_head_calls(trainer)
    metrics = trainer.step()
    assert len(calls) > 1 and "train/value_loss" in metrics


def test_rloo_updates_match_a_run_that_computes_values(make_trainer, monkeypatch):
    lean = make_trainer(advantage="rloo", group_size=4, minibatch_size=8, seed=5)
    lean.step()
    monkeypatch.setattr(TokenPPOConfig, "needs_values", property(lambda self: True))
    full = make_trainer(advantage="rloo", group_size=4, minibatch_size=8, seed=5)
    full.step()
    for (name, a), (_, b) in zip(lean.policy.lm.named_parameters(),
                                 full.policy.lm.named_parameters(), strict=True):
        assert torch.equal(a, b), name


def test_reference_pass_names_are_checked():
    with pytest.raises(ConfigError, match="reference_pass must be one of"):
        TokenPPOConfig(reference_pass="never")


def test_the_optimizer_is_fused_adamw_and_updates_as_the_plain_loop_does(make_trainer):
    fused = make_trainer(seed=4)
    assert fused.optimizer.defaults["fused"] is True
    plain = make_trainer(seed=4)
    plain.optimizer = torch.optim.AdamW(plain.policy.trainable_parameters(),
                                        lr=plain.config.learning_rate)
    before = [p.detach().clone() for p in fused.policy.trainable_parameters()]
    for trainer in (fused, plain):
        trainer.step()
    moved = False
    for a, b, start in zip(fused.policy.trainable_parameters(),
                           plain.policy.trainable_parameters(), before, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
        moved = moved or not torch.equal(a, start)
    assert moved
