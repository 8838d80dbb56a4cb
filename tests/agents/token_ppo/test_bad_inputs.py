"""Bad input to the token PPO trainer: configs, crafted or corrupt checkpoints, NaN losses."""

from __future__ import annotations

import math

import pytest
import torch

from agents.token_ppo import TokenPPOConfig, load_checkpoint, save_checkpoint
from rlhf_env.checkpoints import previous_path
from rlhf_env.errors import CheckpointError, ConfigError, TrainingError
from tests.crafted import evil_pickle, evil_torch_file


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"learning_rate": math.inf}, ["learning_rate", "inf", "finite"]),
    ({"learning_rate": "3e-4"}, ["learning_rate", "'3e-4'"]),
    ({"kl_coef": math.nan}, ["kl_coef", "nan"]),
    ({"batch_size": 8.5}, ["batch_size", "8.5", "integer"]),
    ({"ppo_epochs": "2"}, ["ppo_epochs", "'2'"]),
    ({"progress_bar": "yes"}, ["progress_bar", "True or False"]),
])
def test_config_refuses_wrong_types_and_non_finite_values(kwargs, words):
    with pytest.raises(ConfigError) as info:
        TokenPPOConfig(model="tiny-random-llama", **kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("craft", [evil_pickle, evil_torch_file])
def test_a_crafted_checkpoint_runs_nothing(make_trainer, tmp_path, craft):
    marker = tmp_path / "ran"
    path = tmp_path / "ckpt.pt"
    path.write_bytes(craft(marker))
    with pytest.raises(CheckpointError, match=r"not a safetensors state file|not an rlhf-env"):
        load_checkpoint(make_trainer(), path)
    assert not marker.exists()


def test_a_corrupt_checkpoint_falls_back_to_the_previous_one(make_trainer, tmp_path):
    trainer = make_trainer(learning_rate=1e-3)
    path = tmp_path / "ckpt.pt"
    save_checkpoint(trainer, path)
    trainer.step()
    save_checkpoint(trainer, path)  # the first save is kept as ckpt.pt.prev
    assert previous_path(path).exists()
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte in the weights
    path.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match="corrupt.*previous good"):
        resumed = load_checkpoint(make_trainer(learning_rate=1e-3), path)
    assert resumed.step_count == 0
    path.write_bytes(b"")
    previous_path(path).write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="no usable token-ppo-checkpoint state"):
        load_checkpoint(make_trainer(learning_rate=1e-3), path)


def test_a_nan_loss_stops_training_before_anything_changes(make_trainer, tmp_path):
    trainer = make_trainer(learning_rate=1e-3)
    with torch.no_grad():
        trainer.policy.value_head.weight.fill_(math.nan)  # NaN values → NaN value loss
    before = {k: v.clone() for k, v in trainer.policy.state_dict().items()
              if k.startswith("lm.")}
    with pytest.raises(TrainingError, match="token PPO: the loss is nan at step 0"):
        trainer.step()
    after = trainer.policy.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
