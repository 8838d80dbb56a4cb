"""Save and resume a :class:`~agents.token_ppo.TokenPPOTrainer` exactly.

A checkpoint holds everything that decides the rest of a run: policy (LM, LoRA adapters,
value head, reference) weights, optimizer state, the KL controller, the step count, the
metrics so far and every random state the trainer draws from (prompt choice, sampling and
shuffling, torch's global generator). Loading it into a trainer built with the same config,
env and initial model, then training on, gives the same weights and metrics as a run that
was never interrupted (on the same device and thread count).

The file is an rlhf-env state file (:mod:`rlhf_env.checkpoints`): safetensors for the
tensors, JSON for the rest, a checksum over both. Nothing is unpickled on load, so a
crafted file cannot run code. Saving keeps the previous checkpoint as ``<name>.prev`` until
the new one is complete, and loading falls back to it when the file is corrupt.
A reference at a lower precision (``reference_precision``) is left out: it is rebuilt from
the same initial model, and int8 weights cannot go into a state file.
Checkpoints of format 1 (``torch.save`` pickles) are refused: they cannot be read safely.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rlhf_env.checkpoints import load_state, save_state
from rlhf_env.errors import CheckpointError, ConfigError

if TYPE_CHECKING:
    from agents.token_ppo.trainer import TokenPPOTrainer

FORMAT_VERSION = 2
"""Bumped when the checkpoint layout changes (2: pickle-free state file)."""
KIND = "token-ppo-checkpoint"


def save_checkpoint(trainer: TokenPPOTrainer, path: str | Path) -> Path:
    """Write the trainer's full state to ``path`` (a file; parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "config": trainer.config.to_dict(),
        "policy": _policy_state(trainer),
        "optimizer": trainer.optimizer.state_dict(),
        "kl_controller": trainer.kl_controller.state_dict(),
        "step": trainer.step_count,
        "metrics": trainer.metrics,
        "numpy_rng": trainer.rng.bit_generator.state,
        "shuffle_rng": trainer.generator.get_state(),
        "sampling_rng": trainer.sampler.get_state(),
        "torch_rng": torch.get_rng_state(),
    }
    save_state(path, state, KIND)
    return path


def load_checkpoint(trainer: TokenPPOTrainer, path: str | Path) -> TokenPPOTrainer:
    """Restore a state written by :func:`save_checkpoint` into ``trainer``; returns it."""
    state = load_state(path, KIND)
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a token-PPO checkpoint of format "
                              f"{FORMAT_VERSION}.")
    _check_config(state["config"], trainer.config.to_dict(), path)
    _load_policy_state(trainer, state["policy"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.kl_controller.load_state_dict(state["kl_controller"])
    trainer.step_count = int(state["step"])
    trainer.metrics = list(state["metrics"])
    trainer.rng.bit_generator.state = state["numpy_rng"]
    trainer.generator.set_state(state["shuffle_rng"].cpu())
    trainer.sampler.set_state(state["sampling_rng"].cpu())
    torch.set_rng_state(state["torch_rng"])
    return trainer


def _policy_state(trainer: TokenPPOTrainer) -> dict[str, Any]:
    """The policy's weights; without the reference's when it runs at a lower precision."""
    policy = trainer.policy
    if policy.reference_precision == "float32":
        return policy.state_dict()
    return {k: v for k, v in policy.state_dict().items() if not k.startswith("reference.")}


def _load_policy_state(trainer: TokenPPOTrainer, state: dict[str, Any]) -> None:
    """Load the saved weights; a reference left out by :func:`_policy_state` keeps its own."""
    policy = trainer.policy
    if policy.reference_precision == "float32":
        policy.load_state_dict(state)
        return
    reference, policy.reference = policy.reference, None
    try:
        policy.load_state_dict(state)
    finally:
        policy.reference = reference


_FREE_FIELDS = {"log_dir", "log_with", "progress_bar", "device", "num_sample_responses"}
"""Config fields that may differ between the saved and the resuming run."""


def _check_config(saved: dict[str, Any], current: dict[str, Any], path: str | Path) -> None:
    differ = sorted(k for k in saved if k not in _FREE_FIELDS and saved[k] != current.get(k))
    if differ:
        raise ConfigError(f"{path} was saved with a different config ({', '.join(differ)}); "
                          f"resume with the saved settings, e.g. TokenPPOConfig(**saved).")
