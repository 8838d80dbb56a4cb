"""``random``: uniform random actions, never trained (text and control).

Text: uniform over the task's restricted action vocabulary on the bandit env; its KL is 0
(the policy never moves from its initial self). Control: the action space's own sampler;
proxy and gold are both the true return (this policy is the control tasks' normalisation 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from agents.bench._text import env_kwargs
from rlhf_env.bench import EvalPoint, Trial
from rlhf_env.bench.evaluation import (
    control_point,
    control_returns,
    eval_prompts,
    make_eval_env,
    score_text,
    text_point,
)
from rlhf_env.text import text_core


class RandomPolicy:
    """``predict`` that ignores the observation and samples ``space`` (seeded)."""

    def __init__(self, space: Any, seed: int) -> None:
        self.space = space
        self.space.seed(seed)

    def predict(self, obs: Any, deterministic: bool = False) -> tuple[Any, None]:
        return self.space.sample(), None


def _text(trial: Trial) -> Iterator[EvalPoint]:
    kwargs = env_kwargs(trial, action_vocab=trial.task.options.get("action_vocab", "task"))
    env = make_eval_env(trial, **{k: v for k, v in kwargs.items() if k != "prompts"})
    core = text_core(env)
    prompts = eval_prompts(trial)
    rng = np.random.default_rng(trial.eval_seed)
    actions = rng.integers(0, core.vocab.size, size=(len(prompts), core.config.max_response_tokens))
    responses, _ = core.response_tokens(actions)
    scores = score_text(core, prompts, core.decode(responses))
    for step in trial.budget.eval_steps():
        yield text_point(trial, step, scores, kl=0.0, labels_used=trial.budget.labels)


def _control(trial: Trial) -> Iterator[EvalPoint]:
    env = trial.make_env()
    policy = RandomPolicy(env.action_space, trial.eval_seed)
    returns = control_returns(trial, policy)
    for step in trial.budget.eval_steps():
        yield control_point(trial, step, returns)


def random_algorithm(trial: Trial) -> Iterator[EvalPoint]:
    """The uniform random policy on a text or control task."""
    return _text(trial) if trial.task.kind == "text" else _control(trial)


random_algorithm.kinds = ("text", "control")  # type: ignore[attr-defined]
