"""RLHFMetricsCallback logs the env's RLHF metrics to SB3's logger, TensorBoard and files."""

from __future__ import annotations

import csv
import json

import pytest
from stable_baselines3.common.logger import configure

from agents.sb3 import RLHFMetricsCallback, make_ppo, summarize_episodes


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
