"""Unknown model names fail fast offline, and when the hub does not answer."""

from __future__ import annotations

import time

import pytest

from rlhf_env.errors import ConfigError, ModelLoadError, UnknownNameError
from rlhf_env.models import load_causal_lm, load_sentence_encoder, load_tokenizer, loading


@pytest.mark.parametrize("loader", [load_causal_lm, load_tokenizer, load_sentence_encoder])
@pytest.mark.parametrize("name", ["someone/no-such-model-xyz", "nosuchmodelxyz"])
def test_unknown_names_fail_in_under_two_seconds_offline(monkeypatch, loader, name):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loader("tiny-random-llama" if loader is not load_sentence_encoder else "tiny-random-bert")
    start = time.perf_counter()
    with pytest.raises((ModelLoadError, UnknownNameError)) as info:
        loader(name)
    assert time.perf_counter() - start < 2.0
    assert name in str(info.value) and "HF_HUB_OFFLINE is set" in str(info.value)


def test_an_unreachable_hub_is_detected_before_transformers_retries(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    loading._hub_probe.cache_clear()
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on port 9
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match=r"http://127.0.0.1:9 is unreachable"):
        load_causal_lm("someone/no-such-model-xyz")
    assert time.perf_counter() - start < 2.0
    loading._hub_probe.cache_clear()


@pytest.mark.parametrize("loader", [load_causal_lm, load_tokenizer, load_sentence_encoder])
@pytest.mark.parametrize("name", [3, None, "", "  "])
def test_a_model_name_must_be_a_string(loader, name):
    with pytest.raises(ConfigError, match=r"name_or_path must be a bundled name .* got"):
        loader(name)
