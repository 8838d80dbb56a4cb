"""``best-of-n``: reranking by the proxy, the non-RL reference of the text tasks.

No training: its "steps" trace best-of-k for growing k, ``k = round(n^(step/steps))`` from 1
at step 0 to the task's ``n`` (``options["best_of_n"]``) at the end. n answers are drawn
once per evaluation prompt; the score at each k is the unbiased average over k-subsets of
those draws, and KL is the analytic ``log k − (k−1)/k`` nats.
"""

from __future__ import annotations

from collections.abc import Iterator

from agents.bench._text import LMEvaluator, check_text, load_policy_lm
from agents.best_of_n import BestOfNConfig, best_of_n, best_of_n_kl
from rlhf_env.bench import EvalPoint, Trial


def k_at(step: int, steps: int, n: int) -> int:
    """Geometric schedule of k over the budget: 1 at step 0, n at the end."""
    return max(1, min(n, round(n ** (step / steps))))


def best_of_n_algorithm(trial: Trial) -> Iterator[EvalPoint]:
    """Best-of-k on the evaluation prompts for k growing to the task's n."""
    check_text(trial, "best-of-n")
    n = int(trial.options.get("best_of_n", trial.task.options.get("best_of_n", 16)))
    evaluator = LMEvaluator.build(trial)
    core = evaluator.core
    config = BestOfNConfig(max_new_tokens=evaluator.max_new_tokens, seed=trial.eval_seed)
    result = best_of_n(load_policy_lm(trial), core.tokenizer, evaluator.prompts,
                       core.reward_model, n, config, gold=core.gold)
    chars = [len(r) for r in result.responses]
    for step in trial.budget.eval_steps():
        k = k_at(step, trial.budget.steps, n)
        gold = result.gold_at(k)
        yield trial.point(step, proxy=result.score_at(k), gold=float("nan") if gold is None
                          else gold, kl=best_of_n_kl(k), labels_used=trial.budget.labels,
                          k=k, best_response_chars=sum(chars) / len(chars))


best_of_n_algorithm.kinds = ("text",)  # type: ignore[attr-defined]
