"""Tiny models built from configs, for tests and quick experiments (never downloaded)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rlhf_env.models.bundled import TINY_TOKENIZER


def tiny_tokenizer() -> Any:
    """The shipped byte-level BPE tokenizer (vocab 2,048, chat template, no pad token)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(TINY_TOKENIZER))


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch inside the block and restore the caller's RNG state afterwards."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def tiny_causal_lm(seed: int = 0, **overrides: Any) -> Any:
    """A random 2-layer Llama sized for the tiny tokenizer. ``overrides`` edit the config."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    cfg: dict[str, Any] = {
        "vocab_size": len(tok),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "tie_word_embeddings": True,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.eos_token_id,
    }
    cfg.update(overrides)
    with _seeded(seed):
        model = LlamaForCausalLM(LlamaConfig(**cfg))
    model.generation_config.pad_token_id = tok.eos_token_id
    return model.eval()


def tiny_encoder(seed: int = 0, **overrides: Any) -> Any:
    """A random 2-layer BERT encoder sized for the tiny tokenizer (hidden size 32)."""
    from transformers import BertConfig, BertModel

    tok = tiny_tokenizer()
    cfg: dict[str, Any] = {
        "vocab_size": len(tok),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 256,
        "pad_token_id": tok.eos_token_id,
    }
    cfg.update(overrides)
    with _seeded(seed):
        model = BertModel(BertConfig(**cfg), add_pooling_layer=False)
    return model.eval()
