"""Verifiable gold judges for benchmark tasks (rule-based, no learned weights).

:class:`ArithmeticJudge` grades a short answer to an ``"a + b"`` question in the prompt. It
is registered as the reward-model name ``arithmetic`` (entry point in the
``rlhf_env.reward_models`` group), so an env takes it as ``gold="arithmetic"``.

    >>> ArithmeticJudge().score(["What is 3 + 4?"] * 3, ["7", "It is 8.", "no idea"]).tolist()
    [1.0, 0.25, 0.0]
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence

import numpy as np

from rlhf_env.errors import RewardModelError

OPERATORS: dict[str, Callable[[int, int], int]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "×": operator.mul,
}
_QUESTION = re.compile(r"(-?\d+)\s*([+\-*×])\s*(-?\d+)")
_NUMBER = re.compile(r"-?\d+")


def question_answer(prompt: str) -> int:
    """The exact answer of the first ``a op b`` question in ``prompt`` (op in + - * ×)."""
    match = _QUESTION.search(prompt)
    if match is None:
        raise RewardModelError(
            f"the arithmetic judge found no 'a + b' question in the prompt {prompt[:80]!r}; "
            f"use it only with prompts that ask one (e.g. 'What is 3 + 4?').")
    a, op, b = match.groups()
    return OPERATORS[op](int(a), int(b))


def grade(answer: int, response: str) -> float:
    """1 for the right number first; a wrong first number earns ``0.5 / (1 + |error|)``;
    no number earns 0."""
    match = _NUMBER.search(response)
    if match is None:
        return 0.0
    error = abs(int(match.group()) - answer)
    return 1.0 if error == 0 else 0.5 / (1.0 + error)


class ArithmeticJudge:
    """Gold judge of arithmetic answers: :func:`grade` of each response against the prompt's
    question. Verifiable: the score follows from the strings alone."""

    name = "arithmetic"

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Scores ``(n,)`` float32 in ``[0, 1]``."""
        return np.array([grade(question_answer(p), r) for p, r in zip(prompts, responses,
                                                                          strict=True)],
                        dtype=np.float32)
