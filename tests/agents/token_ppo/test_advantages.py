"""Credit assignment on hand-computed examples."""

from __future__ import annotations

import pytest
import torch

from agents.token_ppo import advantages as adv


def test_token_rewards_put_the_score_on_the_last_real_token():
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    kl = torch.tensor([[0.1, 0.2, 0.3], [0.5, 9.0, 9.0]])
    rewards = adv.token_rewards(torch.tensor([2.0, -1.0]), kl, mask, kl_coef=0.5)
    expected = torch.tensor([[-0.05, -0.1, -0.15 + 2.0], [-0.25 - 1.0, 0.0, 0.0]])
    assert torch.allclose(rewards, expected)


def test_gae_matches_a_hand_computation():
    # One response of 3 tokens, then padding. γ = 0.9, λ = 0.5.
    rewards = torch.tensor([[0.0, 1.0, 2.0, 0.0]])
    values = torch.tensor([[0.5, 1.0, 1.5, 7.0]])  # the padded value must be ignored
    mask = torch.tensor([[1, 1, 1, 0]], dtype=torch.bool)
    a, ret = adv.gae(rewards, values, mask, gamma=0.9, lam=0.5)
    d2 = 2.0 + 0.9 * 0.0 - 1.5            # 0.5   (episode ends after token 2)
    d1 = 1.0 + 0.9 * 1.5 - 1.0            # 1.35
    d0 = 0.0 + 0.9 * 1.0 - 0.5            # 0.4
    a2, a1 = d2, d1 + 0.45 * d2
    a0 = d0 + 0.45 * a1
    assert torch.allclose(a, torch.tensor([[a0, a1, a2, 0.0]]))
    assert torch.allclose(ret, torch.tensor([[a0 + 0.5, a1 + 1.0, a2 + 1.5, 0.0]]))


def test_gae_with_lambda_one_gives_discounted_returns():
    rewards = torch.tensor([[1.0, 1.0, 1.0]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    _, ret = adv.gae(rewards, torch.tensor([[3.0, -2.0, 0.7]]), mask, gamma=0.5, lam=1.0)
    assert torch.allclose(ret, torch.tensor([[1.75, 1.5, 1.0]]))


def test_rloo_baseline_is_the_mean_of_the_others():
    returns = torch.tensor([1.0, 2.0, 6.0, 0.0, 0.0, 3.0])
    out = adv.rloo(returns, group_size=3)
    expected = torch.tensor([1 - 4.0, 2 - 3.5, 6 - 1.5, 0 - 1.5, 0 - 1.5, 3 - 0.0])
    assert torch.allclose(out, expected)
    assert torch.allclose(out.view(2, 3).sum(-1), torch.zeros(2))  # k/(k-1) · centred


def test_group_relative_standardises_within_groups():
    out = adv.group_relative(torch.tensor([1.0, 3.0, 10.0, 10.0]), group_size=2)
    s = torch.tensor([1.0, 3.0]).std()
    assert torch.allclose(out[:2], torch.tensor([-1.0, 1.0]) / (s + 1e-4))
    assert torch.allclose(out[2:], torch.zeros(2))  # equal returns: no signal


def test_whiten_over_the_mask_only():
    x = torch.tensor([[1.0, 3.0, 100.0]])
    mask = torch.tensor([[1, 1, 0]], dtype=torch.bool)
    out = adv.whiten(x, mask)
    assert out[0, :2].tolist() == pytest.approx([-1.0, 1.0], abs=1e-4)
    assert out[0, 2] == 0
    scaled = adv.whiten(x, mask, shift_mean=False)
    assert scaled[0, :2].tolist() == pytest.approx([1.0, 3.0], abs=1e-4)
