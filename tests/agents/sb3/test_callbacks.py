"""RLHFMetricsCallback logs the env's RLHF metrics to SB3's logger, TensorBoard and files."""

from __future__ import annotations

import csv
import json

import pytest
from stable_baselines3.common.logger import configure

from agents.sb3 import RLHFMetricsCallback, make_ppo, summarize_episodes
from rlhf_env.metrics import METRICS, metric_key

TEXT_KEYS = ("rlhf/score", "rlhf/score_std", "rlhf/reward", "rlhf/kl", "rlhf/kl_coef",
             "rlhf/response_length", "rlhf/missing_eos", "rlhf/episodes")
"""What the callback logs on a text task with a reference model and no gold judge."""


def test_callback_logs_rlhf_keys_to_the_logger(make_env, tmp_path):
    env = make_env(4, kl_coef=0.1, gold=lambda prompts, responses: [0.5] * len(responses))
    model = make_ppo(env, n_steps=4, batch_size=16, n_epochs=1)
    model.set_logger(configure(str(tmp_path), ["csv", "json"]))
    callback = RLHFMetricsCallback(n_samples=2)
    model.learn(48, callback=callback, log_interval=1)
    with (tmp_path / "progress.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    assert {k for k in rows[0] if k.startswith("rlhf/")} == set(TEXT_KEYS) | {"rlhf/gold_score"}
    logged = [float(r["rlhf/score"]) for r in rows]
    assert logged == pytest.approx([h["rlhf/score"] for h in callback.history])
    assert float(rows[0]["rlhf/gold_score"]) == pytest.approx(0.5)
    assert float(rows[0]["rlhf/reward"]) < float(rows[0]["rlhf/score"])  # + 0.1 · log π_ref
    assert float(rows[0]["rlhf/kl_coef"]) == pytest.approx(0.1)
    assert float(rows[0]["rlhf/episodes"]) == 16
    lines = (tmp_path / "progress.json").read_text().splitlines()
    assert "rlhf/missing_eos" in json.loads(lines[-1])
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
    assert [float(r["time/total_timesteps"]) for r in rows] == [16.0, 32.0]
    data = json.loads(callback.save_history(tmp_path / "sub" / "m.json").read_text())
    assert data["history"] == callback.history and data["samples"] == callback.samples


def test_summarize_episodes_skips_absent_keys():
    episodes = [{"score": 1.0, "kl_term": -1.0, "hit_token_limit": True, "response_tokens": 2},
                {"score": 3.0, "kl_term": -3.0, "hit_token_limit": False, "response_tokens": 4}]
    row = summarize_episodes(episodes, [0.0, 0.0])
    assert row == {"rlhf/episodes": 2.0, "rlhf/reward": 0.0, "rlhf/score": 2.0,
                   "rlhf/missing_eos": 0.5, "rlhf/response_length": 3.0, "rlhf/score_std": 1.0}
    assert set(row) <= {metric_key(name) for name in METRICS}


def test_wandb_offline_gets_the_callbacks_and_sb3s_keys(make_env, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    from rlhf_env.logger import make_logger
    from tests.wandb_runs import history, offline

    offline(monkeypatch, tmp_path)
    model = make_ppo(make_env(4, kl_coef=0.1), n_steps=2, batch_size=8, n_epochs=1)
    model.set_logger(make_logger(tmp_path / "logs", ("wandb",), run_config={"n_steps": 2}))
    callback = RLHFMetricsCallback()
    model.learn(16, callback=callback)
    model.logger.close()
    (run_dir,) = (tmp_path / "logs" / "wandb").glob("offline-run-*")
    rows = history(run_dir)
    assert [row["_step"] for row in rows] == [8, 16]
    keys = {k for row in rows for k in row}
    assert set(TEXT_KEYS) <= keys
    assert {"train/policy_gradient_loss", "train/value_loss", "train/entropy_loss",
            "train/approx_kl", "train/clip_fraction", "rollout/ep_rew_mean"} <= keys
    assert not {"time/iterations", "time/total_timesteps", "train/n_updates"} & keys
    assert [row["rlhf/kl"] for row in rows] == pytest.approx(
        [h["rlhf/kl"] for h in callback.history])
