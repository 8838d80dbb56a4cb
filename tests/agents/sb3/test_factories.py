"""Stock SB3 algorithms (and the make_ppo / make_a2c factories) train on the text bandit through
RLHFVecEnv."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, PPO

from agents.sb3 import PPO_DEFAULTS, RLHFMetricsCallback, make_a2c, make_ppo


def _params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.policy.parameters()]


def _changed(before: list[torch.Tensor], model) -> bool:
    after = list(model.policy.parameters())
    return any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))


def test_stock_ppo_raises_the_keyword_reward(make_env):
    """Plain ``PPO("MultiInputPolicy", env)``: random responses score ≈ 1.2 of at most 4."""
    env = make_env(8, seed=0)
    model = PPO("MultiInputPolicy", env, n_steps=16, batch_size=64, n_epochs=4,
                learning_rate=1e-3, seed=0)
    before = _params(model)
    callback = RLHFMetricsCallback()
    model.learn(1024, callback=callback)
    scores = [row["rlhf/score"] for row in callback.history]
    assert len(scores) == 8
    first, last = np.mean(scores[:2]), np.mean(scores[-2:])
    assert last - first > 1.0, f"mean score went {first:.2f} → {last:.2f}: {scores}"
    assert _changed(before, model)
    assert any(w in callback.samples[0]["response"] for w in ("good", "great", "happy", "love"))


def test_make_ppo_defaults_and_overrides(make_env):
    env = make_env(2)
    model = make_ppo(env, n_steps=8, ent_coef=0.01)
    assert model.n_steps == 8 and model.ent_coef == 0.01
    assert model.batch_size == 16  # capped at the rollout size n_steps × num_envs
    assert model.gamma == PPO_DEFAULTS["gamma"] == 1.0
    assert make_ppo(env, batch_size=4).batch_size == 4


def test_a2c_runs_and_updates(make_env):
    env = make_env(4)
    model = make_a2c(env)
    assert isinstance(model, A2C)
    before = _params(model)
    callback = RLHFMetricsCallback()
    model.learn(64, callback=callback)
    assert _changed(before, model)
    assert len(callback.history) == 64 // (4 * model.n_steps)


def test_sb3_contrib_trpo_runs(make_env):
    sb3_contrib = pytest.importorskip("sb3_contrib")
    model = sb3_contrib.TRPO("MultiInputPolicy", make_env(4), n_steps=16, batch_size=32, seed=0)
    before = _params(model)
    model.learn(64)
    assert _changed(before, model)
