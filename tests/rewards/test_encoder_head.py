"""EncoderHeadReward on the tiny random BERT: forward vs score, caching, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rlhf_env.errors import ConfigError, ModelLoadError, RewardModelError
from rlhf_env.rewards import EncoderHeadReward, HeadConfig
from rlhf_env.rewards.encoder_head import EncoderHeadConfig

PROMPTS = ["Review the café.", "Say hi.", "Describe the train."]
RESPONSES = ["Lovely coffee and friendly staff.", "hi", "Late again, cold and crowded."]


def _model(**fields) -> EncoderHeadReward:
    torch.manual_seed(0)
    return EncoderHeadReward(backbone="tiny-random-bert", name="tiny-head", **fields)


def test_score_is_float32_and_matches_forward():
    rm = _model()
    out = rm.score(PROMPTS, RESPONSES)
    assert out.dtype == np.float32 and out.shape == (3,)
    with torch.no_grad():
        ref = rm(**rm.tokenize(PROMPTS, RESPONSES))
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-5, atol=1e-6)


def test_forward_trains_head_only_when_backbone_frozen():
    rm = _model()
    rm.train()
    assert not rm.encoder.training  # frozen backbone stays in eval mode
    rm(**rm.tokenize(PROMPTS, RESPONSES)).sum().backward()
    assert rm.head.weight.grad is not None and rm.head.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in rm.encoder.parameters())


def test_unfrozen_backbone_gets_gradients():
    rm = _model(freeze_backbone=False)
    rm.train()
    rm(**rm.tokenize(PROMPTS, RESPONSES)).sum().backward()
    grads = [p.grad for p in rm.encoder.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert rm.cache.max_size == 0


def test_embedding_cache_reuses_texts():
    rm = _model(input_format="response")
    first = rm.score(PROMPTS, RESPONSES)
    assert (rm.cache.hits, rm.cache.misses) == (0, 3)
    again = rm.score(["other"] * 3, RESPONSES)  # prompts are ignored with input_format=response
    assert rm.cache.hits == 3
    np.testing.assert_array_equal(first, again)
    rm.load_state_dict(rm.state_dict())
    assert len(rm.cache) == 0


@pytest.mark.parametrize("head", [HeadConfig(), HeadConfig(kind="mlp", hidden_sizes=(8, 4))])
def test_save_load_round_trip_gives_identical_scores(tmp_path, head):
    rm = _model(head=head, input_format="response")
    rm.label_info = {"higher": "better"}
    rm.training_metadata = {"seed": 3}
    folder = rm.save_pretrained(tmp_path / "rm")
    body = json.loads((folder / "config.json").read_text())
    assert body["backbone"] == "tiny-random-bert" and body["backbone_saved"] is False
    assert body["head"]["kind"] == head.kind and body["input_format"] == "response"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "head.safetensors"]
    loaded = EncoderHeadReward.from_pretrained(folder)
    np.testing.assert_array_equal(loaded.score(PROMPTS, RESPONSES), rm.score(PROMPTS, RESPONSES))
    assert loaded.label_info == {"higher": "better"}
    assert loaded.training_metadata == {"seed": 3} and loaded.name == "tiny-head"


def test_fine_tuned_backbone_is_saved_with_the_head(tmp_path):
    rm = _model(freeze_backbone=False)
    with torch.no_grad():
        for p in rm.encoder.parameters():
            p.add_(0.05)
    folder = rm.save_pretrained(tmp_path / "ft")
    assert json.loads((folder / "config.json").read_text())["backbone_saved"] is True
    assert (folder / "backbone" / "config.json").is_file()
    loaded = EncoderHeadReward.from_pretrained(folder)
    np.testing.assert_allclose(loaded.score(PROMPTS, RESPONSES), rm.score(PROMPTS, RESPONSES),
                               rtol=1e-5, atol=1e-6)
    fresh = EncoderHeadReward.from_pretrained(folder, freeze_backbone=True)
    assert fresh.cache.max_size > 0


def test_nan_head_raises_naming_the_model():
    rm = _model()
    with torch.no_grad():
        rm.head.bias.fill_(float("nan"))
    with pytest.raises(RewardModelError, match=r"'tiny-head' returned NaN for 3 of 3"):
        rm.score(PROMPTS, RESPONSES)


def test_empty_batch_returns_empty_scores():
    assert _model().score([], []).shape == (0,)


@pytest.mark.parametrize("fields", [{"pooling": "max"}, {"max_length": 1},
                                    {"input_format": "both"}, {"head": {"kind": "rnn"}},
                                    {"head": {"kind": "mlp", "hidden_sizes": ()}},
                                    {"head": {"width": 3}}])
def test_config_is_validated(fields):
    with pytest.raises(ConfigError):
        EncoderHeadConfig(**fields)


def test_from_pretrained_only_overrides_weight_free_settings(tmp_path):
    folder = _model().save_pretrained(tmp_path / "rm")
    assert EncoderHeadReward.from_pretrained(folder, batch_size=7).config.batch_size == 7
    with pytest.raises(ConfigError, match=r"cannot override \['head'\]"):
        EncoderHeadReward.from_pretrained(folder, head=HeadConfig(kind="mlp"))


def test_from_pretrained_rejects_other_folders(tmp_path):
    with pytest.raises(ModelLoadError, match="not an encoder-head"):
        EncoderHeadReward.from_pretrained(tmp_path)


# -- backbone precision --------------------------------------------------------------------

SCORE_BOUNDS = {"bfloat16": (0.06, 0.03), "int8": (0.02, 0.01)}
"""Largest allowed (max, mean) abs score difference from float32 on the tiny BERT with a
seeded head (scores spread with std ~0.5; measured: bfloat16 0.020 / 0.009, int8 0.002 /
0.001)."""
MANY_PROMPTS = [f"Prompt number {i}." for i in range(16)]
MANY_RESPONSES = [f"a response {'good ' * (i % 3)}with {i} words" for i in range(16)]


def _scoring_model(**fields) -> EncoderHeadReward:
    rm = _model(input_format="prompt+response", cache_size=0, **fields)
    with torch.no_grad():
        rm.head.weight.copy_(torch.randn(rm.head.weight.shape,
                                         generator=torch.Generator().manual_seed(1)))
    return rm


@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_backbone_precision_runs_the_encoder_lower_within_bounds(precision):
    from rlhf_env.models import model_precision

    rm = _scoring_model()
    fast = rm.at_precision(precision)
    assert fast is not rm and fast.config.backbone_precision == precision
    assert model_precision(fast.encoder) == precision
    assert model_precision(rm.encoder) == "float32"  # the original is left as it was
    assert fast.head.weight.dtype == torch.float32
    torch.testing.assert_close(fast.head.weight, rm.head.weight)
    diff = np.abs(fast.score(MANY_PROMPTS, MANY_RESPONSES) - rm.score(MANY_PROMPTS, MANY_RESPONSES))
    worst, mean = SCORE_BOUNDS[precision]
    assert 0 < diff.max() < worst and diff.mean() < mean
    assert rm.at_precision("float32") is rm and fast.at_precision(precision) is fast


def test_backbone_precision_from_the_config_and_on_load(tmp_path):
    from rlhf_env.models import model_precision

    rm = _model(backbone_precision="bfloat16")
    assert model_precision(rm.encoder) == "bfloat16"
    out = rm.score(PROMPTS, RESPONSES)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    _model().save_pretrained(tmp_path / "rm")
    loaded = EncoderHeadReward.from_pretrained(tmp_path / "rm", backbone_precision="int8")
    assert model_precision(loaded.encoder) == "int8"


def test_backbone_precision_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(ConfigError, match="backbone_precision must be one of"):
        EncoderHeadConfig(backbone_precision="fp8")
    with pytest.raises(ConfigError, match="set freeze_backbone=True"):
        EncoderHeadConfig(backbone_precision="bfloat16", freeze_backbone=False)
    rm = _model(backbone_precision="bfloat16")
    with pytest.raises(ConfigError, match="save_backbone=False"):
        rm.save_pretrained(tmp_path / "rm", save_backbone=True)
    with pytest.raises(ConfigError, match="convert a float32 model"):
        rm.at_precision("int8")
