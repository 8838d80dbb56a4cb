"""``sb3-ppo``, ``sb3-a2c`` (bandit env, MLP policy) and ``sb3-ppo-token`` (token env,
``CausalLMPolicy``): stock Stable-Baselines3 on the text tasks.

Steps are episodes. Bandit policies sample from the task's restricted action vocabulary;
their KL is to the *initial* SB3 policy (a frozen copy), estimated on the evaluation answers
as ``log π(y) − log π₀(y)`` summed over the kept positions (up to the first EOS: the
response's exact probability under a factorised policy, :mod:`agents.sb3.kl`). The token
policy's KL is to the initial LM, as for the token-level trainers.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from agents.bench._text import LMEvaluator, check_text, env_kwargs, model_name
from agents.sb3 import make_a2c, make_ppo, make_vec_env
from agents.sb3.kl import response_logprobs
from agents.token_ppo import LMSampler
from rlhf_env.bench import EvalPoint, Trial
from rlhf_env.bench.evaluation import eval_prompts, make_eval_env, score_text, text_point
from rlhf_env.quiet import sb3_without_temp_folder
from rlhf_env.text import text_core


def _bandit_env_kwargs(trial: Trial) -> dict[str, Any]:
    return env_kwargs(trial, action_vocab=trial.task.options.get("action_vocab", "task"),
                      kl_coef=0.0)


def evaluate_bandit(trial: Trial, step: int, core: Any, policy: Any, initial: Any,
                    **extra: float) -> EvalPoint:
    """Sample one answer per evaluation prompt from ``policy``; score; KL to ``initial``."""
    prompts = eval_prompts(trial)
    index = {p: i for i, p in enumerate(core.prompts)}
    indices = [index[p] for p in prompts]
    obs, _ = policy.obs_to_tensor(core.observation(indices))
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(trial.eval_seed)
        dist = policy.get_distribution(obs)
        actions = dist.get_actions()
        start = initial.get_distribution(obs)
    responses, _ = core.response_tokens(actions.cpu().numpy())
    lengths = [len(r) for r in responses]
    kl = float(np.mean(response_logprobs(dist, actions, lengths)
                       - response_logprobs(start, actions, lengths)))
    scores = score_text(core, prompts, core.decode(responses))
    return text_point(trial, step, scores, kl=kl, labels_used=trial.budget.labels, **extra)


def rollout_settings(trial: Trial, n_steps: int, num_envs: int) -> tuple[int, dict[str, Any]]:
    """Env count and rollout length that fit one evaluation interval, so SB3's whole
    rollouts never run past an evaluation step (nor the budget)."""
    every = trial.budget.eval_every
    envs = max(1, min(int(trial.options.get("num_envs", num_envs)), every))
    steps = max(1, min(n_steps, every // envs))
    return envs, {"n_steps": steps}


def run_bandit(trial: Trial, make: Any, name: str, n_steps: int) -> Iterator[EvalPoint]:
    check_text(trial, name)
    kwargs = _bandit_env_kwargs(trial)
    envs, settings = rollout_settings(trial, n_steps, 8)
    if make is make_ppo:
        settings["batch_size"] = min(64, settings["n_steps"] * envs)
    venv = make_vec_env(envs, seed=trial.seed, env_id=trial.env.env_id, **kwargs)
    model = sb3_without_temp_folder(
        make(venv, seed=trial.seed, **{**settings, **dict(trial.options.get("sb3", {}))}))
    initial = copy.deepcopy(model.policy)
    core = text_core(make_eval_env(trial, **{k: v for k, v in kwargs.items() if k != "prompts"}))
    for step in trial.budget.eval_steps():
        if step > model.num_timesteps:
            model.learn(step - model.num_timesteps, reset_num_timesteps=False)
        yield evaluate_bandit(trial, step, core, model.policy, initial,
                              episodes=float(model.num_timesteps))
    venv.close()


def sb3_ppo(trial: Trial) -> Iterator[EvalPoint]:
    """Stock SB3 PPO (``agents.sb3.make_ppo`` defaults) on the text bandit."""
    return run_bandit(trial, make_ppo, "sb3-ppo", n_steps=16)


def sb3_a2c(trial: Trial) -> Iterator[EvalPoint]:
    """Stock SB3 A2C (``agents.sb3.make_a2c`` defaults) on the text bandit."""
    return run_bandit(trial, make_a2c, "sb3-a2c", n_steps=4)


class EpisodeCounter(BaseCallback):
    """Counts finished episodes (responses) across ``learn`` calls."""

    def __init__(self) -> None:
        super().__init__()
        self.episodes = 0

    def _on_step(self) -> bool:
        self.episodes += int(np.sum(self.locals["dones"]))
        return True


def sb3_ppo_token(trial: Trial) -> Iterator[EvalPoint]:
    """Stock SB3 PPO with ``CausalLMPolicy`` on ``RLHF-TextToken-v0`` (one action = one
    token; full vocabulary, so the policy is the LM's own softmax). Training runs whole
    rollouts of ``n_steps × num_envs`` tokens until the episodes reach the evaluation step,
    so it may pass it by part of a rollout (``extra["episodes"]`` says by how much)."""
    from stable_baselines3 import PPO

    from agents.lm_policy import CausalLMPolicy
    from rlhf_env.models import load_causal_lm

    check_text(trial, "sb3-ppo-token")
    kwargs = env_kwargs(trial, action_vocab=None, kl_coef=0.0)
    venv = make_vec_env(int(trial.options.get("num_envs", 4)), seed=trial.seed,
                        env_id="RLHF-TextToken-v0", **kwargs)
    lm = load_causal_lm(model_name(trial), seed=trial.seed)
    reference = copy.deepcopy(lm).eval().requires_grad_(False)
    settings = {"n_steps": 16, "batch_size": 32, "n_epochs": 2, "learning_rate": 1e-5,
                "gamma": 1.0, "gae_lambda": 0.95, **dict(trial.options.get("sb3", {}))}
    model = sb3_without_temp_folder(PPO(CausalLMPolicy, venv, policy_kwargs={"model": lm},
                                        seed=trial.seed, verbose=0, **settings))
    evaluator = LMEvaluator.build(trial)
    counter = EpisodeCounter()
    for step in trial.budget.eval_steps():
        while counter.episodes < step:
            model.learn(settings["n_steps"] * venv.num_envs, callback=counter,
                        reset_num_timesteps=False)
        policy_lm: Any = model.policy.lm
        yield evaluator.point(step, LMSampler(policy_lm.eval()), reference,
                              episodes=float(counter.episodes), tokens=float(model.num_timesteps))
    venv.close()


for _fn in (sb3_ppo, sb3_a2c, sb3_ppo_token):
    _fn.kinds = ("text",)  # type: ignore[attr-defined]
