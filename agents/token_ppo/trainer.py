"""Token-level PPO against ``RLHF-Text-v0``: generate → score → KL → advantages → update.

One :meth:`TokenPPOTrainer.step` is the sequence of named stages below, each a short method:

1. :meth:`~TokenPPOTrainer.collect_rollout` — the env gives prompts; the policy samples
   responses with the KV cache, returning old log-probs and values from that same pass; the
   env scores the responses (one reward-model call); the reference scores them (one forward).
2. :meth:`~TokenPPOTrainer.compute_rewards` — per-token reward ``−β · KL_t`` plus the score
   (minus the missing-EOS penalty, optionally whitened) on the last token.
3. :meth:`~TokenPPOTrainer.compute_advantages` — GAE with the value head, or RLOO /
   group-relative baselines over responses to the same prompt.
4. :meth:`~TokenPPOTrainer.update` — PPO epochs over shuffled minibatches, gradient
   accumulation and clipping.
5. :meth:`~TokenPPOTrainer.record` — metrics, the logger (TensorBoard, W&B, CSV), KL
   controller update.

KL decomposition: the env runs with ``kl_coef=0``; the trainer owns both sides of the
per-token log-ratio ``log π(y_t) − log π_ref(y_t)``. The reward uses ``kl_estimator`` (``k1``
by default, which may be negative on single tokens); the logged ``kl`` is the ``k3`` estimate
summed over the response, which has the same expectation and is never negative, and
``kl_k1`` is logged next to it.

Metrics: one dict per step in ``trainer.metrics``, keyed as logged (the shared vocabulary
of :mod:`rlhf_env.metrics` under ``rlhf/``, internals under ``train/`` with SB3's PPO names,
clocks under ``time/``); with ``log_dir`` they also go to ``log_with`` (TensorBoard, W&B,
CSV) at ``time/total_timesteps``, so token-level and SB3 runs on the bandit share an x-axis.

* ``rlhf/score``, ``rlhf/score_std``, ``rlhf/gold_score``: the rollout's reward-model and
  gold scores; ``rlhf/reward``: what the agent was trained on, summed per response (score
  minus the per-token KL penalty, after the missing-EOS penalty and whitening when on);
* ``rlhf/kl`` (k3, ≥ 0): KL to the reference summed over a response, in nats, averaged over
  responses; ``rlhf/kl_coef``: β used this step; ``rlhf/response_length`` (tokens, EOS
  included), ``rlhf/missing_eos`` (share cut at the limit), ``rlhf/episodes``;
* ``train/policy_gradient_loss``, ``train/value_loss`` (GAE only: the clipped squared error,
  halved), ``train/loss`` (the total, averaged over micro-batches where SB3 keeps the last);
  ``train/entropy_loss``: minus the mean per-token entropy of the sampling distribution;
  ``train/approx_kl``: ``E[(ρ − 1) − log ρ]``, how far the update moved the policy from the
  sampling policy; ``train/clip_fraction``: share of tokens whose ratio left
  ``1 ± clip_range``; ``train/explained_variance`` (GAE only) of the value head against the
  returns (1 is perfect, ≤ 0 no better than a constant); ``train/kl_k1`` (the plain log-ratio
  sum) and ``train/kl_penalty`` (the reward's estimator) next to ``rlhf/kl``;
  ``train/learning_rate``, ``train/clip_range``;
* ``time/iterations`` (steps so far), ``time/total_timesteps`` (responses so far),
  ``time/seconds`` (wall time of the step); ``samples``: (prompt, response, score) dicts,
  logged as text.

Profiling: each stage runs as a named range (``token_ppo.generate``, ``token_ppo.score``,
``token_ppo.reference``, ``token_ppo.rewards``, ``token_ppo.advantages``, ``token_ppo.update``,
``token_ppo.record``) that ``torch.profiler`` traces show, and
:func:`agents.token_ppo.profiling.stage_times` collects their wall-clock seconds.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import rlhf_env  # noqa: F401  (registers the env ids)
from agents.policy_folder import is_policy_folder
from agents.token_ppo import advantages as adv
from agents.token_ppo.config import TokenPPOConfig
from agents.token_ppo.generation import SamplingTransform, position_ids, shared_group_size
from agents.token_ppo.losses import entropy, explained_variance, policy_loss, value_loss
from agents.token_ppo.policy import PolicyWithValue, vocab_size
from agents.token_ppo.profiling import stage
from agents.token_ppo.rollout import Rollout, collect, pick_prompts
from rlhf_env.errors import ConfigError
from rlhf_env.kl import AdaptiveKLController, FixedKLController, kl_estimate
from rlhf_env.metrics import shared_metrics
from rlhf_env.models import eos_token_id, load_causal_lm
from rlhf_env.numerics import check_grads, check_loss
from rlhf_env.text.core import TextBanditCore, text_core
from rlhf_env.text.vector import TextBanditVectorEnv


@dataclass(frozen=True)
class Targets:
    """What the update fits, per response token ``(B, R)``."""

    advantages: torch.Tensor
    """Policy-gradient weights."""
    returns: torch.Tensor | None
    """Value targets (GAE only; ``None`` for critic-free estimators)."""


def build_env(config: TokenPPOConfig) -> Any:
    """The ``RLHF-Text-v0`` vector env the trainer needs for ``config`` (KL done here), with
    ``config.reward_model`` and ``config.prompts`` when they are set."""
    extra: dict[str, Any] = {k: v for k, v in (("reward_model", config.reward_model),
                                               ("prompts", config.prompts)) if v is not None}
    return gym.make_vec("RLHF-Text-v0", num_envs=config.batch_size, task=config.task,
                        model=config.model, max_response_tokens=config.max_new_tokens,
                        max_prompt_tokens=config.max_prompt_tokens, action_vocab=None,
                        kl_coef=0.0, frozen_precision=config.reward_precision, **extra)


def _check_env(env: Any, config: TokenPPOConfig) -> TextBanditCore:
    core = text_core(env)
    if not isinstance(getattr(env, "unwrapped", env), TextBanditVectorEnv):
        raise ConfigError("the trainer needs the batched RLHF-Text-v0 env "
                          "(gym.make_vec('RLHF-Text-v0', num_envs=batch_size, ...)).")
    if env.num_envs != config.batch_size:
        raise ConfigError(f"the env has {env.num_envs} sub-envs but batch_size="
                          f"{config.batch_size}; build it with num_envs=batch_size.")
    if core.config.action_vocab is not None:
        raise ConfigError("build the env with action_vocab=None: the trainer's actions are "
                          "token ids (restrict sampling with allowed_token_ids instead).")
    if core.config.kl_coef != 0:
        raise ConfigError("build the env with kl_coef=0: the trainer adds the per-token KL "
                          "penalty itself (a non-zero env kl_coef would count it twice).")
    if core.config.max_response_tokens < config.max_new_tokens:
        raise ConfigError(f"the env's max_response_tokens={core.config.max_response_tokens} "
                          f"is below max_new_tokens={config.max_new_tokens}.")
    return core


class TokenPPOTrainer:
    """Token-level PPO for a causal LM with a value head (see the module docstring).

    ``env``: a batched ``RLHF-Text-v0`` with ``num_envs = batch_size``, ``action_vocab=None``
    and ``kl_coef=0`` (built from the config when ``None``). ``policy``: a causal LM or a
    :class:`PolicyWithValue` (loaded from ``config.model`` when ``None``). ``reference``: a
    causal LM for the KL term (default: the initial policy).
    """

    def __init__(self, config: TokenPPOConfig, *, env: Any = None, policy: Any = None,
                 reference: Any = None) -> None:
        self.config = config
        if env is not None and config.reward_model is not None:
            raise ConfigError("config.reward_model is used only when the trainer builds the env; "
                              "pass reward_model= to the env you build, or leave env=None.")
        if env is not None and config.prompts is not None:
            raise ConfigError("config.prompts is used only when the trainer builds the env; "
                              "pass prompts= to the env you build, or leave env=None.")
        self.env = env if env is not None else build_env(config)
        core = _check_env(self.env, config)
        self.tokenizer = core.tokenizer
        self.n_prompts = len(core.prompts)
        self.eos_id = eos_token_id(self.tokenizer)
        self.policy = self._build_policy(policy, reference)
        self.optimizer = adamw(self.policy.trainable_parameters(), config.learning_rate,
                               config.device)
        self.kl_controller = (
            AdaptiveKLController(config.kl_coef, config.target_kl, config.kl_horizon)
            if config.adaptive_kl else FixedKLController(config.kl_coef))
        self.rng = np.random.default_rng(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)  # shuffling (CPU)
        self.sampler = torch.Generator(device=config.device).manual_seed(config.seed)
        self.transform = self._transform()
        self.step_count = 0
        self.metrics: list[dict[str, Any]] = []
        self.logger = _logger(config)

    def _build_policy(self, policy: Any, reference: Any) -> PolicyWithValue:
        c = self.config
        if policy is None and is_policy_folder(c.model):  # a policy saved with save_pretrained
            policy = PolicyWithValue.from_pretrained(
                c.model, reference=reference, reference_precision=c.reference_precision)
        elif policy is None:
            policy = load_causal_lm(c.model)
        if not isinstance(policy, PolicyWithValue):
            policy = PolicyWithValue(policy, lora_r=c.lora_r, lora_alpha=c.lora_alpha,
                                     lora_target_modules=c.lora_target_modules,
                                     reference=reference, seed=c.seed,
                                     base_model=c.model if isinstance(c.model, str) else None,
                                     reference_precision=c.reference_precision)
        elif policy.reference_precision != c.reference_precision:
            raise ConfigError(f"the PolicyWithValue passed runs its reference at "
                              f"{policy.reference_precision!r} but reference_precision="
                              f"{c.reference_precision!r}; build it with reference_precision="
                              f"{c.reference_precision!r}, or pass the plain causal LM.")
        if policy.tokenizer is None:
            policy.tokenizer = self.tokenizer
        policy.to(c.device)
        if vocab_size(policy.lm) < len(self.tokenizer):
            raise ConfigError(f"the policy has {vocab_size(policy.lm)} token embeddings but the "
                              f"env's tokenizer has {len(self.tokenizer)} tokens; pass the "
                              f"policy's own tokenizer/model name to the env.")
        return policy

    def _transform(self) -> SamplingTransform:
        c = self.config
        allowed = None
        if c.allowed_token_ids is not None:
            n = vocab_size(self.policy.lm)
            ids = [*c.allowed_token_ids, self.eos_id]
            if min(ids) < 0 or max(ids) >= n:
                raise ConfigError(f"allowed_token_ids must lie in [0, {n - 1}].")
            allowed = torch.zeros(n, dtype=torch.bool, device=c.device)
            allowed[ids] = True
        return SamplingTransform(c.temperature, c.top_k, c.top_p, allowed)

    # -- the stages ------------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        """One PPO iteration: rollout, rewards, advantages, update, record. Returns metrics."""
        start = time.perf_counter()
        rollout = self.collect_rollout()  # stages generate, score, reference
        if self.config.init_value_from_scores and self.step_count == 0:
            self.init_value_head(rollout)
        with stage("rewards"):
            kl, rewards = self.compute_rewards(rollout)
        with stage("advantages"):
            targets = self.compute_advantages(rollout, rewards)
        with stage("update"):
            stats = self.update(rollout, targets)
        self.step_count += 1
        with stage("record"):
            return self.record(rollout, kl, rewards, targets, stats,
                               time.perf_counter() - start)

    def collect_rollout(self) -> Rollout:
        """Prompts from the env, sampled responses, scores, reference log-probs."""
        c = self.config
        indices = pick_prompts(self.rng, self.n_prompts, c.batch_size, c.group_size)
        return collect(self.env, self.policy, indices, max_new_tokens=c.max_new_tokens,
                       eos_id=self.eos_id, transform=self.transform, generator=self.sampler,
                       group_size=self.prompt_group, with_reference=c.needs_reference,
                       with_values=c.needs_values)

    @torch.no_grad()
    def init_value_head(self, rollout: Rollout) -> None:
        """Shift the value head's bias (and the rollout's values) by the mean score."""
        shift = rollout.scores.mean().to(self.policy.value_head.bias.dtype)
        self.policy.value_head.bias.add_(shift)
        rollout.generation.values.add_(shift)

    def compute_rewards(self, rollout: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token KL estimates and rewards, both ``(B, R)``."""
        c, gen = self.config, rollout.generation
        scores = rollout.scores.clone()
        if c.missing_eos_penalty is not None:
            scores = scores - c.missing_eos_penalty * gen.hit_limit.to(scores.dtype)
        if c.whiten_rewards:
            scores = adv.whiten(scores, torch.ones_like(scores, dtype=torch.bool),
                                shift_mean=False)
        if rollout.ref_logprobs is None:  # β = 0 and fixed: nothing to penalise
            kl = torch.zeros_like(gen.logprobs)
        else:
            kl = kl_estimate(gen.logprobs, rollout.ref_logprobs, c.kl_estimator) * gen.mask
        return kl, adv.token_rewards(scores, kl, gen.mask, self.kl_controller.value)

    def compute_advantages(self, rollout: Rollout, rewards: torch.Tensor) -> Targets:
        """GAE (value head) or a per-response baseline, then optional whitening."""
        c, mask = self.config, rollout.generation.mask
        if c.advantage == "gae":
            advantages, returns = adv.gae(rewards, rollout.generation.values, mask, c.gamma,
                                          c.lam)
        else:
            seq = adv.sequence_returns(rewards, mask)
            base = adv.rloo if c.advantage == "rloo" else adv.group_relative
            advantages, returns = adv.broadcast(base(seq, c.group_size), mask), None
        if c.whiten_advantages:
            advantages = adv.whiten(advantages, mask)
        return Targets(advantages, returns)

    def update(self, rollout: Rollout, targets: Targets) -> dict[str, float]:
        """PPO epochs over shuffled minibatches; returns mean loss statistics."""
        c = self.config
        totals: dict[str, list[float]] = {}
        micro = c.minibatch_size // c.grad_accum_steps
        for _ in range(c.ppo_epochs):
            order = self._shuffle()
            for start in range(0, c.batch_size, c.minibatch_size):
                self.optimizer.zero_grad(set_to_none=True)
                for m in range(start, start + c.minibatch_size, micro):
                    stats = self._micro_step(rollout, targets, order[m:m + micro])
                    for key, value in stats.items():
                        totals.setdefault(key, []).append(value)
                self._optimizer_step()
        return {key: float(np.mean(values)) for key, values in totals.items()}

    @property
    def prompt_group(self) -> int:
        """Rows that share one prompt pass: ``group_size`` with ``shared_prompt``, else 1."""
        return self.config.group_size if self.config.shared_prompt else 1

    def _shuffle(self) -> torch.Tensor:
        """Row order for one epoch: whole groups shuffled (members kept together) when every
        micro-batch can hold whole groups, so their prompt runs once; else rows shuffled."""
        c, g = self.config, self.prompt_group
        micro = c.minibatch_size // c.grad_accum_steps
        if g > 1 and micro % g == 0:
            groups = torch.randperm(c.batch_size // g, generator=self.generator)
            return (groups[:, None] * g + torch.arange(g)).flatten()
        return torch.randperm(c.batch_size, generator=self.generator)

    def _optimizer_step(self) -> None:
        params = list(self.policy.trainable_parameters())
        if np.isfinite(self.config.max_grad_norm):  # the clip computes the norm: reuse it
            norm = torch.nn.utils.clip_grad_norm_(params, self.config.max_grad_norm)
            if not bool(torch.isfinite(norm)):
                check_grads(params, "token PPO", self.step_count)
        else:
            check_grads(params, "token PPO", self.step_count)
        self.optimizer.step()

    def _micro_step(self, rollout: Rollout, targets: Targets,
                    rows: torch.Tensor) -> dict[str, float]:
        """Forward, loss and backward on a micro-batch (rows of the rollout)."""
        c, gen = self.config, rollout.generation
        ids, mask, n = _slice(rollout, rows)
        resp_mask = gen.mask[rows, :n]
        g = shared_group_size(ids[:, :-n], mask[:, :-n], self.prompt_group)
        logits, values = self.policy(ids, mask, position_ids(mask), n, g,
                                     with_values=targets.returns is not None)
        logp_all = self.transform(logits).log_softmax(-1)
        logp = logp_all.gather(-1, gen.tokens[rows, :n, None]).squeeze(-1)
        pl = policy_loss(logp, gen.logprobs[rows, :n], targets.advantages[rows, :n], resp_mask,
                         c.clip_range)
        ent = entropy(logp_all, resp_mask) if c.ent_coef > 0 else _no_grad_entropy(
            logp_all, resp_mask)
        loss = pl.loss - c.ent_coef * ent
        stats = {"train/policy_gradient_loss": float(pl.loss.detach()),
                 "train/clip_fraction": float(pl.clip_fraction),
                 "train/approx_kl": float(pl.approx_kl),
                 "train/entropy_loss": -float(ent.detach())}
        if targets.returns is not None and values is not None:
            vl = value_loss(values, gen.values[rows, :n], targets.returns[rows, :n], resp_mask,
                            c.clip_range_value)
            loss = loss + c.vf_coef * vl
            stats["train/value_loss"] = float(vl.detach())
        check_loss(loss, "token PPO", self.step_count)
        stats["train/loss"] = float(loss.detach())
        (loss / c.grad_accum_steps).backward()
        return stats

    def record(self, rollout: Rollout, kl: torch.Tensor, rewards: torch.Tensor,
               targets: Targets, stats: dict[str, float], seconds: float) -> dict[str, Any]:
        """Build this step's metrics, log them, and update the KL controller."""
        c = self.config
        metrics: dict[str, Any] = {
            "time/iterations": self.step_count,
            "time/total_timesteps": self.step_count * c.batch_size, "time/seconds": seconds,
            **self._rlhf_metrics(rollout, rewards), **self._train_metrics(rollout, kl, targets),
            **stats}
        k = c.num_sample_responses
        metrics["samples"] = [{"prompt": p, "response": r, "score": float(s)} for p, r, s in
                              zip(rollout.prompts[:k], rollout.responses[:k],
                                  rollout.scores[:k].tolist(), strict=True)]
        if "rlhf/kl" in metrics:  # absent only without a reference pass (fixed β = 0)
            self.kl_controller.update(metrics["rlhf/kl"], c.batch_size)
        self.metrics.append(metrics)
        self._log(metrics)
        return metrics

    def _rlhf_metrics(self, rollout: Rollout, rewards: torch.Tensor) -> dict[str, float]:
        """The shared ``rlhf/`` metrics of a rollout (:mod:`rlhf_env.metrics`)."""
        gen = rollout.generation
        values = {"score": rollout.scores.mean(), "score_std": rollout.scores.std(correction=0),
                  "reward": rewards.sum(-1).mean(), "kl_coef": self.kl_controller.value,
                  "response_length": gen.mask.sum(-1).float().mean(),
                  "missing_eos": gen.hit_limit.float().mean(), "episodes": len(rollout.prompts)}
        if rollout.ref_logprobs is not None:
            values["kl"] = (kl_estimate(gen.logprobs, rollout.ref_logprobs, "k3")
                            * gen.mask).sum(-1).mean()
        if rollout.gold_scores is not None:
            values["gold_score"] = rollout.gold_scores.mean()
        return shared_metrics(**values)

    def _train_metrics(self, rollout: Rollout, kl: torch.Tensor,
                       targets: Targets) -> dict[str, float]:
        """``train/`` internals beyond the update's losses: KL estimators, settings, the
        value head's explained variance."""
        gen, c = rollout.generation, self.config
        out = {"train/learning_rate": c.learning_rate, "train/clip_range": c.clip_range}
        if rollout.ref_logprobs is not None:
            k1 = (gen.logprobs - rollout.ref_logprobs) * gen.mask
            out["train/kl_k1"] = float(k1.sum(-1).mean())
            out["train/kl_penalty"] = float(kl.sum(-1).mean())
        if targets.returns is not None:
            out["train/explained_variance"] = explained_variance(gen.values, targets.returns,
                                                                 gen.mask)
        return out

    def _log(self, metrics: dict[str, Any]) -> None:
        """Send a step's metrics to the logger (if any), at ``time/total_timesteps``."""
        if self.logger is None:
            return
        for key, value in metrics.items():
            if isinstance(value, (int, float)):  # the clock is the x-axis, as in SB3
                exclude = ("tensorboard",) if key in _CLOCK else None
                self.logger.record(key, value, exclude=exclude)
        text = "\n\n".join(f"**{s['prompt']}** → {s['response']} ({s['score']:.3f})"
                            for s in metrics["samples"])
        if text:
            self.logger.record("samples", text, exclude=("stdout", "log", "json", "csv"))
        self.logger.dump(metrics["time/total_timesteps"])

    def train(self, num_steps: int) -> list[dict[str, Any]]:
        """Run ``num_steps`` iterations with a progress bar; returns all metrics so far."""
        from tqdm.auto import tqdm

        bar = tqdm(range(num_steps), desc="token PPO", disable=not self.config.progress_bar)
        for _ in bar:
            m = self.step()
            shown = {"score": f"{m['rlhf/score']:.3f}", "kl_coef": f"{m['rlhf/kl_coef']:.3g}"}
            if "rlhf/kl" in m:  # absent at fixed β = 0 (no reference pass)
                shown["kl"] = f"{m['rlhf/kl']:.3f}"
            bar.set_postfix(shown)
        return self.metrics

    def save_pretrained(self, folder: str | Path) -> Path:
        """Export the trained policy (see :meth:`PolicyWithValue.save_pretrained`) with the
        env's tokenizer; ``rlhf_env_policy.json`` also records this trainer's config and step.
        ``TokenPPOConfig(model=folder)`` or ``PolicyWithValue.from_pretrained(folder)`` load
        it back. To resume training exactly, use :func:`~agents.token_ppo.save_checkpoint`."""
        return self.policy.save_pretrained(
            folder, tokenizer=self.tokenizer,
            metadata={"trainer": {"config": self.config.to_dict(), "step": self.step_count}})

    def close(self) -> None:
        """Close the logger (TensorBoard files, the W&B run) and the env."""
        if self.logger is not None:
            self.logger.close()
            self.logger = None
        self.env.close()


def adamw(params: list[torch.nn.Parameter], lr: float, device: str) -> torch.optim.AdamW:
    """AdamW with torch's fused kernel where it has one (CPU, CUDA): one pass over each
    weight per step instead of about ten. Measured for SmolLM2-135M full fine-tuning on one
    CPU thread: 0.15 s per optimizer step against 0.95 s for the default loop."""
    fused = torch.device(device).type in ("cpu", "cuda")
    return torch.optim.AdamW(params, lr=lr, fused=True if fused else None)


def _slice(rollout: Rollout, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The rows' ids and mask, trimmed to their own longest prompt and response."""
    mask = rollout.attention_mask[rows]
    r_total = rollout.generation.tokens.shape[1]
    n = max(int(rollout.generation.mask[rows].sum(-1).max()), 1)
    ids = rollout.input_ids[rows]
    stop = ids.shape[1] - (r_total - n)
    used = mask[:, :stop].bool().any(0).nonzero()
    start = int(used[0]) if used.numel() else 0
    return ids[:, start:stop], mask[:, start:stop], n


def _no_grad_entropy(logp_all: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return entropy(logp_all, mask)


_CLOCK = ("time/iterations", "time/total_timesteps")
"""Keys kept out of TensorBoard and W&B, where the step already says them (as SB3 does)."""


def _logger(config: TokenPPOConfig) -> Any:
    if config.log_dir is None:
        return None
    from rlhf_env.logger import make_logger

    return make_logger(config.log_dir, config.log_with, run_config=dataclasses.asdict(config))
