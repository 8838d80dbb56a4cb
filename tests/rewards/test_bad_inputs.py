"""Bad input to reward models: configs of the wrong type, corrupt or crafted saved folders."""

from __future__ import annotations

import json
import math

import pytest
import torch

from rlhf_env.errors import ConfigError, ModelLoadError
from rlhf_env.feedback.learning.training.trainer import RewardTrainerConfig
from rlhf_env.rewards import EncoderHeadReward
from rlhf_env.rewards.encoder_head import EncoderHeadConfig
from rlhf_env.rewards.ensemble import EnsembleConfig
from rlhf_env.rewards.normalize import NormalizeConfig
from tests.crafted import evil_pickle, evil_torch_file


@pytest.mark.parametrize(("build", "words"), [
    (lambda: EncoderHeadConfig(max_length="256"), ["max_length", "'256'", "integer"]),
    (lambda: EncoderHeadConfig(normalize="no"), ["normalize", "True or False"]),
    (lambda: EncoderHeadConfig(backbone=3), ["backbone", "string"]),
    (lambda: NormalizeConfig(epsilon=math.nan), ["epsilon", "nan", "finite"]),
    (lambda: NormalizeConfig(clip=math.inf), ["clip", "inf"]),
    (lambda: EnsembleConfig(k="1"), ["k", "'1'"]),
    (lambda: RewardTrainerConfig(lr=math.inf), ["lr", "inf", "finite"]),
    (lambda: RewardTrainerConfig(epochs=2.5), ["epochs", "2.5", "integer"]),
    (lambda: RewardTrainerConfig(batch_size=True), ["batch_size", "True"]),
])
def test_configs_refuse_wrong_types_and_non_finite_values(build, words):
    with pytest.raises(ConfigError) as info:
        build()
    for word in words:
        assert word in str(info.value)


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    rm = EncoderHeadReward(backbone="tiny-random-bert", name="tiny-head")
    return rm.save_pretrained(tmp_path / "rm")


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(p.read_bytes()[:-7]),
    lambda p: p.write_bytes(b""),
    lambda p: p.write_bytes(b"\x00" * 64),
])
def test_corrupt_head_weights_are_a_clear_error(saved, damage):
    damage(saved / "head.safetensors")
    with pytest.raises(ModelLoadError, match=r"could not load the head weights .*save it again"):
        EncoderHeadReward.from_pretrained(saved)


@pytest.mark.parametrize("craft", [evil_pickle, evil_torch_file])
def test_a_crafted_weights_file_runs_nothing(saved, tmp_path, craft):
    marker = tmp_path / "ran"
    (saved / "head.safetensors").write_bytes(craft(marker))
    with pytest.raises(ModelLoadError):
        EncoderHeadReward.from_pretrained(saved)
    assert not marker.exists()


def test_a_broken_config_json_is_a_clear_error(saved):
    (saved / "config.json").write_text("{broken")
    with pytest.raises(ModelLoadError, match="not an encoder-head reward model folder"):
        EncoderHeadReward.from_pretrained(saved)


def test_saved_config_is_strict_json(tmp_path):
    rm = EncoderHeadReward(backbone="tiny-random-bert", name="tiny-head")
    rm.training_metadata = {"val_accuracy": math.nan}
    folder = rm.save_pretrained(tmp_path / "rm")
    body = json.loads((folder / "config.json").read_text(),
                      parse_constant=lambda c: pytest.fail(f"{c} in config.json"))
    assert body["training_metadata"] == {"val_accuracy": None}
