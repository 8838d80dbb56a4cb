"""TokenPPOConfig(reward_model=...): the trainer builds its env with it; bad values fail
early and say what is accepted."""

from __future__ import annotations

import numpy as np
import pytest

from agents.token_ppo import TokenPPOConfig, TokenPPOTrainer, load_checkpoint, save_checkpoint
from rlhf_env.errors import ConfigError, UnknownNameError
from rlhf_env.rewards import CallableReward, EncoderHeadReward
from rlhf_env.text.core import text_core

SMALL = {"model": "tiny-random-llama", "task": "keyword", "batch_size": 4, "minibatch_size": 2,
         "max_new_tokens": 3, "progress_bar": False}


def _exclamations(prompts, responses):
    return [float(r.count("!")) for r in responses]


@pytest.mark.parametrize(("spec", "error", "match"), [
    ("vadr", UnknownNameError, "Did you mean 'vader'"),
    ("./no-such-reward-model", ConfigError, "there is no folder at"),
    (3, ConfigError, "reward_model must be a reward-model name"),
    ("  ", ConfigError, "must not be empty"),
])
def test_bad_reward_models_fail_in_the_config(spec, error, match):
    with pytest.raises(error, match=match):
        TokenPPOConfig(reward_model=spec)


def test_a_relative_folder_becomes_absolute(tmp_path, monkeypatch):
    torch_model = EncoderHeadReward(backbone="tiny-random-bert")
    torch_model.save_pretrained(tmp_path / "rm")
    monkeypatch.chdir(tmp_path)
    assert TokenPPOConfig(reward_model="rm").reward_model == str(tmp_path / "rm")
    assert TokenPPOConfig(reward_model="vader").reward_model == "vader"
    assert TokenPPOConfig(reward_model="org/classifier").reward_model == "org/classifier"


def test_the_trainer_builds_its_env_with_the_reward_model(word_ids):
    cfg = TokenPPOConfig(**SMALL, reward_model=_exclamations, allowed_token_ids=word_ids)
    trainer = TokenPPOTrainer(cfg)
    try:
        reward_model = text_core(trainer.env).reward_model
        assert isinstance(reward_model, CallableReward)
        m = trainer.step()
        for sample in m["samples"]:
            assert sample["score"] == sample["response"].count("!")
    finally:
        trainer.close()


def test_a_named_reward_model_reaches_the_env():
    trainer = TokenPPOTrainer(TokenPPOConfig(**SMALL, reward_model="length"))
    try:
        assert type(text_core(trainer.env).reward_model).__name__ == "LengthReward"
    finally:
        trainer.close()


def test_a_reward_model_and_a_ready_env_conflict(make_env):
    cfg = TokenPPOConfig(**SMALL, reward_model="vader")
    with pytest.raises(ConfigError, match="reward_model is used only when the trainer builds"):
        TokenPPOTrainer(cfg, env=make_env(4, 3))


def test_checkpoints_record_a_reward_model_object_by_name(tmp_path, word_ids):
    reward = CallableReward(_exclamations, name="bangs")
    cfg = TokenPPOConfig(**SMALL, reward_model=reward, allowed_token_ids=word_ids)
    assert cfg.to_dict()["reward_model"] == "<bangs>"
    first = TokenPPOTrainer(cfg)
    try:
        first.step()
        save_checkpoint(first, tmp_path / "ckpt")
        second = load_checkpoint(TokenPPOTrainer(cfg), tmp_path / "ckpt")
        assert second.step_count == 1
        assert np.isclose(second.metrics[0]["rlhf/score"], first.metrics[0]["rlhf/score"])
        second.close()
    finally:
        first.close()
