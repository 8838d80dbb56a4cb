"""Stock SB3 algorithms train on the text bandit through RLHFVecEnv; the callback logs metrics."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.logger import configure

from agents.sb3 import (
    PPO_DEFAULTS,
    RLHFMetricsCallback,
    make_a2c,
    make_ppo,
    summarize_episodes,
)


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
    scores = [row["score"] for row in callback.history]
    assert len(scores) == 8
    first, last = np.mean(scores[:2]), np.mean(scores[-2:])
    assert last - first > 1.0, f"mean score went {first:.2f} → {last:.2f}: {scores}"
    assert _changed(before, model)
    assert any(w in callback.samples[0]["response"] for w in ("good", "great", "happy", "love"))


def test_sb3_evaluate_policy_and_collect_episodes(make_env):
    from stable_baselines3.common.evaluation import evaluate_policy

    from agents.sb3 import collect_episodes, mean_of

    model = make_ppo(make_env(4), n_steps=8)
    eval_env = make_env(4, seed=1)
    with pytest.warns(UserWarning, match="Monitor"):  # SB3 suggests Monitor; episodes still count
        rewards, lengths = evaluate_policy(model, eval_env, n_eval_episodes=8,
                                           return_episode_rewards=True)
    assert len(rewards) == 8 and set(lengths) == {1}
    eval_env.seed(1)
    episodes = collect_episodes(model, eval_env, 6)
    assert len(episodes) == 6 and all("response" in e for e in episodes)
    assert mean_of(episodes) == pytest.approx(np.mean([e["score"] for e in episodes]))
    assert np.isnan(mean_of(episodes, "gold_score"))


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


def test_callback_logs_rlhf_keys_to_the_logger(make_env, tmp_path):
    env = make_env(4, kl_coef=0.1, gold=lambda prompts, responses: [0.5] * len(responses))
    model = make_ppo(env, n_steps=4, batch_size=16, n_epochs=1)
    model.set_logger(configure(str(tmp_path), ["csv", "json"]))
    callback = RLHFMetricsCallback(n_samples=2)
    model.learn(48, callback=callback, log_interval=1)
    with (tmp_path / "progress.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    for key in ("score", "score_std", "gold_score", "kl_term", "response_tokens",
                "hit_token_limit", "reward", "episodes"):
        assert f"rlhf/{key}" in rows[0], key
    logged = [float(r["rlhf/score"]) for r in rows]
    assert logged == pytest.approx([h["score"] for h in callback.history])
    assert float(rows[0]["rlhf/gold_score"]) == pytest.approx(0.5)
    assert float(rows[0]["rlhf/kl_term"]) < 0  # kl_coef · log π_ref < 0
    assert float(rows[0]["rlhf/episodes"]) == 16
    lines = (tmp_path / "progress.json").read_text().splitlines()
    assert "rlhf/hit_token_limit" in json.loads(lines[-1])
    assert len(callback.samples) == 2 and {"prompt", "response", "score", "gold_score"} <= set(
        callback.samples[0])


def test_callback_writes_tensorboard_events(make_env, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = make_ppo(make_env(2), n_steps=8, n_epochs=1, tensorboard_log=str(tmp_path))
    model.learn(32, callback=RLHFMetricsCallback(), tb_log_name="run")
    runs = sorted(tmp_path.glob("run_*"))
    assert runs
    events = EventAccumulator(str(runs[0]))
    events.Reload()
    assert "rlhf/score" in events.Tags()["scalars"]


def test_history_saves_as_csv_and_json(make_env, tmp_path):
    callback = RLHFMetricsCallback()
    make_ppo(make_env(2), n_steps=8, n_epochs=1).learn(32, callback=callback)
    assert len(callback.history) == 2
    with callback.save_history(tmp_path / "m.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["timesteps"]) for r in rows] == [16.0, 32.0]
    data = json.loads(callback.save_history(tmp_path / "sub" / "m.json").read_text())
    assert data["history"] == callback.history and data["samples"] == callback.samples


def test_summarize_episodes_skips_absent_keys():
    episodes = [{"score": 1.0, "kl_term": -1.0, "hit_token_limit": True},
                {"score": 3.0, "kl_term": -3.0, "hit_token_limit": False}]
    row = summarize_episodes(episodes, [0.0, 0.0])
    assert row == {"episodes": 2.0, "reward": 0.0, "score": 2.0, "kl_term": -2.0,
                   "hit_token_limit": 0.5, "score_std": 1.0}
