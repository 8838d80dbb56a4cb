"""rlhf_env.configs: every config dataclass round-trips through a file; values are coerced by
annotation; bad keys and values name the file and the key."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path

import pytest

import agents
import rlhf_env
from rlhf_env.configs import (
    ConfigDefault,
    add_config_options,
    config_from_args,
    load_config,
    save_config,
)
from rlhf_env.errors import ConfigError, MissingDependencyError, UnknownNameError

MINIMAL = {
    "HFClassifierConfig": {"name_or_path": "some-owner/some-classifier"},
    "ConditionedConfig": {"vocab": {"expertise": ("doctor", "lawyer")}},
}
"""Configs with a required field (or one whose default is refused): the smallest instance."""

EXPECTED = {"TextEnvConfig", "ServeConfig", "ConditionedConfig", "RewardTrainerConfig",
            "SyntheticLabelerConfig", "NormalizeConfig", "EnsembleConfig", "KeywordConfig",
            "LengthConfig", "EncoderHeadConfig", "HFClassifierConfig", "HeadConfig",
            "LoopConfig", "RewardNetConfig", "StatsConfig", "SB3DemoConfig", "DemoConfig",
            "BestOfNConfig", "TokenPPOConfig", "SFTConfig"}


def _config_classes() -> dict[str, type]:
    """Every frozen ``*Config`` dataclass defined in rlhf_env or agents."""
    found: dict[str, type] = {}
    for package in (rlhf_env, agents):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if (isinstance(obj, type) and name.endswith("Config")
                        and obj.__module__ == module.__name__ and dataclasses.is_dataclass(obj)
                        and obj.__dataclass_params__.frozen):  # type: ignore[attr-defined]
                    found[f"{module.__name__}.{name}"] = obj
    return found


CONFIGS = _config_classes()


def test_discovery_finds_every_known_config():
    names = {cls.__name__ for cls in CONFIGS.values()}
    assert names >= EXPECTED, EXPECTED - names


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
@pytest.mark.parametrize("qualname", sorted(CONFIGS))
def test_every_config_round_trips(qualname, suffix, tmp_path):
    cls = CONFIGS[qualname]
    config = cls(**MINIMAL.get(cls.__name__, {}))
    path = save_config(config, tmp_path / f"config{suffix}")
    assert load_config(cls, path) == config
    assert path.read_text(encoding="utf-8").startswith(f"# {cls.__name__} ")


def test_non_default_values_round_trip(tmp_path):
    from agents.token_ppo import TokenPPOConfig
    from rlhf_env.feedback.learning.labelers import AnnotatorProfile, SyntheticLabelerConfig
    from rlhf_env.rewards.encoder_head import EncoderHeadConfig
    from rlhf_env.rewards.heads import HeadConfig
    from rlhf_env.text.core import TextEnvConfig

    configs = [
        TokenPPOConfig(allowed_token_ids=(3, 5), max_grad_norm=0.5,
                       missing_eos_penalty=-1.0, log_dir="runs/tb", lora_target_modules=("q",)),
        SyntheticLabelerConfig(rating_scale=(0.0, 10.0), population=(
            AnnotatorProfile("a", attributes={"expertise": "doctor"}),
            AnnotatorProfile("b", error_rate=0.2))),
        EncoderHeadConfig(head=HeadConfig(kind="mlp", hidden_sizes=(8, 4)), normalize=True),
        TextEnvConfig(gold=None, prompts=("Say \"hi\"\n", "tab\there"), action_vocab=5,
                      reward_kwargs={"target_words": 3, "shape": "linear"}),
    ]
    for config in configs:
        for suffix in (".toml", ".yaml"):
            path = save_config(config, tmp_path / f"c{suffix}")
            assert load_config(type(config), path) == config, (config, path.read_text())


def test_objects_cannot_be_saved_or_loaded_from_files(tmp_path):
    from rlhf_env.text.core import TextEnvConfig

    config = TextEnvConfig(reward_model=lambda p, r: [0.0] * len(p))
    with pytest.raises(ConfigError, match="reward_model holds a function object"):
        save_config(config, tmp_path / "c.toml")
    assert not (tmp_path / "c.toml").exists()
    with pytest.raises(ConfigError, match=r"^--set: prompts = \{a=1\}: expected one of: a list"):
        load_config(TextEnvConfig, overrides=["prompts={a=1}"])


class Scorer:
    def score(self, prompts, responses):
        return [0.0] * len(prompts)


@dataclasses.dataclass(frozen=True)
class HoldsObjectsConfig:
    scorer: Scorer | None = None
    hook: Callable[[int], int] | None = None
    steps: int = 1


def test_fields_that_hold_objects_are_refused_from_files_but_not_from_code(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('scorer = "mine"\n')
    with pytest.raises(ConfigError, match=rf"^{path}: scorer holds an object \(Scorer.*in code"):
        load_config(HoldsObjectsConfig, path)
    with pytest.raises(ConfigError, match=r"^--set: hook holds an object"):
        load_config(HoldsObjectsConfig, overrides=["hook=print"])
    scorer = Scorer()
    config = load_config(HoldsObjectsConfig, path=None, overrides=["steps=3"], scorer=scorer)
    assert config.scorer is scorer and config.steps == 3
    assert load_config(HoldsObjectsConfig, overrides=["scorer=none"]).scorer is None


# -- coercion -----------------------------------------------------------------------------
def test_strings_are_coerced_by_annotation():
    from agents.token_ppo import TokenPPOConfig
    from rlhf_env.control.loop import LoopConfig
    from rlhf_env.feedback.learning.training import RewardTrainerConfig
    from rlhf_env.web.config import ServeConfig

    c = load_config(TokenPPOConfig, overrides=[
        "batch_size=8", "minibatch_size=4", "learning_rate=3e-5", "adaptive_kl=yes",
        "allowed_token_ids=3,4,5", "lora_target_modules=[\"q_proj\"]", "log_dir=none",
        "missing_eos_penalty=1", "advantage=rloo", "group_size=2"])
    assert (c.batch_size, c.minibatch_size, c.learning_rate) == (8, 4, 3e-5)
    assert c.adaptive_kl is True and c.allowed_token_ids == (3, 4, 5)
    assert c.lora_target_modules == ("q_proj",) and c.log_dir is None
    assert c.missing_eos_penalty == 1.0 and isinstance(c.missing_eos_penalty, float)
    loop = load_config(LoopConfig, overrides=["hidden=32,16", "horizon=NULL", "seed=7"])
    assert loop.hidden == (32, 16) and loop.horizon is None and loop.seed == 7
    trainer = load_config(RewardTrainerConfig, overrides=["freeze_backbone=false",
                                                          "max_steps=100", "device=cpu"])
    assert trainer.freeze_backbone is False and trainer.max_steps == 100
    serve = load_config(ServeConfig, overrides=["clip_dir=clips/x"])
    assert serve.clip_dir == Path("clips/x")
    from rlhf_env.rewards.hf_classifier import HFClassifierConfig

    assert load_config(HFClassifierConfig, overrides=["name_or_path=m",
                                                      "label=none"]).label is None
    assert load_config(HFClassifierConfig, overrides=["name_or_path=m", "label=1"]).label == 1
    assert load_config(HFClassifierConfig, overrides=["name_or_path=m",
                                                      "label=POSITIVE"]).label == "POSITIVE"


def test_nested_dataclasses_from_tables_and_dotted_keys(tmp_path):
    from rlhf_env.rewards.encoder_head import EncoderHeadConfig

    path = tmp_path / "rm.toml"
    path.write_text('backbone = "tiny-random-bert"\n[head]\nkind = "mlp"\nhidden_sizes = [8]\n')
    c = load_config(EncoderHeadConfig, path, ["head.dropout=0.5"])
    assert c.backbone == "tiny-random-bert"
    assert (c.head.kind, c.head.hidden_sizes, c.head.dropout) == ("mlp", (8,), 0.5)


def test_layers_file_then_set_then_values(tmp_path):
    from rlhf_env.control.loop import LoopConfig

    path = tmp_path / "loop.toml"
    path.write_text("total_labels = 100\nrounds = 5\nseed = 1\n")
    c = load_config(LoopConfig, path, ["rounds=4", "seed=2"], seed=3)
    assert (c.total_labels, c.rounds, c.seed) == (100, 4, 3)


def test_a_yaml_file_reads_like_toml(tmp_path):
    from rlhf_env.control.loop import LoopConfig

    path = tmp_path / "loop.yml"
    path.write_text("total_labels: 100\nhidden: [8, 8]\nhorizon: null\n")
    c = load_config(LoopConfig, path)
    assert (c.total_labels, c.hidden, c.horizon) == (100, (8, 8), None)


def test_yaml_without_pyyaml_says_how_to_install(tmp_path, monkeypatch):
    import sys

    from rlhf_env.bench.stats import StatsConfig

    path = tmp_path / "s.yaml"
    path.write_text("reps: 5\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(MissingDependencyError, match="pip install pyyaml"):
        load_config(StatsConfig, path)


# -- errors ---------------------------------------------------------------------------------
def test_an_unknown_key_suggests_close_names_and_names_the_file(tmp_path):
    from agents.token_ppo import TokenPPOConfig

    path = tmp_path / "ppo.toml"
    path.write_text("learning_rat = 1e-5\n")
    with pytest.raises(UnknownNameError) as info:
        load_config(TokenPPOConfig, path)
    assert "'learning_rat'" in str(info.value) and "Did you mean 'learning_rate'" in str(info.value)
    assert str(path) in str(info.value)
    with pytest.raises(UnknownNameError, match=r"Did you mean 'head.kind'.*--set"):
        from rlhf_env.rewards.encoder_head import EncoderHeadConfig

        load_config(EncoderHeadConfig, overrides=["head.knd=mlp"])


def test_a_refused_value_names_the_file_and_the_key(tmp_path):
    from rlhf_env.control.loop import LoopConfig

    path = tmp_path / "loop.toml"
    path.write_text("rounds = 0\nseed = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(LoopConfig, path)
    message = str(info.value)
    assert message.startswith(f"{path}: rounds = 0: ") and "must be >= 1" in message
    assert "seed" not in message
    with pytest.raises(ConfigError, match=r"^--set: error_rate = 2: .*error_rate"):
        load_config(LoopConfig, path, ["rounds=3", "error_rate=2"])


def test_a_value_of_the_wrong_type_names_what_was_expected(tmp_path):
    from rlhf_env.control.loop import LoopConfig

    path = tmp_path / "loop.toml"
    path.write_text('rounds = "many"\n')
    with pytest.raises(ConfigError, match=rf"^{path}: rounds = 'many': expected an integer"):
        load_config(LoopConfig, path)
    with pytest.raises(ConfigError, match=r"hidden = 8,x: expected a list \(each item an int"):
        load_config(LoopConfig, overrides=["hidden=8,x"])


@pytest.mark.parametrize(("name", "text", "words"), [
    ("c.toml", "rounds = \n", "not valid TOML"),
    ("c.yaml", "rounds: [1\n", "line 2: not valid YAML"),
    ("c.toml", "", None),
    ("c.json", "{}", "must end in .toml, .yaml or .yml"),
    ("c.yaml", "- 1\n", "a table of settings"),
])
def test_bad_files_are_config_errors(tmp_path, name, text, words):
    from rlhf_env.control.loop import LoopConfig

    path = tmp_path / name
    path.write_text(text)
    if words is None:
        assert load_config(LoopConfig, path) == LoopConfig()
        return
    with pytest.raises(ConfigError, match=words):
        load_config(LoopConfig, path)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(LoopConfig, tmp_path / "missing.toml")


def test_a_required_field_must_be_set():
    from rlhf_env.rewards.hf_classifier import HFClassifierConfig

    with pytest.raises(ConfigError, match="needs name_or_path"):
        load_config(HFClassifierConfig)


def test_bad_set_syntax():
    from rlhf_env.bench.stats import StatsConfig

    for text in ("reps", "=3", "a..b=1"):
        with pytest.raises(ConfigError, match="--set takes KEY=VALUE"):
            load_config(StatsConfig, overrides=[text])


def test_save_is_atomic_and_refuses_unknown_suffixes(tmp_path):
    from rlhf_env.bench.stats import StatsConfig

    path = tmp_path / "s.toml"
    save_config(StatsConfig(reps=7), path)
    with pytest.raises(ConfigError, match=r"\.toml, \.yaml or \.yml"):
        save_config(StatsConfig(), tmp_path / "s.txt")
    assert load_config(StatsConfig, path).reps == 7
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]  # no temporary files left


# -- command line --------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_config_options(parser)
    parser.add_argument("--seed", type=int,
                        default=ConfigDefault("rlhf_env.bench.stats:StatsConfig", "seed"))
    parser.add_argument("--reps", type=int, default=None)
    return parser


def test_flags_win_only_when_given(tmp_path):
    from rlhf_env.bench.stats import StatsConfig

    path = tmp_path / "s.toml"
    path.write_text("reps = 10\nseed = 4\n")
    args = _parser().parse_args(["--config", str(path), "--set", "seed=5"])
    c = config_from_args(StatsConfig, args, seed=args.seed, reps=args.reps)
    assert (c.reps, c.seed) == (10, 5)
    args = _parser().parse_args(["--config", str(path), "--set", "seed=5", "--seed", "6",
                                 "--reps", "11"])
    c = config_from_args(StatsConfig, args, seed=args.seed, reps=args.reps)
    assert (c.reps, c.seed) == (11, 6)


def test_config_default_shows_the_dataclass_default():
    default = ConfigDefault("rlhf_env.control.loop:LoopConfig", "hidden")
    assert str(default) == "64,64"
    assert str(ConfigDefault("rlhf_env.rewards.encoder_head:EncoderHeadConfig",
                             "head.kind")) == "linear"
    # a nested default as the outer field's default instance has it (not the class's)
    assert str(ConfigDefault("rlhf_env.feedback.learning.training.conditioned:"
                             "ConditionedConfig", "head.kind")) == "mlp"
