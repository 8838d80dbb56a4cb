"""quiet_hf: our own model loads and saves draw no progress bars and raise no known
third-party deprecation warnings, and every setting is back as it was afterwards."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from rlhf_env.models import load_causal_lm, load_sentence_encoder, tiny_causal_lm, tiny_encoder
from rlhf_env.quiet import quiet_hf

DEPRECATION = "`is_gradient_checkpointing` is deprecated"


@pytest.fixture(scope="module")
def saved_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-lm")
    tiny_causal_lm().save_pretrained(folder)
    return folder


def _hf_state() -> tuple:
    from transformers.utils import logging as hf_logging

    hook = hf_logging.set_tqdm_hook(None)
    hf_logging.set_tqdm_hook(hook)
    return (hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled(), hook,
            list(warnings.filters))


def test_a_plain_transformers_load_draws_the_bar_we_silence(saved_lm: Path, capfd) -> None:
    """The control: without quiet_hf, this very load writes "Loading weights" to stderr."""
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(str(saved_lm))
    assert "Loading weights" in capfd.readouterr().err


def test_loading_through_our_loader_is_quiet_and_restores_state(saved_lm: Path, capfd) -> None:
    before = _hf_state()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_causal_lm(str(saved_lm))
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "%|" not in err, err
    assert not [w for w in caught if issubclass(w.category, FutureWarning)], caught
    assert model.config.num_hidden_layers == tiny_causal_lm().config.num_hidden_layers
    assert _hf_state() == before


def test_sentence_encoder_load_is_quiet(tmp_path: Path, capfd) -> None:
    tiny_encoder().save_pretrained(tmp_path)
    from rlhf_env.models import tiny_tokenizer

    tiny_tokenizer().save_pretrained(tmp_path)
    capfd.readouterr()
    load_sentence_encoder(str(tmp_path))
    assert "Loading weights" not in capfd.readouterr().err


def test_peft_wrapping_raises_no_future_warning() -> None:
    peft = pytest.importorskip("peft")
    config = peft.LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM")
    with warnings.catch_warnings(record=True) as plain:
        warnings.simplefilter("always")
        peft.get_peft_model(tiny_causal_lm(), config)
    assert any(DEPRECATION in str(w.message) for w in plain), "control: peft warns without it"
    with warnings.catch_warnings(record=True) as quiet:
        warnings.simplefilter("always")
        with quiet_hf():
            peft.get_peft_model(tiny_causal_lm(), config)
    assert not [w for w in quiet if DEPRECATION in str(w.message)]


def test_other_warnings_and_errors_still_pass_and_state_is_restored_on_error() -> None:
    from transformers.utils import logging as hf_logging

    before = _hf_state()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="boom"), quiet_hf():
            assert hf_logging.get_verbosity() == logging.ERROR
            warnings.warn("something else", FutureWarning, stacklevel=1)
            raise RuntimeError("boom")
    assert [str(w.message) for w in caught] == ["something else"]
    assert _hf_state() == before


def test_keep_warnings_keeps_transformers_warnings() -> None:
    from transformers.utils import logging as hf_logging

    with quiet_hf(keep_warnings=True):
        assert hf_logging.get_verbosity() == logging.WARNING


def test_a_user_who_asked_for_detail_keeps_it() -> None:
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_info()
    try:
        with quiet_hf():
            assert hf_logging.get_verbosity() == logging.INFO
            assert hf_logging.set_tqdm_hook(None) is None  # no bar hook was installed
    finally:
        hf_logging.set_verbosity(previous)


def _ppo_learn_leaves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quiet: bool) -> list:
    import tempfile

    from stable_baselines3 import PPO

    from rlhf_env.quiet import sb3_without_temp_folder

    temp = tmp_path / ("quiet" if quiet else "plain")
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=32, n_epochs=1, seed=0)
    if quiet:
        assert sb3_without_temp_folder(model) is model
    model.learn(32)
    return sorted(p.name for p in temp.iterdir())


def test_sb3_learn_leaves_no_temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    plain = _ppo_learn_leaves(tmp_path, monkeypatch, quiet=False)
    assert len(plain) == 1 and plain[0].startswith("SB3-"), plain  # the control
    assert _ppo_learn_leaves(tmp_path, monkeypatch, quiet=True) == []


def test_sb3_with_tensorboard_keeps_its_logger(tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    from rlhf_env.quiet import sb3_without_temp_folder

    model = PPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=32,
                tensorboard_log=str(tmp_path))
    sb3_without_temp_folder(model)
    assert not model._custom_logger  # SB3 still configures its TensorBoard logger in learn()
