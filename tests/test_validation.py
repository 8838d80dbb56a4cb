"""The shared checks: one wording for bad values, whole floats and NumPy ints accepted."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlhf_env.errors import ConfigError, FeedbackError
from rlhf_env.files import read_json, write_json
from rlhf_env.validation import check_bool, check_choice, check_float, check_int


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (np.int64(4), 4), (5.0, 5)])
def test_check_int_accepts_whole_numbers(value, expected):
    result = check_int("n", value, minimum=0)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", [1.7, "8", True, None, math.nan, math.inf, -1, [1]])
def test_check_int_refuses_the_rest_naming_argument_and_value(value):
    with pytest.raises(ConfigError) as info:
        check_int("n", value, minimum=0)
    assert str(info.value).startswith(f"n must be an integer >= 0, got {value!r}")


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_check_float_never_lets_a_non_finite_number_through(value):
    try:
        result = check_float("x", value, minimum=0.0)
    except ConfigError as exc:
        assert "x must be a finite number >= 0.0" in str(exc)
    else:
        assert math.isfinite(result) and result >= 0.0


def test_error_class_and_other_checks():
    with pytest.raises(FeedbackError, match="p must be a finite number, got 'a'"):
        check_float("p", "a", error=FeedbackError)
    with pytest.raises(ConfigError, match="True or False"):
        check_bool("flag", 1)
    with pytest.raises(ConfigError, match="one of 'a', 'b'"):
        check_choice("mode", ["a"], ("a", "b"))


def test_read_json_names_file_and_line_and_refuses_nan(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{\n  "a": 1,\n  "b": }\n')
    with pytest.raises(ConfigError, match=rf"{path}, line 3: invalid JSON"):
        read_json(path)
    path.write_text('{"a": NaN}')
    with pytest.raises(ConfigError, match="NaN is not valid JSON"):
        read_json(path)
    assert read_json(path, default=None) is None
    assert read_json(tmp_path / "missing.json", default={}) == {}
    write_json(path, {"a": math.inf})
    assert read_json(path) == {"a": None}


def test_tuple_fields_of_every_config_are_checked():
    """A number, None or a string where a tuple goes was a TypeError from inside (or was
    silently kept, e.g. LoopConfig.hidden=nan); now the config and field are named."""
    from agents.token_ppo.config import TokenPPOConfig
    from rlhf_env.control.loop import LoopConfig
    from rlhf_env.control.models import RewardNetConfig
    from rlhf_env.feedback.learning.labelers import SyntheticLabelerConfig
    from rlhf_env.rewards.heads import HeadConfig
    from rlhf_env.rewards.rules import KeywordConfig

    cases = [
        (LoopConfig, "hidden", float("nan"), "LoopConfig.hidden"),
        (LoopConfig, "hidden", "64", "LoopConfig.hidden"),
        (LoopConfig, "reward_inputs", None, "LoopConfig.reward_inputs"),
        (RewardNetConfig, "hidden", [64, 1.5], "RewardNetConfig.hidden[1]"),
        (HeadConfig, "hidden_sizes", 3, "HeadConfig.hidden_sizes"),
        (TokenPPOConfig, "allowed_token_ids", 5, "TokenPPOConfig.allowed_token_ids"),
        (TokenPPOConfig, "lora_target_modules", [1], "lora_target_modules[0]"),
        (SyntheticLabelerConfig, "rating_scale", 5, "SyntheticLabelerConfig.rating_scale"),
        (SyntheticLabelerConfig, "rating_scale", [1, 2, 3], "rating_scale"),
        (SyntheticLabelerConfig, "rating_scale", [1, float("inf")], "rating_scale[1]"),
        (SyntheticLabelerConfig, "population", ["a"], "population[0]"),
        (KeywordConfig, "keywords", None, "KeywordConfig.keywords"),
    ]
    for cls, name, value, words in cases:
        with pytest.raises(ConfigError) as info:
            cls(**{name: value})
        assert words in str(info.value), (cls, name, value, str(info.value))
    assert LoopConfig(hidden=[32, 32]).hidden == (32, 32)  # lists still work, as tuples
    assert KeywordConfig(keywords="thanks").keywords == ("thanks",)  # one word


def test_nested_head_config_and_huge_ints_for_floats():
    from rlhf_env.rewards.encoder_head import EncoderHeadConfig
    from rlhf_env.rewards.ensemble import EnsembleConfig

    with pytest.raises(ConfigError, match="head"):
        EncoderHeadConfig(head=1.5)
    EnsembleConfig(k=10**30)  # an int too big for NumPy was a TypeError
