"""Tokenizer handling: pad tokens, padding sides and chat templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlhf_env.errors import ConfigError
from rlhf_env.models import (
    format_prompt,
    load_sentence_encoder,
    load_tokenizer,
    prepare_tokenizer,
    tiny_tokenizer,
)


def test_shipped_tiny_tokenizer_has_no_pad_token():
    tok = tiny_tokenizer()
    assert tok.pad_token is None
    assert tok.eos_token == "<|endoftext|>"
    assert len(tok) == 2048


def test_load_tokenizer_sets_pad_to_eos_and_pads_left():
    tok = load_tokenizer("tiny-random-llama")
    assert tok.pad_token == tok.eos_token == "<|endoftext|>"
    assert tok.pad_token_id == tok.eos_token_id == 0
    assert tok.padding_side == "left"
    batch = tok(["hello world, the movie was", "hi"], padding=True)
    short_ids, short_mask = batch["input_ids"][1], batch["attention_mask"][1]
    n_real = sum(short_mask)
    assert n_real < len(short_mask)
    assert short_mask == [0] * (len(short_mask) - n_real) + [1] * n_real  # padding first
    assert short_ids[: len(short_mask) - n_real] == [0] * (len(short_mask) - n_real)
    assert short_ids[-n_real:] == tok("hi")["input_ids"]


def test_right_padding_when_asked():
    tok = load_tokenizer("tiny-random-llama", padding_side="right")
    mask = tok(["hello world, the movie was", "hi"], padding=True)["attention_mask"][1]
    assert mask[0] == 1 and mask[-1] == 0


def test_encoder_tokenizer_pads_right():
    _, tok = load_sentence_encoder("tiny-random-bert")
    assert tok.padding_side == "right"
    assert tok.pad_token is not None


def test_existing_pad_token_is_kept():
    tok = tiny_tokenizer()
    tok.pad_token = "<|im_end|>"
    assert prepare_tokenizer(tok).pad_token == "<|im_end|>"


def test_bad_padding_side_is_rejected():
    with pytest.raises(ConfigError, match="padding_side must be 'left' or 'right', got 'middle'"):
        prepare_tokenizer(tiny_tokenizer(), "middle")


@pytest.fixture
def bert_tokenizer(tmp_path: Path):
    """A BERT-style WordPiece tokenizer with no EOS and no pad token (like MiniLM's, minus pad)."""
    from transformers import BertTokenizerFast

    vocab = ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "the", "movie", "##s"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"), pad_token=None)


def test_bert_style_tokenizer_pads_with_sep(bert_tokenizer):
    assert bert_tokenizer.eos_token is None and bert_tokenizer.pad_token is None
    tok = prepare_tokenizer(bert_tokenizer, "right")
    assert tok.pad_token == "[SEP]"
    assert tok.pad_token_id == tok.sep_token_id
    batch = tok(["hello", "hello world the"], padding=True)
    assert batch["attention_mask"][0][-1] == 0
    assert batch["input_ids"][0][-1] == tok.sep_token_id


def test_tokenizer_without_any_usable_token_is_rejected(bert_tokenizer):
    bert_tokenizer.sep_token = None
    with pytest.raises(ConfigError, match="neither a pad, an EOS nor a SEP token"):
        prepare_tokenizer(bert_tokenizer)


def test_chat_template_is_applied_automatically():
    tok = load_tokenizer("tiny-random-llama")
    expected = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert format_prompt(tok, "hi") == expected
    assert format_prompt(tok, "hi", use_chat_template=True) == expected


def test_chat_template_with_system_message():
    tok = load_tokenizer("tiny-random-llama")
    text = format_prompt(tok, "hi", system="Be kind.")
    assert text == (
        "<|im_start|>system\nBe kind.<|im_end|>\n"
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_chat_template_can_be_turned_off():
    tok = load_tokenizer("tiny-random-llama")
    assert format_prompt(tok, "hi", use_chat_template=False) == "hi"


def test_no_template_means_plain_prompt_or_a_clear_error():
    tok = load_tokenizer("tiny-random-llama")
    tok.chat_template = None
    assert format_prompt(tok, "hi") == "hi"
    with pytest.raises(ConfigError, match="has no chat template; pass use_chat_template=False"):
        format_prompt(tok, "hi", use_chat_template=True)


def test_load_tokenizer_pads_bundled_encoders_right_and_causal_lms_left():
    from rlhf_env.models import load_tokenizer

    assert load_tokenizer("tiny-random-bert").padding_side == "right"
    assert load_tokenizer("tiny-random-llama").padding_side == "left"
    assert load_tokenizer("tiny-random-bert", padding_side="left").padding_side == "left"
