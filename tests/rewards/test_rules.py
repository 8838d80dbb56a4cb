"""Rule-based reward models: keywords, length, VADER."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.errors import ConfigError
from rlhf_env.rewards import KeywordReward, LengthReward, VaderReward


def test_keyword_counts_whole_words_case_insensitively():
    rm = KeywordReward(["great", "thank you"])
    out = rm.score(["p"] * 3, ["GREAT, great! greatest", "Thank you, thank   you", "ungreat"])
    assert out.dtype == np.float32
    assert out.tolist() == [2.0, 1.0, 0.0]


def test_keyword_modes_and_avoid_words():
    text = ["good good bad"]
    assert KeywordReward(["good", "nice"], mode="presence").score(["p"], text).tolist() == [1.0]
    assert KeywordReward(["good", "nice"], mode="fraction").score(["p"], text).tolist() == [0.5]
    assert KeywordReward(["good"], avoid=["bad"]).score(["p"], text).tolist() == [1.0]
    assert KeywordReward(["good"], max_count=1).score(["p"], text).tolist() == [1.0]


def test_keyword_handles_symbols_in_words():
    assert KeywordReward(["c++"]).score(["p"], ["I like C++ and c++."]).tolist() == [2.0]


@pytest.mark.parametrize("kwargs", [{"keywords": []}, {"keywords": [""]}, {"mode": "sum"},
                                    {"max_count": 0}])
def test_keyword_config_is_validated(kwargs):
    with pytest.raises(ConfigError):
        KeywordReward(**kwargs)


def test_length_peaks_at_target():
    rm = LengthReward(4, width=2.0)
    texts = ["a b", "a b c d", "a b c d e f", " ".join("w" * 10)]
    out = rm.score([""] * 4, texts)
    assert out[1] == pytest.approx(1.0)
    assert out[0] == pytest.approx(out[2]) == pytest.approx(np.exp(-0.5))
    assert out.argmax() == 1


def test_length_linear_shape_goes_negative():
    out = LengthReward(2, width=1.0, shape="linear").score([""] * 2, ["a b", "a b c d e"])
    assert out.tolist() == [1.0, -2.0]


@pytest.mark.parametrize("kwargs", [{"target_words": -1}, {"width": 0.0}, {"shape": "box"}])
def test_length_config_is_validated(kwargs):
    with pytest.raises(ConfigError):
        LengthReward(**kwargs)


def test_vader_scores_sentiment_direction():
    rm = VaderReward()
    out = rm.score([""] * 3, ["I love this, it is wonderful!", "The box is on the table.",
                              "This is awful, I hate it."])
    assert out.dtype == np.float32
    assert out[0] > 0.5 > out[1] > -0.5 > out[2]
    assert out[1] == pytest.approx(0.0)
