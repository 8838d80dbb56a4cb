"""How every algorithm is judged: the shared evaluation of text and control policies.

Algorithms train however they like, but they are scored here, the same way:

* **text** — the policy answers the task's fixed *evaluation prompts*
  (``task.options["eval_prompts"]``, disjoint from the training prompts; cycled up to
  ``budget.eval_episodes`` answers), sampled with generators seeded from
  :attr:`~rlhf_env.bench.Trial.eval_seed`. :func:`score_text` scores the answers with the
  env's proxy reward model and its gold judge. KL to the reference (initial) policy is the
  Monte-Carlo estimate ``mean(log π(y|x) − log π_ref(y|x))`` over those answers, in nats
  per response (:func:`kl_estimate`; :func:`sequence_logprobs` gives both terms for causal
  LMs);
* **control** — :func:`control_returns` runs ``budget.eval_episodes`` episodes of the
  deterministic policy on evaluation seeds and returns the mean true return (gold) and,
  when a learned reward model is given, the mean learned return (proxy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlhf_env.bench.protocol import EvalPoint, Trial
from rlhf_env.errors import ConfigError

TEXT_OPTION_KEYS = ("model", "max_response_tokens", "max_prompt_tokens")
"""Trial options that change how a text env is built (e.g. ``model="tiny-random-llama"``)."""


# -- text ---------------------------------------------------------------------------------
def text_env_overrides(trial: Trial, **extra: Any) -> dict[str, Any]:
    """Env kwargs the trial's options set (policy model, lengths), plus ``extra``."""
    return {**{k: trial.options[k] for k in TEXT_OPTION_KEYS if k in trial.options}, **extra}


def eval_prompts(trial: Trial) -> list[str]:
    """The task's evaluation prompts, cycled to ``budget.eval_episodes`` entries."""
    prompts = list(trial.task.options.get("eval_prompts", ()))
    if not prompts:
        raise ConfigError(f"task {trial.task.name!r} has no options['eval_prompts']; give "
                          f"text tasks a fixed evaluation prompt set apart from training.")
    n = trial.budget.eval_episodes
    return [prompts[i % len(prompts)] for i in range(n)]


def make_eval_env(trial: Trial, **overrides: Any) -> Any:
    """A single text env over the evaluation prompts (its ``unwrapped.core`` scores)."""
    unique = list(dict.fromkeys(eval_prompts(trial)))
    return trial.make_env(**text_env_overrides(trial, prompts=unique, **overrides))


@dataclass(frozen=True)
class TextScores:
    """Mean scores of one evaluation's answers."""

    proxy: float
    gold: float
    response_chars: float
    """Mean answer length in characters (length hacking shows up here)."""


def score_text(core: Any, prompts: Sequence[str], responses: Sequence[str]) -> TextScores:
    """Proxy and gold means of ``responses`` (the env's reward model and gold judge)."""
    from rlhf_env.rewards.base import score_checked

    if core.gold is None:
        raise ConfigError("the task's env has no gold judge; benchmark tasks need one "
                          "(gold=... in the env kwargs).")
    proxy = score_checked(core.reward_model, prompts, responses)
    gold = score_checked(core.gold, prompts, responses)
    chars = float(np.mean([len(r) for r in responses])) if responses else 0.0
    return TextScores(float(proxy.mean()), float(gold.mean()), chars)


def kl_estimate(logprobs: Any, ref_logprobs: Any) -> float:
    """``mean(log π(y) − log π_ref(y))`` over responses sampled from π: nats per response."""
    return float(np.mean(np.asarray(logprobs, np.float64) - np.asarray(ref_logprobs,
                                                                        np.float64)))


def sequence_logprobs(lm: Any, prompt_ids: Sequence[Sequence[int]],
                      response_ids: Sequence[Sequence[int]], pad_id: int) -> np.ndarray:
    """``log p(response | prompt)`` summed over response tokens, one per row, ``(n,)``: the
    env's own reference scorer (:class:`~rlhf_env.text.reference.ReferenceScorer`) on ``lm``.
    ``lm`` is left as it is (it may be a LoRA policy with its adapters disabled)."""
    from rlhf_env.text.reference import ReferenceScorer

    vocab = int(lm.get_input_embeddings().weight.shape[0])
    scorer = ReferenceScorer(lm, pad_id, vocab, prefix_cache_size=0, freeze=False)
    return scorer.sequence_logprobs([np.asarray(p, np.int64) for p in prompt_ids],
                                    [np.asarray(r, np.int64) for r in response_ids]
                                    ).astype(np.float64)


def text_point(trial: Trial, step: int, scores: TextScores, *, kl: float | None,
               labels_used: int = 0, **extra: float) -> EvalPoint:
    """The :class:`EvalPoint` of a text evaluation (answer length kept as an extra)."""
    return trial.point(step, proxy=scores.proxy, gold=scores.gold, kl=kl,
                       labels_used=labels_used, response_chars=scores.response_chars, **extra)


# -- control ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ControlReturns:
    """Mean returns of evaluation episodes."""

    true: float
    """Mean true (task) return: the gold."""
    learned: float
    """Mean return under the learned reward model (the true return when none is given)."""
    failed: float | None = None
    """Share of episodes that ended in the task's failure state (a fallen CartPole, a crashed
    car; 0 on tasks that cannot fail); ``None`` for envs that do not report
    ``info["failed"]``."""


def control_returns(trial: Trial, policy: Any, reward_model: Any = None,
                    episodes: int | None = None, failure_reward: float | None = None
                    ) -> ControlReturns:
    """Run the deterministic ``policy.predict`` for ``episodes`` (default
    ``budget.eval_episodes``) on evaluation seeds ``eval_seed·1000 + i``; the learned return
    caps failed steps at ``failure_reward`` as the agent's training env did
    (:class:`~rlhf_env.control.wrappers.LearnedRewardWrapper`)."""
    from rlhf_env.control.wrappers import LearnedRewardWrapper

    env = trial.make_env()
    if reward_model is not None:
        env = LearnedRewardWrapper(env, reward_model, failure_reward=failure_reward)
    true_total = learned_total = 0.0
    failures: list[bool] = []
    n = episodes or trial.budget.eval_episodes
    for i in range(n):
        obs, info = env.reset(seed=trial.eval_seed * 1000 + i)
        done = False
        while not done:
            action, _ = policy.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            learned_total += float(reward)
            true_total += float(info.get("true_reward", reward))
            done = terminated or truncated
        if "failed" in info:
            failures.append(bool(info["failed"]))
    env.close()
    failed = float(np.mean(failures)) if len(failures) == n else None
    return ControlReturns(true_total / n, learned_total / n, failed)


def control_point(trial: Trial, step: int, returns: ControlReturns, *, labels_used: int = 0,
                  **extra: float) -> EvalPoint:
    """The :class:`EvalPoint` of a control evaluation (no KL; the share of failed episodes
    as the extra ``failed`` when the env reports failures)."""
    if returns.failed is not None:
        extra = {"failed": returns.failed, **extra}
    return trial.point(step, proxy=returns.learned, gold=returns.true, kl=None,
                       labels_used=labels_used, **extra)
