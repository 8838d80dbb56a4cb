"""Bad input to the text envs: every case raises our error, naming the argument and value."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlhf_env.errors import ConfigError, PromptError
from rlhf_env.text.core import TextEnvConfig
from rlhf_env.text.prompts import PromptSource
from tests.text.helpers import make_env


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"kl_coef": "a"}, ["kl_coef", "'a'", "finite number"]),
    ({"kl_coef": math.nan}, ["kl_coef", "nan", "finite number"]),
    ({"kl_coef": math.inf}, ["kl_coef", "inf"]),
    ({"kl_coef": True}, ["kl_coef", "True"]),
    ({"max_response_tokens": "8"}, ["max_response_tokens", "'8'", "integer"]),
    ({"max_response_tokens": 2.5}, ["max_response_tokens", "2.5", "integer"]),
    ({"max_prompt_tokens": None}, ["max_prompt_tokens", "None", "integer"]),
    ({"long_prompt": 3}, ["long_prompt", "3", "string"]),
    ({"use_chat_template": "no"}, ["use_chat_template", "'no'", "True or False"]),
    ({"system_prompt": 7}, ["system_prompt", "7", "string"]),
])
def test_wrong_types_name_the_argument_and_value(kwargs, words):
    with pytest.raises(ConfigError) as info:
        TextEnvConfig(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_whole_floats_and_numpy_ints_are_still_accepted():
    import numpy as np

    cfg = TextEnvConfig(max_response_tokens=8.0, max_prompt_tokens=np.int64(12))
    assert cfg.max_response_tokens == 8 and type(cfg.max_prompt_tokens) is int


@pytest.mark.parametrize(("spec", "words"), [
    (1.5, ["action_vocab", "1.5", "float"]),
    ({"a": 1}, ["action_vocab", "dict"]),
    (object(), ["action_vocab", "object"]),
])
def test_action_vocab_of_the_wrong_type(spec, words):
    with pytest.raises(ConfigError) as info:
        make_env(action_vocab=spec)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("index", [1.7, "1", True, None, [0.5]])
def test_prompt_index_must_be_an_integer(index):
    env = make_env(prompts=["a", "b", "c"])
    with pytest.raises(ConfigError, match="prompt_index"):
        env.reset(seed=0, options={"prompt_index": index})


def test_blank_prompts_are_refused_not_dropped():
    with pytest.raises(PromptError, match=r"prompt 1 of prompts is empty or blank"):
        PromptSource(["first", "  ", "third"])
    with pytest.raises(PromptError, match="empty"):
        PromptSource(["", " "])


@pytest.mark.parametrize("suffix", [".csv", ".json", ".tsv", ""])
def test_prompt_files_of_other_types_are_refused(tmp_path, suffix):
    path = tmp_path / f"prompts{suffix}"
    path.write_text("prompt,label\nhello,1\n", encoding="utf-8")
    with pytest.raises(PromptError) as info:
        PromptSource.from_spec(path)
    assert str(path) in str(info.value) and ".txt" in str(info.value)


@pytest.mark.parametrize("suffix", [".txt", ".jsonl"])
def test_non_utf8_prompt_files_name_file_and_line(tmp_path, suffix):
    path = tmp_path / f"p{suffix}"
    first = '{"prompt": "fine"}\n' if suffix == ".jsonl" else "fine\n"
    path.write_bytes(first.encode() + b"caf\xe9\n")
    with pytest.raises(PromptError) as info:
        PromptSource.from_spec(path)
    assert f"{path}:2" in str(info.value) and "UTF-8" in str(info.value)


@pytest.mark.parametrize("line", ['{"prompt": 3}', '{"prompt": "  "}', '{"prompt": null}'])
def test_jsonl_prompts_must_be_text(tmp_path, line):
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "ok"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(PromptError, match=rf"{path}:2: 'prompt' must be a non-empty string"):
        PromptSource.from_spec(path)


_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                    st.text(max_size=4), st.lists(st.integers(0, 3), max_size=2))


@settings(max_examples=150, deadline=None)
@given(kl=_values, tokens=_values, long=_values)
def test_fuzzed_configs_are_valid_or_raise_config_error(kl, tokens, long):
    try:
        cfg = TextEnvConfig(kl_coef=kl, max_response_tokens=tokens, long_prompt=long)
    except ConfigError:
        return
    assert math.isfinite(cfg.kl_coef) and cfg.kl_coef >= 0
    assert isinstance(cfg.max_response_tokens, int) and cfg.max_response_tokens >= 1
    assert cfg.long_prompt in ("truncate", "error")


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"max_response_tokens": 10**12}, ["max_response_tokens", "1000000000000", "<= 65536"]),
    ({"max_prompt_tokens": 10**9}, ["max_prompt_tokens", "<= 65536"]),
    ({"task": 3}, ["task", "3 (int)", "task name"]),
    ({"task": None}, ["task", "None"]),
    ({"model": 3}, ["model", "3 (int)", "bundled name"]),
    ({"model": None}, ["model", "None"]),
    ({"tokenizer": 5}, ["tokenizer", "5 (int)", "loaded tokenizer"]),
    ({"reference_model": 5.0}, ["reference_model", "5.0"]),
    ({"reward_kwargs": None}, ["reward_kwargs", "None", "dict"]),
    ({"reward_kwargs": 5}, ["reward_kwargs", "5 (int)"]),
    ({"device": 5}, ["device", "5 (int)", "'cpu'"]),
    ({"device": "nonsense"}, ["device", "'nonsense'", "'cpu'"]),
    ({"device": "cuda:99"}, ["device", "cuda:99", "CUDA device"]),
])
def test_wrong_types_and_sizes_of_the_other_fields(kwargs, words):
    """Each was a TypeError/AttributeError/MemoryError from deep inside (or only failed
    once the reference model was loaded); now the config names it."""
    with pytest.raises(ConfigError) as info:
        TextEnvConfig(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_unknown_reward_kwargs_are_named():
    with pytest.raises(ConfigError) as info:
        make_env(reward_kwargs={"bogus": 1})
    assert "reward_kwargs" in str(info.value) and "bogus" in str(info.value)


@pytest.mark.parametrize("env_id", ["RLHF-Text-v0", "RLHF-TextToken-v0"])
@pytest.mark.parametrize(("num_envs", "words"), [
    (0, ">= 1"), (-1, ">= 1"), (1.5, "1.5"), ("2", "'2'"), (10**9, "<= 65536"),
])
def test_make_vec_num_envs_is_checked(env_id, num_envs, words):
    """Was a ValueError, a TypeError or a 477 GiB MemoryError."""
    import gymnasium as gym

    from tests.text.helpers import TINY

    with pytest.raises(ConfigError) as info:
        gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point",
                     **TINY)
    assert "num_envs" in str(info.value) and words in str(info.value)
