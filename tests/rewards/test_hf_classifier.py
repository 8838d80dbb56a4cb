"""HFClassifierReward on tiny BERT classifiers saved to disk: label choice, batching, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlhf_env.errors import ConfigError, ModelLoadError
from rlhf_env.rewards import HFClassifierReward
from rlhf_env.rewards.hf_classifier import resolve_label

PROMPTS = ["Review the café.", "Say hi.", "Describe the train.", "Rate it."]
RESPONSES = ["Lovely coffee, friendly staff and a quiet corner to read in.", "hi",
             "Late again, cold and crowded; I will not take it twice.", "ok fine"]
SENTIMENT3 = {0: "negative", 1: "neutral", 2: "positive"}


def _logits_one_by_one(rm: HFClassifierReward, prompts, responses) -> np.ndarray:
    """Reference: the raw model on each pair alone (no padding, no batching)."""
    rows = []
    with torch.no_grad():
        for p, r in zip(prompts, responses, strict=True):
            args = (r,) if rm.config.input_format == "response" else (p, r)
            enc = rm.tokenizer(*args, return_tensors="pt", truncation=True,
                               max_length=rm.max_length)
            rows.append(rm.model(**enc).logits[0].numpy())
    return np.stack(rows)


def test_single_logit_model_scores_the_logit(tiny_classifier_dir):
    rm = HFClassifierReward(str(tiny_classifier_dir(1)), batch_size=3)
    out = rm.score(PROMPTS, RESPONSES)
    assert out.dtype == np.float32 and out.shape == (4,)
    assert rm.label_index is None
    np.testing.assert_allclose(out, _logits_one_by_one(rm, PROMPTS, RESPONSES)[:, 0],
                               rtol=1e-4, atol=1e-5)


def test_two_labels_default_to_label_1_log_odds(tiny_classifier_dir):
    rm = HFClassifierReward(str(tiny_classifier_dir(2)), batch_size=2)
    assert (rm.label_index, rm.label_name) == (1, "LABEL_1")
    ref = _logits_one_by_one(rm, PROMPTS, RESPONSES)
    np.testing.assert_allclose(rm.score(PROMPTS, RESPONSES), ref[:, 1] - ref[:, 0],
                               rtol=1e-4, atol=1e-5)


def test_three_labels_pick_positive_by_name(tiny_classifier_dir):
    rm = HFClassifierReward(str(tiny_classifier_dir(3, SENTIMENT3)), input_format="response")
    assert rm.label_name == "positive"
    ref = torch.tensor(_logits_one_by_one(rm, PROMPTS, RESPONSES))
    expected = ref[:, 2] - torch.logsumexp(ref[:, :2], dim=1)
    np.testing.assert_allclose(rm.score(PROMPTS, RESPONSES), expected.numpy(), rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize(("label", "index"), [("NEUTRAL", 1), (0, 0), ("positive", 2)])
def test_explicit_label_by_name_or_index(tiny_classifier_dir, label, index):
    rm = HFClassifierReward(str(tiny_classifier_dir(3, SENTIMENT3)), label=label)
    assert rm.label_index == index


def test_resolve_label_rules():
    assert resolve_label({0: "LABEL_0"}, 1) is None
    assert resolve_label({0: "POS", 1: "NEG"}, 2) == 0
    assert resolve_label({0: "a", 1: "b"}, 2) == 1
    with pytest.raises(ConfigError, match="pass label="):
        resolve_label({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, 3)
    with pytest.raises(ConfigError, match="not one of"):
        resolve_label(SENTIMENT3, 3, "happy")
    with pytest.raises(ConfigError, match="out of range"):
        resolve_label(SENTIMENT3, 3, 3)


def test_input_format_changes_what_is_scored(tiny_classifier_dir):
    folder = str(tiny_classifier_dir(1))
    both = HFClassifierReward(folder).score(PROMPTS, RESPONSES)
    alone = HFClassifierReward(folder, input_format="response")
    assert not np.allclose(both, alone.score(PROMPTS, RESPONSES))
    np.testing.assert_allclose(alone.score(["x"] * 4, RESPONSES), alone.score(PROMPTS, RESPONSES))


def test_batching_by_length_matches_batch_of_one(tiny_classifier_dir):
    folder = str(tiny_classifier_dir(1))
    big = HFClassifierReward(folder, batch_size=16).score(PROMPTS * 3, RESPONSES[::-1] * 3)
    one = HFClassifierReward(folder, batch_size=1).score(PROMPTS * 3, RESPONSES[::-1] * 3)
    np.testing.assert_allclose(big, one, rtol=1e-4, atol=1e-5)


def test_long_inputs_are_truncated_to_the_model_limit(tiny_classifier_dir):
    rm = HFClassifierReward(str(tiny_classifier_dir(1)), max_length=512)
    assert rm.max_length == 128  # the tiny model's position embeddings
    out = rm.score(["p"], ["word " * 2000])
    assert np.isfinite(out).all()


def test_missing_folder_and_offline_hub_raise_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="local folder"):
        HFClassifierReward(str(tmp_path))
    with pytest.raises(ModelLoadError, match="Offline options"):
        HFClassifierReward("nobody-xyz/not-a-model")


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"max_length": 1},
                                    {"input_format": "prompt"}])
def test_config_is_validated(tiny_classifier_dir, kwargs):
    with pytest.raises(ConfigError):
        HFClassifierReward(str(tiny_classifier_dir(1)), **kwargs)
