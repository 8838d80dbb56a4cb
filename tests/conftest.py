"""Shared test setup: offline, isolated cache, tiny models only (never the 135M model)."""

from __future__ import annotations

import os

import pytest

# Tests never reach a model hub: make transformers fail fast instead of trying the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread: tiny models are slower with more, and results stay reproducible."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets a private model cache, so no test sees another's (or the user's) files."""
    monkeypatch.setenv("RLHF_ENV_CACHE", str(tmp_path_factory.mktemp("rlhf-cache")))


@pytest.fixture(scope="session")
def tiny_tok():
    from rlhf_env.models import load_tokenizer

    return load_tokenizer("tiny-random-llama")


@pytest.fixture(scope="session")
def tiny_lm():
    from rlhf_env.models import load_causal_lm

    return load_causal_lm("tiny-random-llama", seed=0)
