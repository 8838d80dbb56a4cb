"""KL estimators and controllers (rlhf_env.kl)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlhf_env.errors import ConfigError
from rlhf_env.kl import AdaptiveKLController, FixedKLController, kl_estimate


def _two_categoricals(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, float]:
    gen = torch.Generator().manual_seed(seed)
    logp = torch.randn(6, generator=gen).log_softmax(-1)
    logq = (torch.randn(6, generator=gen) * 0.7).log_softmax(-1)
    true_kl = float((logp.exp() * (logp - logq)).sum())
    return logp, logq, true_kl


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_unbiased_estimators_match_the_true_kl(estimator):
    logp, logq, true_kl = _two_categoricals()
    samples = torch.multinomial(logp.exp(), 200_000, replacement=True,
                                generator=torch.Generator().manual_seed(1))
    est = kl_estimate(logp[samples], logq[samples], estimator)
    assert float(est.mean()) == pytest.approx(true_kl, rel=0.03)
    exact = float((logp.exp() * kl_estimate(logp, logq, estimator)).sum())
    assert exact == pytest.approx(true_kl, rel=1e-5)  # expectation, computed exactly


def test_k1_can_be_negative_but_k2_and_k3_never_are():
    logp, logq, _ = _two_categoricals()
    assert (kl_estimate(logp, logq, "k1") < 0).any()
    assert (kl_estimate(logp, logq, "k3") >= 0).all()
    assert (kl_estimate(logp, logq, "k2") >= 0).all()


def test_k3_is_zero_for_identical_policies_and_works_on_numpy():
    x = np.log(np.array([0.2, 0.3, 0.5]))
    assert np.allclose(kl_estimate(x, x, "k3"), 0.0)
    assert kl_estimate(np.array([0.0]), np.array([np.log(0.5)]), "k3")[0] == pytest.approx(
        0.5 - 1 + np.log(2))


def test_unknown_estimator_is_a_config_error():
    with pytest.raises(ConfigError, match="k1"):
        kl_estimate(torch.zeros(1), torch.zeros(1), "k4")


def test_fixed_controller_never_moves():
    ctl = FixedKLController(0.3)
    assert ctl.update(100.0, 1000) == 0.3
    assert ctl.update(0.0, 1000) == 0.3


def test_adaptive_controller_moves_toward_target_in_both_directions():
    high = AdaptiveKLController(0.1, target=1.0, horizon=100)
    values = [high.update(current_kl=3.0, n_steps=10) for _ in range(5)]
    assert all(b > a for a, b in zip([0.1, *values], values, strict=False))
    low = AdaptiveKLController(0.1, target=1.0, horizon=100)
    values = [low.update(current_kl=0.2, n_steps=10) for _ in range(5)]
    assert all(b < a for a, b in zip([0.1, *values], values, strict=False))
    on_target = AdaptiveKLController(0.1, target=1.0, horizon=100)
    assert on_target.update(1.0, 10) == pytest.approx(0.1)


def test_adaptive_controller_clips_the_error_and_scales_with_the_horizon():
    ctl = AdaptiveKLController(1.0, target=1.0, horizon=50)
    assert ctl.update(1000.0, 50) == pytest.approx(1.2)  # error clipped to +0.2
    slow = AdaptiveKLController(1.0, target=1.0, horizon=500)
    assert slow.update(1000.0, 50) == pytest.approx(1.02)


def test_controller_state_round_trips():
    ctl = AdaptiveKLController(0.1, target=2.0, horizon=10)
    ctl.update(5.0, 3)
    other = AdaptiveKLController(1.0, target=1.0, horizon=1)
    other.load_state_dict(ctl.state_dict())
    assert (other.value, other.target, other.horizon) == (ctl.value, 2.0, 10)


@pytest.mark.parametrize("kwargs", [{"init_coef": -1.0, "target": 1.0, "horizon": 10},
                                    {"init_coef": 0.1, "target": 0.0, "horizon": 10},
                                    {"init_coef": 0.1, "target": 1.0, "horizon": 0}])
def test_bad_controller_settings_raise(kwargs):
    with pytest.raises(ConfigError):
        AdaptiveKLController(**kwargs)
