"""Loss functions: Bradley–Terry, Plackett–Luce, regression, ordinal."""

from __future__ import annotations

import math

import pytest
import torch

from rlhf_env.feedback.learning.training.objectives import (
    cut_points,
    init_cuts,
    ordinal_loss,
    pairwise_loss,
    plackett_luce_loss,
)


def test_plackett_luce_equals_bradley_terry_for_two_items():
    torch.manual_seed(0)
    s = torch.randn(16, 2)
    ranks = torch.tensor([[0, 1]] * 16)
    pl = plackett_luce_loss(s, ranks, torch.ones(16, 2, dtype=torch.bool))
    bt = pairwise_loss(s[:, 0], s[:, 1])
    assert torch.allclose(pl, bt, atol=1e-6)


def test_plackett_luce_matches_hand_computed_three_way():
    s = torch.tensor([[2.0, 1.0, 0.0]])
    loss = plackett_luce_loss(s, torch.tensor([[0, 1, 2]]), torch.ones(1, 3, dtype=torch.bool))
    expected = -(2 - torch.logsumexp(s[0], 0)) - (1 - torch.logsumexp(s[0, 1:], 0))
    assert torch.allclose(loss, expected)


def test_plackett_luce_padding_and_ties_have_finite_gradients():
    s = torch.randn(2, 4, requires_grad=True)
    ranks = torch.tensor([[0, 0, 1, 0], [0, 1, 2, 3]])
    valid = torch.tensor([[True, True, True, False], [True, True, True, True]])
    loss = plackett_luce_loss(s, ranks, valid)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad).all()
    assert s.grad[0, 3] == 0  # padding gets no gradient


def test_tie_loss_is_minimal_at_equal_scores_and_margin_shifts():
    d = torch.linspace(-3, 3, 61)
    tie = torch.stack([pairwise_loss(x.view(1), torch.zeros(1), torch.tensor([0.5])) for x in d])
    assert d[tie.argmin()].abs() < 1e-6
    no_margin = pairwise_loss(torch.tensor([1.0]), torch.tensor([0.0]))
    margin = pairwise_loss(torch.tensor([1.0]), torch.tensor([0.0]), margins=torch.tensor([1.0]))
    assert margin > no_margin


def test_weights_select_examples():
    a, b = torch.tensor([1.0, -1.0]), torch.zeros(2)
    only_first = pairwise_loss(a, b, weights=torch.tensor([1.0, 0.0]))
    assert torch.allclose(only_first, pairwise_loss(a[:1], b[:1]))


def test_ordinal_loss_prefers_scores_in_the_right_band():
    raw = init_cuts(5)
    cuts = cut_points(raw)
    assert (cuts[1:] > cuts[:-1]).all()
    levels = torch.tensor([0, 4])
    right = ordinal_loss(torch.tensor([-5.0, 5.0]), levels, raw)
    wrong = ordinal_loss(torch.tensor([5.0, -5.0]), levels, raw)
    assert right < wrong


def test_pairwise_loss_with_a_lapse_rate_matches_hand_computed_values() -> None:
    """ε = 0.2: P(a ≻ b) = 0.1 + 0.8·σ(Δ). For Δ = 0, 2 and a contrary label at Δ = 20."""
    a = torch.tensor([0.0, 2.0, 20.0])
    b = torch.zeros(3)
    targets = torch.tensor([1.0, 1.0, 0.0])
    p = [0.1 + 0.8 * 0.5, 0.1 + 0.8 / (1 + math.exp(-2.0)), 0.1 + 0.8 / (1 + math.exp(-20.0))]
    expected = [-math.log(p[0]), -math.log(p[1]), -math.log(1 - p[2])]
    losses = [float(pairwise_loss(a[i:i + 1], b[i:i + 1], targets[i:i + 1], lapse=0.2))
              for i in range(3)]
    assert losses == pytest.approx(expected, rel=1e-5)
    # the contrary label costs at most −log(ε/2) (plain Bradley–Terry: about 20 nats)
    assert losses[2] == pytest.approx(-math.log(0.1), rel=1e-4)
    plain = float(pairwise_loss(a[2:], b[2:], targets[2:]))
    assert plain == pytest.approx(20.0, rel=1e-3)
    assert float(pairwise_loss(a, b, targets, lapse=0.0)) == pytest.approx(
        float(pairwise_loss(a, b, targets)))


def test_trainer_config_refuses_a_lapse_rate_of_one() -> None:
    from rlhf_env.errors import ConfigError
    from rlhf_env.feedback.learning.training import RewardTrainerConfig

    with pytest.raises(ConfigError, match="lapse_rate must be below 1"):
        RewardTrainerConfig(lapse_rate=1.0)
    with pytest.raises(ConfigError, match="lapse_rate"):
        RewardTrainerConfig(lapse_rate=-0.1)
    assert RewardTrainerConfig(lapse_rate=0.1).lapse_rate == 0.1
