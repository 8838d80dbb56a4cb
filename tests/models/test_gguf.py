"""The bundled-GGUF path end to end, on a tiny real GGUF file written by the test itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rlhf_env.models import (
    bundled_model_dir,
    cache_root,
    load_causal_lm,
    load_tokenizer,
    loading,
    tiny_causal_lm,
)
from rlhf_env.models.cache import MANIFEST
from tests.models.conftest import FAKE_NAME

TEXT = "hello world, the movie was great!"


@pytest.fixture
def tiny_bundled(fake_bundled, tiny_gguf_bytes: bytes, monkeypatch: pytest.MonkeyPatch):
    """``fake-gguf`` holds a real GGUF of ``tiny_causal_lm(seed=0)``; counts conversions."""
    fake_bundled(tiny_gguf_bytes)
    calls: list[str] = []
    real = loading._load_gguf

    def counting(spec):  # type: ignore[no-untyped-def]
        calls.append(spec.name)
        return real(spec)

    monkeypatch.setattr(loading, "_load_gguf", counting)
    return calls


def _logits(model, tok) -> torch.Tensor:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        return model(**tok([TEXT], return_tensors="pt")).logits


def test_conversion_gives_the_original_model(tiny_bundled, tiny_tok):
    model = load_causal_lm(FAKE_NAME)
    torch.testing.assert_close(_logits(model, tiny_tok), _logits(tiny_causal_lm(seed=0), tiny_tok))
    assert not model.training
    assert tiny_bundled == [FAKE_NAME]


def test_conversion_is_cached_as_plain_safetensors(tiny_bundled):
    folder = bundled_model_dir(FAKE_NAME)
    assert folder == cache_root() / "models" / FAKE_NAME
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", MANIFEST} <= names
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["meta"] == {"source": FAKE_NAME, "gguf": "model.gguf"}
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert bundled_model_dir(FAKE_NAME) == folder
    assert tiny_bundled == [FAKE_NAME]  # converted once


def test_cached_reload_gives_identical_logits(tiny_bundled, monkeypatch):
    from rlhf_env.models import cache

    tok = load_tokenizer(FAKE_NAME)
    first = _logits(load_causal_lm(FAKE_NAME), tok)
    cache._VERIFIED.clear()  # as a new process would: re-hash before loading
    monkeypatch.setattr(loading, "_load_gguf", lambda spec: pytest.fail("converted again"))
    second = _logits(load_causal_lm(FAKE_NAME), load_tokenizer(FAKE_NAME))
    assert torch.equal(first, second)
    assert tiny_bundled == [FAKE_NAME]


def test_converted_tokenizer_matches_the_shipped_one(tiny_bundled, tiny_tok):
    tok = load_tokenizer(FAKE_NAME)
    assert tok(TEXT)["input_ids"] == tiny_tok(TEXT)["input_ids"]
    assert (tok.eos_token, tok.bos_token, tok.pad_token) == (
        "<|endoftext|>", "<|im_start|>", "<|endoftext|>")
    assert tok.padding_side == "left"
    assert tok.chat_template == tiny_tok.chat_template


def test_the_tokenizer_alone_does_not_convert_the_model(tiny_bundled, tiny_tok):
    tok = load_tokenizer(FAKE_NAME)
    models = cache_root() / "models"
    assert tiny_bundled == []  # no model conversion for a tokenizer
    assert (models / f"{FAKE_NAME}.tokenizer" / "tokenizer.json").is_file()
    assert not (models / FAKE_NAME).exists()
    load_causal_lm(FAKE_NAME)  # now the whole model is converted, tokenizer included
    assert tiny_bundled == [FAKE_NAME]
    again = load_tokenizer(FAKE_NAME)
    assert again.name_or_path == str(models / FAKE_NAME)
    assert again(TEXT)["input_ids"] == tok(TEXT)["input_ids"] == tiny_tok(TEXT)["input_ids"]


def test_corrupt_cached_weights_are_reconverted(tiny_bundled, tiny_tok):
    folder = bundled_model_dir(FAKE_NAME)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    model = load_causal_lm(FAKE_NAME)
    assert tiny_bundled == [FAKE_NAME, FAKE_NAME]
    torch.testing.assert_close(_logits(model, tiny_tok), _logits(tiny_causal_lm(seed=0), tiny_tok))


@pytest.fixture
def unwritable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point RLHF_ENV_CACHE under a regular file: even root cannot create it."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("RLHF_ENV_CACHE", str(blocker / "cache"))
    return blocker


def test_unwritable_cache_falls_back_to_the_gguf_with_a_warning(
    tiny_bundled, unwritable_cache, tiny_tok
):
    with pytest.warns(UserWarning, match="RLHF_ENV_CACHE.*Loading from the GGUF file each time"):
        model = load_causal_lm(FAKE_NAME)
    torch.testing.assert_close(_logits(model, tiny_tok), _logits(tiny_causal_lm(seed=0), tiny_tok))
    assert not model.training


def test_unwritable_cache_tokenizer_falls_back_with_a_warning(tiny_bundled, unwritable_cache,
                                                              tiny_tok):
    with pytest.warns(UserWarning, match="not writable.*Reading the tokenizer from the GGUF"):
        tok = load_tokenizer(FAKE_NAME)
    assert tok(TEXT)["input_ids"] == tiny_tok(TEXT)["input_ids"]
    assert tok.pad_token == "<|endoftext|>"


def test_full_disk_falls_back_to_the_gguf_with_a_warning(tiny_bundled, monkeypatch, tiny_tok):
    import errno

    from rlhf_env.models import cache

    def no_room(folder, meta=None):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache, "write_manifest", no_room)
    with pytest.warns(UserWarning, match="No space left on device.*Loading from the GGUF file"):
        model = load_causal_lm(FAKE_NAME)
    torch.testing.assert_close(_logits(model, tiny_tok), _logits(tiny_causal_lm(seed=0), tiny_tok))
    assert sorted(p.name for p in (cache_root() / "models").iterdir()) == [f"{FAKE_NAME}.lock"]
