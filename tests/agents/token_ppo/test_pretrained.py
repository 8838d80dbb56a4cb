"""Policies save as Hugging Face folders: plain transformers / peft load them, rlhf-env loads
them from any working directory, and a moved base model fails fast with a fix."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import torch

from agents.policy_folder import INFO_FILE, VALUE_HEAD_FILE
from agents.token_ppo import PolicyWithValue, TokenPPOConfig, TokenPPOTrainer
from rlhf_env.errors import ConfigError, ModelLoadError
from rlhf_env.models import load_causal_lm, load_tokenizer

IDS = torch.tensor([[5, 17, 99, 3, 250, 8]])


def _outputs(policy: PolicyWithValue) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(1, 6, V)`` of the LM and values ``(1, 5)`` of the value head."""
    mask = torch.ones_like(IDS)
    positions = torch.arange(IDS.shape[1])[None]
    with torch.no_grad():
        _, values = policy(IDS, mask, positions, n_response=5)
        return policy.lm(input_ids=IDS).logits, values


def _perturb(policy: PolicyWithValue, seed: int = 1) -> None:
    """Move the trainable weights away from their initial values (LoRA B starts at 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in policy.trainable_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_tok) -> Path:
    """A working directory that holds a tiny Llama base model folder ``base``."""
    root = tmp_path / "project"
    load_causal_lm("tiny-random-llama", seed=0).save_pretrained(root / "base")
    tiny_tok.save_pretrained(root / "base")
    monkeypatch.chdir(root)
    return root


def test_full_weights_load_with_plain_transformers(tiny_lm, tiny_tok, tmp_path, monkeypatch):
    import copy

    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    policy = PolicyWithValue(copy.deepcopy(tiny_lm), tokenizer=tiny_tok)
    _perturb(policy)
    logits, values = _outputs(policy)
    monkeypatch.chdir(tmp_path)
    policy.save_pretrained("policy")
    folder = tmp_path / "policy"
    info = json.loads((folder / INFO_FILE).read_text())
    assert info["weights"] == "full" and info["lora"] is None
    assert info["value_head"] == {"file": VALUE_HEAD_FILE, "in_features": 64, "out_features": 1}
    plain = AutoModelForCausalLM.from_pretrained(folder)
    with torch.no_grad():
        torch.testing.assert_close(plain(input_ids=IDS).logits, logits)
    assert AutoTokenizer.from_pretrained(folder)("hello")["input_ids"] == tiny_tok("hello")[
        "input_ids"]
    torch.testing.assert_close(load_file(folder / VALUE_HEAD_FILE)["weight"],
                               policy.value_head.weight.detach())

    monkeypatch.chdir(tmp_path.parent)
    loaded = PolicyWithValue.from_pretrained(folder)
    new_logits, new_values = _outputs(loaded)
    torch.testing.assert_close(new_logits, logits)
    torch.testing.assert_close(new_values, values)
    assert loaded.tokenizer is not None and not loaded.uses_lora


def test_lora_adapters_load_with_plain_peft_from_another_directory(project, tiny_tok,
                                                                   monkeypatch):
    from peft import AutoPeftModelForCausalLM, PeftModel
    from transformers import AutoModelForCausalLM

    policy = PolicyWithValue(load_causal_lm("base"), lora_r=4, lora_alpha=8,
                             base_model="base", tokenizer=tiny_tok)
    _perturb(policy)
    logits, values = _outputs(policy)
    policy.save_pretrained("policy")
    info = json.loads((project / "policy" / INFO_FILE).read_text())
    assert info["weights"] == "lora"
    assert info["base_model"] == {"kind": "local", "location": str(project / "base")}
    assert info["lora"] == {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    adapter = json.loads((project / "policy" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(project / "base")
    assert not (project / "policy" / "model.safetensors").exists()  # adapters only

    monkeypatch.chdir(project.parent)
    folder = str(project / "policy")
    with torch.no_grad():
        auto = AutoPeftModelForCausalLM.from_pretrained(folder)
        torch.testing.assert_close(auto(input_ids=IDS).logits, logits)
        manual = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(project / "base"), folder)
        torch.testing.assert_close(manual(input_ids=IDS).logits, logits)
    loaded = PolicyWithValue.from_pretrained(folder)
    assert loaded.uses_lora and loaded.reference is None
    assert any("lora" in n for n, p in loaded.named_parameters() if p.requires_grad)
    new_logits, new_values = _outputs(loaded)
    torch.testing.assert_close(new_logits, logits)
    torch.testing.assert_close(new_values, values)


def test_a_moved_base_model_fails_fast_and_can_be_pointed_at(project, tiny_tok, monkeypatch):
    policy = PolicyWithValue(load_causal_lm("base"), lora_r=4, base_model="base",
                             tokenizer=tiny_tok)
    _perturb(policy)
    logits, _ = _outputs(policy)
    policy.save_pretrained("policy")
    shutil.move(project / "base", project.parent / "moved-base")
    monkeypatch.chdir(project.parent)
    start = time.perf_counter()
    with pytest.raises(ModelLoadError) as info:
        PolicyWithValue.from_pretrained(project / "policy")
    assert time.perf_counter() - start < 2.0
    msg = str(info.value)
    assert str(project / "base") in msg and "no longer exists" in msg
    assert "base_model=" in msg and "move its base model back" in msg
    loaded = PolicyWithValue.from_pretrained(project / "policy", base_model="moved-base")
    torch.testing.assert_close(_outputs(loaded)[0], logits)


def test_saving_needs_a_tokenizer_and_never_clobbers_other_files(tiny_lm, tiny_tok, tmp_path):
    policy = PolicyWithValue(tiny_lm)
    with pytest.raises(ConfigError, match="needs the policy's tokenizer"):
        policy.save_pretrained(tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="holds no earlier save"):
        policy.save_pretrained(tmp_path / "b", tokenizer=tiny_tok)
    assert (tmp_path / "b" / "notes.txt").read_text() == "keep me"


def test_lora_without_a_known_base_model_is_refused(tiny_tok, tmp_path):
    policy = PolicyWithValue(load_causal_lm("tiny-random-llama"), lora_r=2)
    assert policy.base_model is None  # built from a config: nothing to load it from again
    with pytest.raises(ConfigError, match="base_model="):
        policy.save_pretrained(tmp_path / "p", tokenizer=tiny_tok)


def test_the_trainer_exports_and_reloads_its_policy(make_trainer, make_env, tmp_path):
    trainer = make_trainer(lora_r=4)  # config.model="tiny-random-llama" names the base
    trainer.train(1)
    trainer.save_pretrained(tmp_path / "policy")
    info = json.loads((tmp_path / "policy" / INFO_FILE).read_text())
    assert info["trainer"]["step"] == 1
    assert info["trainer"]["config"]["lora_r"] == 4
    assert info["base_model"] == {"kind": "bundled", "location": "tiny-random-llama"}

    cfg = TokenPPOConfig(model=str(tmp_path / "policy"), task="keyword", batch_size=8,
                         minibatch_size=4, max_new_tokens=4, progress_bar=False)
    resumed = TokenPPOTrainer(cfg, env=make_env(8, 4))
    assert resumed.policy.uses_lora
    torch.testing.assert_close(_outputs(resumed.policy)[0], _outputs(trainer.policy)[0])
    assert len(load_tokenizer(str(tmp_path / "policy"))) == len(trainer.tokenizer)
