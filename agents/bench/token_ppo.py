"""``token-ppo-gae``, ``token-ppo-rloo``, ``token-ppo-grpo``: the token-level PPO trainer.

Steps are episodes (sampled responses): a trainer step spends ``batch_size`` of them. The
trainer owns the KL penalty (env ``kl_coef=0``); its reference — the initial policy, frozen —
is also the reference of the evaluation's KL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from agents.bench._text import LMEvaluator, check_text, env_kwargs, load_policy_lm, model_name
from agents.token_ppo import TokenPPOConfig, TokenPPOTrainer
from rlhf_env.bench import EvalPoint, Trial

GROUP_SIZE = 4
"""Responses per prompt for RLOO and GRPO."""


def config_for(trial: Trial, advantage: str) -> TokenPPOConfig:
    """Benchmark defaults with the trial's overrides: the demo's tuned learner (LoRA r=8 on
    the attention projections, learning rate 1e-3, batch 16 in minibatches of 8, 2 epochs)
    with a small fixed β = 0.05, so that within the budget the policy can move far enough
    from its start for over-optimisation to show (full fine-tuning at 1e-5 reached under
    1 nat in 128 responses)."""
    fields = {f.name for f in dataclasses.fields(TokenPPOConfig)}
    overrides = {k: v for k, v in trial.options.items() if k in fields}
    group = GROUP_SIZE if advantage in ("rloo", "grpo") else 1
    base: dict[str, Any] = {"batch_size": 16, "minibatch_size": 8, "ppo_epochs": 2,
                            "group_size": group, "max_new_tokens": 16, "learning_rate": 1e-3,
                            "lora_r": 8,
                            "lora_target_modules": ("q_proj", "k_proj", "v_proj", "o_proj"),
                            "kl_coef": 0.05}
    return TokenPPOConfig(**{**base, **overrides, "advantage": advantage,
                             "model": model_name(trial), "seed": trial.seed,
                             "progress_bar": False})


def run_token_ppo(trial: Trial, advantage: str) -> Iterator[EvalPoint]:
    check_text(trial, f"token-ppo-{advantage}")
    config = config_for(trial, advantage)
    env = trial.env.make_vec(config.batch_size, **env_kwargs(
        trial, action_vocab=None, kl_coef=0.0, max_response_tokens=config.max_new_tokens))
    trainer = TokenPPOTrainer(config, env=env, policy=load_policy_lm(trial))
    evaluator = LMEvaluator.build(trial)
    episodes = 0
    try:
        for step in trial.budget.eval_steps():
            extra: dict[str, float] = {}
            while episodes < step:
                metrics = trainer.step()
                episodes += config.batch_size
                extra = {"train_score": metrics["rlhf/score"],
                         "kl_coef": metrics["rlhf/kl_coef"]}
                if "rlhf/kl" in metrics:  # not measured at fixed β = 0 (no reference pass)
                    extra["train_kl"] = metrics["rlhf/kl"]
            yield evaluator.point(step, trainer.policy, trainer.policy.reference_model,
                                  episodes=episodes, **extra)
    finally:
        trainer.close()


def token_ppo_gae(trial: Trial) -> Iterator[EvalPoint]:
    """Token-level PPO with a value head and GAE."""
    return run_token_ppo(trial, "gae")


def token_ppo_rloo(trial: Trial) -> Iterator[EvalPoint]:
    """Token-level PPO with the RLOO leave-one-out baseline."""
    return run_token_ppo(trial, "rloo")


def token_ppo_grpo(trial: Trial) -> Iterator[EvalPoint]:
    """Token-level PPO with group-relative advantages."""
    return run_token_ppo(trial, "grpo")


for _fn in (token_ppo_gae, token_ppo_rloo, token_ppo_grpo):
    _fn.kinds = ("text",)  # type: ignore[attr-defined]
