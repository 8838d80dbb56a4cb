"""Saved reward-model folders survive a change of working directory; a recorded backbone
that has moved fails at once with a message that says how to fix it."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rlhf_env.errors import ConfigError, ModelLoadError
from rlhf_env.models import loading, looks_like_path, model_source, tiny_encoder, tiny_tokenizer
from rlhf_env.rewards import (
    CallableReward,
    EncoderHeadReward,
    EnsembleReward,
    HFClassifierReward,
    NormalizedReward,
    make_reward_model,
)

PROMPTS = ["Review the café.", "Say hi.", "Describe the train."]
RESPONSES = ["Lovely coffee and friendly staff.", "hi", "Late again, cold and crowded."]


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything asks the hub (a path must never go there)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def refuse(source: str) -> str:
        raise AssertionError(f"asked the hub for {source!r}")

    monkeypatch.setattr(loading, "hub_unavailable", refuse)


@pytest.fixture
def workdirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Two working directories; the test starts in the first, which holds a tiny encoder
    folder ``enc`` (a user's own backbone, given by a relative path)."""
    first, second = tmp_path / "project", tmp_path / "elsewhere"
    first.mkdir()
    second.mkdir()
    tiny_encoder(seed=3).save_pretrained(first / "enc")
    tiny_tokenizer().save_pretrained(first / "enc")
    monkeypatch.chdir(first)
    return first, second


def _head(backbone: str = "enc") -> EncoderHeadReward:
    torch.manual_seed(0)
    return EncoderHeadReward(backbone=backbone, input_format="response", name="mine")


def test_a_relative_backbone_is_recorded_by_its_absolute_path(workdirs):
    first, _ = workdirs
    rm = _head()
    assert rm.config.backbone == str(first / "enc")
    rm.save_pretrained("rm")
    saved = json.loads((first / "rm" / "config.json").read_text())
    assert saved["backbone"] == str(first / "enc")
    assert saved["backbone_source"] == "local"
    assert saved["rlhf_env_version"]


def test_the_saved_folder_loads_from_another_working_directory(workdirs, no_hub,
                                                               monkeypatch):
    first, second = workdirs
    rm = _head()
    expected = rm.score(PROMPTS, RESPONSES)
    rm.save_pretrained("rm")
    monkeypatch.chdir(second)
    for loaded in (EncoderHeadReward.from_pretrained(first / "rm"),
                   make_reward_model(str(first / "rm"))):
        np.testing.assert_allclose(loaded.score(PROMPTS, RESPONSES), expected, rtol=1e-5)


def test_a_moved_backbone_fails_fast_naming_it_and_the_fixes(workdirs, no_hub, monkeypatch):
    first, second = workdirs
    rm = _head()
    expected = rm.score(PROMPTS, RESPONSES)
    rm.save_pretrained("rm")
    shutil.move(first / "enc", second / "enc-moved")
    monkeypatch.chdir(second)
    start = time.perf_counter()
    with pytest.raises(ModelLoadError) as info:
        make_reward_model(str(first / "rm"))
    assert time.perf_counter() - start < 2.0
    msg = str(info.value)
    assert str(first / "enc") in msg and "no longer exists" in msg
    assert "backbone=" in msg and "move its backbone back" in msg
    moved = EncoderHeadReward.from_pretrained(first / "rm", backbone="enc-moved")
    np.testing.assert_allclose(moved.score(PROMPTS, RESPONSES), expected, rtol=1e-5)
    assert moved.config.backbone == str(second / "enc-moved")
    via_spec = make_reward_model(str(first / "rm"), backbone=second / "enc-moved")
    np.testing.assert_allclose(via_spec.score(PROMPTS, RESPONSES), expected, rtol=1e-5)


def test_a_backbone_of_another_width_is_refused(workdirs):
    _head().save_pretrained("rm")
    with pytest.raises(ModelLoadError, match="32-wide embeddings but the backbone"):
        EncoderHeadReward.from_pretrained("rm", backbone="all-minilm-l6-v2")


def test_a_missing_path_never_reaches_the_hub(workdirs, no_hub):
    start = time.perf_counter()
    for spec in ("./no-such-encoder", "models/enc/v2", str(workdirs[0] / "gone")):
        with pytest.raises(ModelLoadError, match="no folder at"):
            EncoderHeadReward(backbone=spec)
        with pytest.raises(ModelLoadError, match="no folder at"):
            loading.load_sentence_encoder(spec)
        with pytest.raises(ModelLoadError, match="no reward-model folder at"):
            make_reward_model(spec)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(("text", "is_path"), [
    ("./x", True), ("../x", True), ("~/x", True), ("/abs/x", True), ("a/b/c", True),
    ("C:\\models\\x", True), ("x/", True), ("owner/name", False), ("all-minilm-l6-v2", False),
])
def test_looks_like_path(text, is_path):
    assert looks_like_path(text) is is_path


def test_model_source_kinds(workdirs):
    first, _ = workdirs
    assert model_source("tiny-random-bert").to_dict() == {"kind": "bundled",
                                                          "location": "tiny-random-bert"}
    assert model_source("enc").to_dict() == {"kind": "local", "location": str(first / "enc")}
    assert model_source("org/model").kind == "hub"


# -- HF classifiers --------------------------------------------------------------------------


def test_a_classifier_saves_a_plain_transformers_folder(tiny_classifier_dir, tmp_path,
                                                        monkeypatch):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    monkeypatch.chdir(tiny_classifier_dir(3, {0: "negative", 1: "neutral", 2: "positive"}))
    rm = HFClassifierReward(".", label="neutral", input_format="response", batch_size=2)
    assert os.path.isabs(rm.config.name_or_path)
    expected = rm.score(PROMPTS, RESPONSES)
    rm.save_pretrained(tmp_path / "clf")
    plain = AutoModelForSequenceClassification.from_pretrained(tmp_path / "clf")
    assert plain.config.id2label[1] == "neutral"
    AutoTokenizer.from_pretrained(tmp_path / "clf")
    monkeypatch.chdir(tmp_path)
    loaded = make_reward_model("clf")
    assert isinstance(loaded, HFClassifierReward)
    assert (loaded.label_name, loaded.config.input_format, loaded.config.batch_size) == (
        "neutral", "response", 2)
    np.testing.assert_allclose(loaded.score(PROMPTS, RESPONSES), expected, rtol=1e-5)


def test_saving_refuses_to_replace_a_folder_that_is_not_a_save(tiny_classifier_dir, tmp_path):
    rm = HFClassifierReward(str(tiny_classifier_dir(1)))
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and holds no earlier save"):
        rm.save_pretrained(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    rm.save_pretrained(tmp_path / "clf")
    rm.save_pretrained(tmp_path / "clf")  # an earlier save is replaced


# -- composites ----------------------------------------------------------------------------


def test_an_ensemble_saves_its_members_and_loads_anywhere(workdirs, tiny_classifier_dir,
                                                          monkeypatch):
    first, second = workdirs
    members = [_head(), "vader", HFClassifierReward(str(tiny_classifier_dir(1)))]
    ens = EnsembleReward(members, reduce="mean_minus_std", k=0.5, name="three")
    expected = ens.score(PROMPTS, RESPONSES)
    ens.save_pretrained("ens")
    saved = json.loads((first / "ens" / "config.json").read_text())
    assert saved["members"] == [{"folder": "members/0"}, {"spec": "vader"},
                                {"folder": "members/2"}]
    monkeypatch.chdir(second)
    loaded = make_reward_model(str(first / "ens"))
    assert isinstance(loaded, EnsembleReward) and loaded.name == "three"
    assert (loaded.config.reduce, loaded.config.k) == ("mean_minus_std", 0.5)
    np.testing.assert_allclose(loaded.score(PROMPTS, RESPONSES), expected, rtol=1e-5)


def test_an_ensemble_with_an_unsaveable_member_says_which(tmp_path):
    ens = EnsembleReward([CallableReward(lambda p, r: 1.0, name="lambda-one"), "vader"])
    with pytest.raises(ConfigError, match="'lambda-one': it has no save_pretrained"):
        ens.save_pretrained(tmp_path / "ens")
    assert not (tmp_path / "ens").exists()


def test_a_normalized_model_keeps_its_statistics(workdirs, monkeypatch):
    first, second = workdirs
    norm = NormalizedReward(_head(), clip=3.0)
    norm.score(PROMPTS, RESPONSES)
    norm.score(PROMPTS[:2], RESPONSES[:2])
    with norm.frozen():
        expected = norm.score(PROMPTS, RESPONSES)
    norm.save_pretrained("norm")
    monkeypatch.chdir(second)
    loaded = make_reward_model(str(first / "norm"))
    assert isinstance(loaded, NormalizedReward)
    assert loaded.state_dict() == pytest.approx(norm.state_dict())
    assert loaded.config.clip == 3.0
    with loaded.frozen():
        np.testing.assert_allclose(loaded.score(PROMPTS, RESPONSES), expected, rtol=1e-5)
