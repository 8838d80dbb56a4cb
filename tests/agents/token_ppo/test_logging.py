"""Token-level PPO logs the shared vocabulary: TensorBoard and W&B (offline) get the same keys,
at the env-step count, with the values of ``trainer.metrics``."""

from __future__ import annotations

import pytest

from rlhf_env.errors import ConfigError, UnknownNameError

CLOCK = {"time/iterations", "time/total_timesteps"}


def _scalar_keys(metrics: dict) -> set[str]:
    return {k for k, v in metrics.items() if isinstance(v, (int, float))}


def test_tensorboard_gets_every_scalar_at_the_env_step(make_trainer, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer = make_trainer(log_dir=str(tmp_path))
    trainer.train(2)
    trainer.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert tags == _scalar_keys(trainer.metrics[0]) - CLOCK
    assert {"rlhf/score", "rlhf/kl", "train/policy_gradient_loss", "train/value_loss"} <= tags
    kl = events.Scalars("rlhf/kl")
    assert [e.step for e in kl] == [8, 16]  # responses so far, the SB3 bandit's x-axis
    assert [e.value for e in kl] == pytest.approx([m["rlhf/kl"] for m in trainer.metrics])
    assert events.Tags()["tensors"] == ["samples/text_summary"]


def test_wandb_offline_run_logs_the_same_keys(make_trainer, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    from tests.wandb_runs import history, offline

    offline(monkeypatch, tmp_path)
    trainer = make_trainer(log_dir=str(tmp_path / "logs"), log_with=("wandb",))
    trainer.train(2)
    trainer.close()
    (run_dir,) = (tmp_path / "logs" / "wandb").glob("offline-run-*")
    rows = history(run_dir)
    assert [row["_step"] for row in rows] == [8, 16]
    logged = {k for row in rows for k in row if not k.startswith("_")}
    assert logged == _scalar_keys(trainer.metrics[0]) - CLOCK | {"samples"}
    assert [row["rlhf/score"] for row in rows] == pytest.approx(
        [m["rlhf/score"] for m in trainer.metrics])
    assert "→" in rows[0]["samples"]


def test_log_with_names_are_checked():
    from agents.token_ppo import TokenPPOConfig

    with pytest.raises(UnknownNameError, match="Did you mean 'tensorboard'"):
        TokenPPOConfig(log_with=("tensorbord",))
    with pytest.raises(ConfigError, match="names a backend twice"):
        TokenPPOConfig(log_with=("wandb", "wandb"))
    assert TokenPPOConfig(log_with=["wandb", "csv"]).log_with == ("wandb", "csv")
    assert TokenPPOConfig(log_with="wandb").log_with == ("wandb",)  # one name alone
