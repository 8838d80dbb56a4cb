"""The learner stages as single calls: supervised fine-tuning on demonstrations, and
token-level PPO on any task against any reward model. ``rlhf-env sft`` and ``rlhf-env ppo``
(:mod:`agents.commands`) are thin layers over these.

    demonstrations ──run_sft──▶ fine-tuned LM folder (save_pretrained) ──▶ run_ppo(model=…)
    task prompts ──▶ RLHF-Text-v0 (reward model: the task's, a name or a saved folder)
                 ──▶ TokenPPOTrainer.train(steps) ──▶ checkpoint + metrics + run config

Each writes its resolved settings as ``run_config.toml`` in its output folder, so
``--config OUT/run_config.toml`` runs it again the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agents.sft import SFTConfig, SFTResult, load_demonstrations, supervised_finetune
from agents.token_ppo import TokenPPOConfig
from rlhf_env.configs import RUN_CONFIG_FILE, save_config
from rlhf_env.files import dumps, write_text
from rlhf_env.validation import check_fields, check_int

CHECKPOINT_FILE = "checkpoint.safetensors"
"""The trainer's full state in a PPO run's folder (:func:`agents.token_ppo.load_checkpoint`)."""
METRICS_FILE = "metrics.jsonl"
"""One JSON object per PPO step (strict JSON: NaN written as null)."""
POLICY_DIR = "policy"
"""The trained policy, a ``save_pretrained`` folder (``PolicyWithValue.from_pretrained``)."""


# -- supervised fine-tuning --------------------------------------------------------------------
@dataclass(frozen=True)
class SFTRunConfig:
    """Settings of :func:`run_sft` (``rlhf-env sft``)."""

    model: str = "smollm2-135m-instruct"
    """The causal LM to fine-tune (and its tokenizer): bundled name, local folder, hub id."""
    task: str | None = None
    """Use this task's demonstrations only (``None``: all)."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """How it trains (``[sft]`` in a config file)."""

    def __post_init__(self) -> None:
        check_fields(self)


def run_sft(demonstrations: Any, out: str | Path, config: SFTRunConfig | None = None
            ) -> SFTResult:
    """Fine-tune ``config.model`` on ``demonstrations`` (a feedback store, a JSONL file, or
    anything :func:`agents.sft.load_demonstrations` reads) and save the LM and tokenizer in
    ``out`` (``save_pretrained``: ``--model OUT`` loads it), with the run's config."""
    from rlhf_env.models import load_causal_lm, load_tokenizer

    config = config or SFTRunConfig()
    pairs = load_demonstrations(demonstrations, task=config.task)
    model = load_causal_lm(config.model, seed=config.sft.seed)
    tokenizer = load_tokenizer(config.model)
    result = supervised_finetune(model, tokenizer, pairs, config.sft, save_to=out)
    save_config(config, Path(out) / RUN_CONFIG_FILE)
    return result


# -- token-level PPO ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PPORunConfig:
    """Settings of :func:`run_ppo` (``rlhf-env ppo``)."""

    steps: int = 20
    """PPO iterations (each: one rollout of ``ppo.batch_size`` responses, then the update)."""
    reward_model: str | None = None
    """What scores the responses: a registered name (``sentiment``, ``keyword`` …), a folder
    saved by ``rlhf-env rm train``, or a hub id (``None``: the task's own reward model)."""
    prompts: str | None = None
    """A ``.txt``/``.jsonl`` file of prompts (``None``: the task's)."""
    ppo: TokenPPOConfig = field(default_factory=TokenPPOConfig)
    """The trainer's settings, ``model`` and ``task`` included (``[ppo]`` in a config file)."""

    def __post_init__(self) -> None:
        check_fields(self)
        check_int("PPORunConfig.steps", self.steps, minimum=1)


@dataclass(frozen=True)
class PPOSummary:
    """What :func:`run_ppo` did."""

    out: Path
    """The run's folder: checkpoint, metrics, run config."""
    metrics: list[dict[str, Any]]
    """One dict per step (see :mod:`agents.token_ppo.trainer`)."""
    seconds: float


def trainer_config(config: PPORunConfig) -> TokenPPOConfig:
    """``config.ppo`` with the run's reward model and prompts (the trainer builds the env)."""
    changes: dict[str, Any] = {k: v for k, v in (("reward_model", config.reward_model),
                                                 ("prompts", config.prompts)) if v is not None}
    return replace(config.ppo, **changes) if changes else config.ppo


def run_ppo(out: str | Path, config: PPORunConfig | None = None) -> PPOSummary:
    """Train ``config.ppo.model`` with token-level PPO for ``config.steps`` steps and save
    in ``out``: the trained policy as a ``save_pretrained`` folder (:data:`POLICY_DIR`), the
    trainer's state for resuming (:data:`CHECKPOINT_FILE`), the metrics
    (:data:`METRICS_FILE`) and the run's config."""
    from agents.token_ppo import TokenPPOTrainer, save_checkpoint

    config = config or PPORunConfig()
    start = time.perf_counter()
    ppo = trainer_config(config)  # checks the reward model and prompts before writing
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    trainer = TokenPPOTrainer(ppo)
    try:
        trainer.train(config.steps)
        trainer.save_pretrained(out / POLICY_DIR)
        save_checkpoint(trainer, out / CHECKPOINT_FILE)
    finally:
        trainer.close()
    write_text(out / METRICS_FILE,
               "".join(dumps(m, indent=None) + "\n" for m in trainer.metrics))
    save_config(config, out / RUN_CONFIG_FILE)
    return PPOSummary(out=out, metrics=trainer.metrics, seconds=time.perf_counter() - start)


__all__ = [
    "CHECKPOINT_FILE",
    "METRICS_FILE",
    "POLICY_DIR",
    "PPORunConfig",
    "PPOSummary",
    "SFTRunConfig",
    "run_ppo",
    "run_sft",
    "trainer_config",
]
