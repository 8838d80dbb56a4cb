"""The verifiable arithmetic gold judge scores known strings as documented."""

from __future__ import annotations

import doctest

import pytest

from rlhf_env.bench import judges
from rlhf_env.errors import RewardModelError
from rlhf_env.rewards import make_reward_model


@pytest.mark.parametrize(("prompt", "response", "score"), [
    ("What is 3 + 4? Answer with the number.", "7", 1.0),
    ("What is 3 + 4?", "The answer is 7.", 1.0),
    ("What is 12 - 15?", "It is -3.", 1.0),
    ("What is 6 × 7?", "Definitely, 42", 1.0),
    ("What is 6 * 7?", "41", 0.25),
    ("What is 3 + 4?", "10 or 7", 0.125),          # the first number counts
    ("What is 3 + 4?", "I am not sure.", 0.0),
])
def test_arithmetic_judge_grades_known_answers(prompt, response, score):
    assert judges.ArithmeticJudge().score([prompt], [response])[0] == pytest.approx(score)


def test_arithmetic_judge_is_the_registered_reward_model_name():
    judge = make_reward_model("arithmetic")
    assert judge.score(["What is 1 + 1?"], ["2"]).tolist() == [1.0]


def test_a_prompt_without_a_question_is_an_error_that_says_what_to_ask():
    with pytest.raises(RewardModelError, match="What is 3 \\+ 4"):
        judges.ArithmeticJudge().score(["Write a poem."], ["7"])


def test_docstring_example():
    result = doctest.testmod(judges)
    assert result.attempted > 0 and result.failed == 0
