"""make_reward_model / register_reward_model / list_reward_models, including plug-ins."""

from __future__ import annotations

import importlib.metadata
import textwrap

import numpy as np
import pytest

from rlhf_env.errors import ConfigError, ModelLoadError, UnknownNameError
from rlhf_env.rewards import (
    CallableReward,
    KeywordReward,
    LengthReward,
    VaderReward,
    list_reward_models,
    make_reward_model,
    register_reward_model,
    registry,
)


@pytest.fixture(autouse=True)
def _private_registry(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {})


def test_builtin_names_are_listed():
    assert {"sentiment", "vader", "keyword", "length"} <= set(list_reward_models())
    assert isinstance(make_reward_model("vader"), VaderReward)
    rm = make_reward_model("keyword", keywords=["yes"])
    assert isinstance(rm, KeywordReward) and rm.config.keywords == ("yes",)
    assert make_reward_model("length", target_words=7).config.target_words == 7


def test_unknown_name_suggests_close_names():
    with pytest.raises(UnknownNameError, match="Did you mean 'vader'") as err:
        make_reward_model("vadr")
    assert "Known reward models" in str(err.value)


def test_register_and_overwrite():
    register_reward_model("double", lambda scale=2.0: CallableReward(
        lambda p, r: scale * len(r), name="double"))
    assert "double" in list_reward_models()
    assert make_reward_model("double", scale=3.0).score(["p"], ["ab"]).tolist() == [6.0]
    with pytest.raises(ConfigError, match="already registered"):
        register_reward_model("double", LengthReward)
    with pytest.raises(ConfigError, match="already registered"):
        register_reward_model("vader", LengthReward)
    register_reward_model("double", LengthReward, overwrite=True)
    assert isinstance(make_reward_model("double"), LengthReward)


def test_register_import_path_string():
    register_reward_model("len2", "rlhf_env.rewards.rules:LengthReward")
    assert make_reward_model("len2", target_words=2).score(["p"], ["a b"]).tolist() == [1.0]
    with pytest.raises(ConfigError):
        register_reward_model("bad", 42)  # type: ignore[arg-type]


def test_object_callable_and_class_specs(fixed_reward):
    obj = fixed_reward(np.ones(1))
    assert make_reward_model(obj) is obj
    with pytest.raises(ConfigError, match="already a reward model"):
        make_reward_model(obj, scale=2)
    wrapped = make_reward_model(lambda p, r: 1.0, name="const")
    assert isinstance(wrapped, CallableReward) and wrapped.name == "const"
    assert isinstance(make_reward_model(LengthReward, target_words=3), LengthReward)
    with pytest.raises(ConfigError, match="cannot make a reward model"):
        make_reward_model(3.5)


def _write_plugin(tmp_path, entry_points: str) -> None:
    (tmp_path / "fake_rm_plugin.py").write_text(textwrap.dedent("""
        from rlhf_env.rewards import CallableReward

        def make(bonus=1.0):
            return CallableReward(lambda p, r: bonus, name="plugged")

        READY = CallableReward(lambda p, r: 7.0, name="ready")
    """))
    dist = tmp_path / "fake_rm_plugin-1.2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-rm-plugin\nVersion: 1.2\n")
    (dist / "entry_points.txt").write_text(f"[rlhf_env.reward_models]\n{entry_points}")


def test_entry_point_plugin_from_installed_distribution(tmp_path, monkeypatch):
    _write_plugin(tmp_path, "plugged = fake_rm_plugin:make\nready = fake_rm_plugin:READY\n"
                            "broken = fake_rm_missing_module:make\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert {"plugged", "ready", "broken"} <= set(list_reward_models())
    assert make_reward_model("plugged", bonus=2.5).score(["p"], ["r"]).tolist() == [2.5]
    assert make_reward_model("ready").score(["p"], ["r"]).tolist() == [7.0]
    with pytest.raises(ModelLoadError, match=r"'broken'.*'fake-rm-plugin' \(version 1.2\)"):
        make_reward_model("broken")


def test_entry_points_are_looked_up_lazily_via_importlib_metadata(monkeypatch):
    ep = importlib.metadata.EntryPoint(name="lazy", value="rlhf_env.rewards.rules:LengthReward",
                                       group=registry.ENTRY_POINT_GROUP)
    calls = []

    def fake_entry_points(**kwargs):
        calls.append(kwargs)
        return [ep] if kwargs.get("group") == registry.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    assert isinstance(make_reward_model("lazy"), LengthReward)
    assert calls == [{"group": registry.ENTRY_POINT_GROUP}]


def test_encoder_head_folder_spec(tmp_path):
    from rlhf_env.rewards import EncoderHeadReward

    rm = EncoderHeadReward(backbone="tiny-random-bert", input_format="response")
    folder = rm.save_pretrained(tmp_path / "head")
    loaded = make_reward_model(folder)
    assert isinstance(loaded, EncoderHeadReward)
    np.testing.assert_array_equal(loaded.score(["p"], ["hello"]), rm.score(["p"], ["hello"]))
    assert isinstance(make_reward_model(str(folder)), EncoderHeadReward)


def test_classifier_folder_spec(tiny_classifier_dir):
    from rlhf_env.rewards import HFClassifierReward

    rm = make_reward_model(str(tiny_classifier_dir(2)), batch_size=4)
    assert isinstance(rm, HFClassifierReward) and rm.config.batch_size == 4


def test_folder_without_config_and_hub_id(tmp_path):
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        make_reward_model(tmp_path)
    with pytest.raises(ModelLoadError, match="Offline options"):
        make_reward_model("someone-xyz/missing-reward-model")


def test_folder_formats_dispatch_on_the_config_format(tmp_path):
    import json

    from rlhf_env.errors import ConfigError
    from rlhf_env.rewards import make_reward_model
    from rlhf_env.rewards.registry import FOLDER_FORMATS, register_folder_format

    class Loader:
        @classmethod
        def from_pretrained(cls, folder, **kwargs):
            return ("loaded", str(folder), kwargs)

    import sys
    import types

    module = types.ModuleType("fake_format_module")
    module.Loader = Loader
    sys.modules["fake_format_module"] = module
    (tmp_path / "config.json").write_text(json.dumps({"format": "test.fake"}), encoding="utf-8")
    register_folder_format("test.fake", "fake_format_module:Loader")
    try:
        assert make_reward_model(str(tmp_path), x=1) == ("loaded", str(tmp_path), {"x": 1})
        with pytest.raises(ConfigError, match="registered already"):
            register_folder_format("test.fake", "fake_format_module:Loader")
    finally:
        FOLDER_FORMATS.pop("test.fake")
        sys.modules.pop("fake_format_module")
