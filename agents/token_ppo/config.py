"""The one configuration record of the token-level PPO trainer."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlhf_env.errors import ConfigError
from rlhf_env.kl import KL_ESTIMATORS
from rlhf_env.metrics import check_log_with
from rlhf_env.models.precision import check_precision
from rlhf_env.rewards import check_reward_spec, describe
from rlhf_env.validation import check_fields

ADVANTAGE_ESTIMATORS = ("gae", "rloo", "grpo")


def _absolute_file(name: str, value: str | os.PathLike[str] | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ConfigError(f"TokenPPOConfig.{name} must be a file path (or None), got {value!r}.")
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"TokenPPOConfig.{name}: no file at {path}; give the path of a .txt "
                          f"(one prompt per line) or .jsonl file, or None for the task's own.")
    return str(path)
"""``gae``: value head + GAE; ``rloo``: leave-one-out baseline over a prompt's group;
``grpo``: group-relative (mean/std-normalised) returns."""


@dataclass(frozen=True)
class TokenPPOConfig:
    """Settings of :class:`~agents.token_ppo.TokenPPOTrainer`. Validated on construction."""

    model: str = "smollm2-135m-instruct"
    """Policy model: bundled name, local path or hub id (ignored when a policy is passed), or
    a folder written by ``TokenPPOTrainer.save_pretrained`` (its LoRA settings and value head
    are then the saved ones)."""
    task: str = "sentiment"
    """Task of the ``RLHF-Text-v0`` env built when no env is passed."""
    reward_model: Any = None
    """Reward model of the env built when no env is passed, instead of the task's: anything
    ``RLHF-Text-v0``'s ``reward_model=`` takes — a registered name (``"vader"``), a folder
    saved with ``save_pretrained`` (made absolute here), a hub id, a function
    ``fn(prompts, responses)`` or an object with ``score()``. ``None``: the task's own."""
    prompts: str | None = None
    """Prompts of the env built when no env is passed, instead of the task's: a ``.txt`` file
    (one per line) or a ``.jsonl`` file (made absolute here, so a saved config survives a
    change of folder). ``None``: the task's own."""
    seed: int = 0
    """Seeds prompt choice, sampling and the value head; runs are reproducible under it."""
    batch_size: int = 16
    """Episodes (prompt + response) per rollout; the env is built with this many sub-envs."""
    minibatch_size: int = 8
    """Episodes per optimizer step; must divide ``batch_size``."""
    grad_accum_steps: int = 1
    """Micro-batches per minibatch (gradients accumulated); must divide ``minibatch_size``."""
    ppo_epochs: int = 1
    """Passes over each rollout."""
    learning_rate: float = 1e-5
    """AdamW learning rate (for the trainable weights: all, or LoRA adapters + value head)."""
    max_new_tokens: int = 16
    """Response length limit in tokens."""
    max_prompt_tokens: int = 64
    """Prompt length limit in tokens (env built here only)."""
    temperature: float = 1.0
    """Sampling temperature; log-probs for the PPO ratio use the same value."""
    top_k: int = 0
    """Keep the k most likely tokens when sampling (0: off); also applied to log-probs."""
    top_p: float = 1.0
    """Nucleus sampling mass (1: off); also applied to log-probs."""
    allowed_token_ids: tuple[int, ...] | None = None
    """Restrict sampling to these token ids (EOS is always allowed); ``None``: all tokens.
    Part of the sampling transform, so it is applied to policy and reference log-probs."""
    kl_coef: float = 0.05
    """Initial coefficient β of the per-token penalty ``−β · KL_t``."""
    kl_estimator: str = "k1"
    """Per-token KL estimator in the reward: ``k1``, ``k2`` or ``k3`` (see rlhf_env.kl)."""
    adaptive_kl: bool = False
    """Adapt β with the proportional controller toward ``target_kl``."""
    target_kl: float = 6.0
    """Target of the adaptive controller: summed KL per response, in nats."""
    kl_horizon: int = 10_000
    """Horizon of the adaptive controller, in episodes."""
    reference_pass: str = "auto"
    """When to run the frozen reference over each rollout: ``"auto"`` only when the KL
    enters the reward (``kl_coef > 0`` or ``adaptive_kl``), so a β = 0 run skips that forward
    and logs no ``rlhf/kl``; ``"always"`` also at β = 0, to monitor the KL it does not
    penalise."""
    reference_precision: str = "float32"
    """Precision the frozen reference runs at: ``"float32"``, ``"bfloat16"`` or ``"int8"``
    (:func:`rlhf_env.models.frozen_copy`). ``"bfloat16"`` makes a SmolLM2 forward ~2.7x
    faster on CPUs with bfloat16 units (AMX, AVX512-BF16) and on GPUs, at ~0.08 nats of
    error per token (see :mod:`rlhf_env.models.precision`); ``"int8"`` is faster on any CPU
    but its error (~1.4 nats per token on SmolLM2) swamps a typical KL. With LoRA a lower
    precision costs memory: the reference is then a converted copy of the base model instead
    of the policy itself with adapters off (for SmolLM2-135M about 270 MB in bfloat16: 135M
    weights of 2 bytes; ``bench_token_ppo.py`` measures it). Not used when no reference pass
    runs."""
    reward_precision: str = "float32"
    """Precision of the frozen models in the env built when no env is passed (its
    ``frozen_precision``: the reward model's encoder; a gold judge stays float32):
    ``"float32"``, ``"bfloat16"`` or ``"int8"``, with the errors measured in
    ``benchmarks/results/env.md``. A passed env keeps its own."""
    advantage: str = "gae"
    """Advantage estimator: one of :data:`ADVANTAGE_ESTIMATORS`."""
    group_size: int = 1
    """Responses per prompt in a rollout (≥ 2 for ``rloo``/``grpo``); divides batch_size."""
    shared_prompt: bool = True
    """Run each group's prompt through the model once and share its KV cache among the
    group's responses (generation, reference and update; exact up to float rounding). The
    update then shuffles whole groups into minibatches, so ``minibatch_size`` and its
    micro-batches should be multiples of ``group_size`` (otherwise rows are shuffled and
    every row runs its own prompt). ``False``: always one prompt pass per row."""
    init_value_from_scores: bool = False
    """Before the first update, set the value head's bias to the mean reward-model score of
    the first rollout (``gae`` only), so the critic starts at the reward model's average
    instead of 0. The reward models here are text-in and need not share the policy's
    backbone, so their weights cannot seed the value head directly."""
    gamma: float = 1.0
    """Discount per token."""
    lam: float = 0.95
    """GAE λ."""
    whiten_rewards: bool = False
    """Rescale the env scores to unit variance over the batch (mean kept) before building
    token rewards."""
    whiten_advantages: bool = True
    """Normalise advantages over the batch's response tokens."""
    clip_range: float = 0.2
    """PPO ratio clip ε."""
    clip_range_value: float = 0.2
    """Value clip around the rollout's values (0: no value clipping)."""
    vf_coef: float = 0.1
    """Weight of the value loss (``gae`` only)."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip (``inf``: off)."""
    missing_eos_penalty: float | None = None
    """Subtracted from the score of responses that hit ``max_new_tokens`` without EOS."""
    lora_r: int = 0
    """LoRA rank (0: train all weights). LoRA needs ``peft``; the reference is then the base
    model with adapters disabled, sharing its frozen weights."""
    lora_alpha: int = 16
    """LoRA scaling α."""
    lora_target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    """Module names that get LoRA adapters."""
    log_dir: str | None = None
    """Folder of the run's logs (``None``: metrics stay in ``trainer.metrics`` only)."""
    log_with: tuple[str, ...] = ("tensorboard",)
    """Where the metrics go under ``log_dir``: ``"tensorboard"``, ``"wandb"`` (a Weights &
    Biases run; ``pip install 'rlhf-env[wandb]'``, ``WANDB_MODE=offline`` needs no network),
    ``"csv"`` (``progress.csv``). See :func:`rlhf_env.logger.make_logger`."""
    num_sample_responses: int = 2
    """Responses written to the metrics/TensorBoard text per step."""
    progress_bar: bool = True
    """Show a tqdm progress bar in :meth:`TokenPPOTrainer.train`."""
    device: str = "cpu"
    """Torch device of policy and reference."""

    def __post_init__(self) -> None:
        check_fields(self)
        object.__setattr__(self, "reward_model", check_reward_spec(self.reward_model))
        object.__setattr__(self, "prompts", _absolute_file("prompts", self.prompts))
        _check_batches(self)
        _check_sampling(self)
        _check_objective(self)
        object.__setattr__(self, "log_with", check_log_with(self.log_with))


    @property
    def needs_reference(self) -> bool:
        """Whether a rollout runs the reference: the KL is in the reward, or asked for."""
        return self.reference_pass == "always" or self.kl_coef > 0 or self.adaptive_kl

    @property
    def needs_values(self) -> bool:
        """Whether the value head is used: only GAE needs a critic."""
        return self.advantage == "gae"

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain data (JSON-friendly, for checkpoints and run folders); a
        reward-model object or function is given by its name."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if data["reward_model"] is not None and not isinstance(data["reward_model"], str):
            data["reward_model"] = f"<{describe(data['reward_model'])}>"
        return data


def _fail(msg: str) -> None:
    raise ConfigError(msg)


def _check_batches(c: TokenPPOConfig) -> None:
    for name in ("batch_size", "minibatch_size", "grad_accum_steps", "ppo_epochs",
                 "max_new_tokens", "max_prompt_tokens", "group_size", "kl_horizon"):
        if int(getattr(c, name)) < 1:
            _fail(f"{name} must be ≥ 1, got {getattr(c, name)}.")
    if c.batch_size % c.minibatch_size:
        _fail(f"batch_size={c.batch_size} is not divisible by minibatch_size="
              f"{c.minibatch_size}; pick a minibatch_size that divides it (e.g. "
              f"{math.gcd(c.batch_size, c.minibatch_size)}).")
    if c.minibatch_size % c.grad_accum_steps:
        _fail(f"minibatch_size={c.minibatch_size} is not divisible by grad_accum_steps="
              f"{c.grad_accum_steps}.")
    if c.batch_size % c.group_size:
        _fail(f"batch_size={c.batch_size} is not divisible by group_size={c.group_size}.")
    if c.advantage not in ADVANTAGE_ESTIMATORS:
        _fail(f"advantage must be one of {ADVANTAGE_ESTIMATORS}, got {c.advantage!r}.")
    if c.advantage in ("rloo", "grpo") and c.group_size < 2:
        _fail(f"advantage={c.advantage!r} compares responses to the same prompt: set "
              f"group_size ≥ 2 (got {c.group_size}).")


def _check_sampling(c: TokenPPOConfig) -> None:
    if not c.temperature > 0:
        _fail(f"temperature must be > 0, got {c.temperature}.")
    if c.top_k < 0:
        _fail(f"top_k must be ≥ 0 (0 disables it), got {c.top_k}.")
    if not 0 < c.top_p <= 1:
        _fail(f"top_p must lie in (0, 1], got {c.top_p}.")
    if c.allowed_token_ids is not None and len(c.allowed_token_ids) == 0:
        _fail("allowed_token_ids must name at least one token, or be None for all tokens.")


REFERENCE_PASSES = ("auto", "always")


def _check_objective(c: TokenPPOConfig) -> None:
    if c.reference_pass not in REFERENCE_PASSES:
        _fail(f"reference_pass must be one of {REFERENCE_PASSES}, got {c.reference_pass!r}.")
    check_precision("TokenPPOConfig.reference_precision", c.reference_precision)
    check_precision("TokenPPOConfig.reward_precision", c.reward_precision)
    if c.kl_estimator not in KL_ESTIMATORS:
        _fail(f"kl_estimator must be one of {KL_ESTIMATORS}, got {c.kl_estimator!r}.")
    for name in ("kl_coef", "clip_range_value", "vf_coef", "ent_coef"):
        value = getattr(c, name)
        if not (math.isfinite(value) and value >= 0):
            _fail(f"{name} must be a finite number ≥ 0, got {value}.")
    for name in ("learning_rate", "clip_range", "target_kl", "max_grad_norm", "lora_alpha"):
        if not getattr(c, name) > 0:
            _fail(f"{name} must be > 0, got {getattr(c, name)}.")
    if not (0 <= c.gamma <= 1 and 0 <= c.lam <= 1):
        _fail(f"gamma and lam must lie in [0, 1], got {c.gamma} and {c.lam}.")
    if c.lora_r < 0:
        _fail(f"lora_r must be ≥ 0 (0 disables LoRA), got {c.lora_r}.")
    if c.num_sample_responses < 0:
        _fail(f"num_sample_responses must be ≥ 0, got {c.num_sample_responses}.")
