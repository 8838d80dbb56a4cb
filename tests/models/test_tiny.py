"""Tiny models from configs: seeding, sizes, generation, and the save/load round trip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from rlhf_env.errors import ConfigError, ModelLoadError
from rlhf_env.models import (
    load_causal_lm,
    load_sentence_encoder,
    load_tokenizer,
    mean_pool,
    tiny_causal_lm,
    tiny_encoder,
)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_tiny_lm_is_deterministic_under_seed():
    assert _same_weights(tiny_causal_lm(seed=0), tiny_causal_lm(seed=0))
    assert not _same_weights(tiny_causal_lm(seed=0), tiny_causal_lm(seed=1))


def test_tiny_encoder_is_deterministic_under_seed():
    assert _same_weights(tiny_encoder(seed=4), tiny_encoder(seed=4))
    assert not _same_weights(tiny_encoder(seed=4), tiny_encoder(seed=5))


def test_building_a_tiny_model_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny_causal_lm(seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_tiny_lm_sizes_match_the_docs():
    """bundled.py: a 2-layer, 64-wide random Llama over the 2,048-token tiny tokenizer."""
    model = tiny_causal_lm()
    cfg = model.config
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.vocab_size) == (2, 64, 2048)
    assert model.get_input_embeddings().weight.shape == (2048, 64)
    assert model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert _n_params(model) == 205_120
    assert not model.training


def test_tiny_encoder_sizes_match_the_docs():
    """bundled.py: a 2-layer, 32-wide random BERT over the tiny tokenizer."""
    model = tiny_encoder()
    cfg = model.config
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.vocab_size) == (2, 32, 2048)
    assert _n_params(model) == 90_944


def test_overrides_edit_the_config():
    model = tiny_causal_lm(num_hidden_layers=1, hidden_size=32, intermediate_size=64)
    assert len(model.model.layers) == 1
    assert model.config.hidden_size == 32


def test_load_causal_lm_tiny_matches_the_builder_and_seed():
    model = load_causal_lm("tiny-random-llama", seed=3)
    assert _same_weights(model, tiny_causal_lm(seed=3))
    assert not model.training
    assert load_causal_lm("tiny-random-llama", dtype=torch.float64).dtype == torch.float64


def test_kind_mismatch_is_a_config_error():
    with pytest.raises(ConfigError, match=re.escape(
        "'tiny-random-bert' is a bundled sentence encoder, not a causal LM; "
        "load it with load_sentence_encoder()."
    )):
        load_causal_lm("tiny-random-bert")
    with pytest.raises(ConfigError, match=re.escape(
        "'tiny-random-llama' is a bundled causal LM, not a sentence encoder; "
        "load it with load_causal_lm()."
    )):
        load_sentence_encoder("tiny-random-llama")


def test_tiny_lm_generates_a_left_padded_batch_like_single_prompts(tiny_tok, tiny_lm):
    prompts = ["hello world, the movie was", "hi"]
    batch = tiny_tok(prompts, return_tensors="pt", padding=True)
    out = tiny_lm.generate(**batch, max_new_tokens=4, do_sample=False,
                           output_scores=True, return_dict_in_generate=True)
    assert out.sequences.shape == (2, batch["input_ids"].shape[1] + 4)
    alone = tiny_tok(prompts[1:], return_tensors="pt")
    ref = tiny_lm.generate(**alone, max_new_tokens=4, do_sample=False,
                           output_scores=True, return_dict_in_generate=True)
    torch.testing.assert_close(out.scores[0][1], ref.scores[0][0], atol=1e-4, rtol=1e-4)
    assert out.sequences[1, -4:].tolist() == ref.sequences[0, -4:].tolist()
    text = tiny_tok.decode(out.sequences[1, -4:])
    assert isinstance(text, str) and text


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))
    torch.testing.assert_close(mean_pool(hidden, torch.zeros(1, 3)), torch.zeros(1, 2))


def test_tiny_encoder_embedding_does_not_depend_on_batch_padding():
    model, tok = load_sentence_encoder("tiny-random-bert")
    texts = ["a much longer sentence about a movie", "short"]
    with torch.no_grad():
        batch = tok(texts, return_tensors="pt", padding=True)
        pooled = mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])
        alone = tok(texts[1:], return_tensors="pt")
        single = mean_pool(model(**alone).last_hidden_state, alone["attention_mask"])
    assert pooled.shape == (2, 32)
    torch.testing.assert_close(pooled[1], single[0], atol=1e-5, rtol=1e-5)


def test_local_path_round_trip_gives_the_same_logits(tmp_path: Path, tiny_tok):
    model = tiny_causal_lm(seed=11)
    model.save_pretrained(tmp_path / "lm")
    tiny_tok.save_pretrained(tmp_path / "lm")
    loaded = load_causal_lm(str(tmp_path / "lm"))
    tok = load_tokenizer(str(tmp_path / "lm"))
    assert tok.pad_token == "<|endoftext|>" and tok.padding_side == "left"
    ids = tok(["the movie was great"], return_tensors="pt")
    assert ids["input_ids"].tolist() == tiny_tok(["the movie was great"],
                                                 return_tensors="pt")["input_ids"].tolist()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**ids).logits, model(**ids).logits)
    assert not loaded.training


def test_local_folder_without_model_files_says_what_it_needs(tmp_path: Path):
    (tmp_path / "junk.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match=r"from the local path .* files written by "
                                             r"`save_pretrained`"):
        load_causal_lm(str(tmp_path))
