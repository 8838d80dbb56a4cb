"""PPO losses on small hand examples."""

from __future__ import annotations

import math

import pytest
import torch

from agents.token_ppo.losses import entropy, explained_variance, policy_loss, value_loss


def test_policy_loss_clips_large_ratios_and_reports_them():
    old = torch.zeros(1, 3)
    new = torch.log(torch.tensor([[1.0, 1.5, 0.5]]))
    advantages = torch.tensor([[1.0, 1.0, -1.0]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    out = policy_loss(new, old, advantages, mask, clip_range=0.2)
    # min(ρA, clip(ρ)A): 1·1, min(1.5, 1.2)=1.2, min(-0.5, -0.8)=-0.8
    assert float(out.loss) == pytest.approx(-(1.0 + 1.2 - 0.8) / 3)
    assert float(out.clip_fraction) == pytest.approx(2 / 3)
    assert float(out.approx_kl) == pytest.approx(
        ((0.5 - math.log(1.5)) + (-0.5 - math.log(0.5))) / 3)


def test_value_loss_takes_the_pessimistic_clipped_error():
    v, old, ret = torch.tensor([[2.0]]), torch.tensor([[0.0]]), torch.tensor([[2.0]])
    mask = torch.ones(1, 1, dtype=torch.bool)
    assert float(value_loss(v, old, ret, mask, clip_range=0.5)) == pytest.approx(0.5 * 1.5**2)
    assert float(value_loss(v, old, ret, mask, clip_range=0.0)) == 0.0


def test_entropy_of_uniform_and_of_a_masked_distribution():
    mask = torch.ones(1, 1, dtype=torch.bool)
    assert float(entropy(torch.zeros(1, 1, 8), mask)) == pytest.approx(math.log(8))
    logits = torch.tensor([[[0.0, 0.0, float("-inf"), float("-inf")]]])
    assert float(entropy(logits, mask)) == pytest.approx(math.log(2))


def test_explained_variance():
    mask = torch.ones(1, 4, dtype=torch.bool)
    target = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert explained_variance(target, target, mask) == pytest.approx(1.0)
    assert explained_variance(torch.zeros(1, 4) + 2.5, target, mask) == pytest.approx(0.0)
