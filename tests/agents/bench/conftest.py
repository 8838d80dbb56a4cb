"""Tiny hand-built trials for the built-in benchmark algorithms."""

from __future__ import annotations

import dataclasses

import pytest

from rlhf_env.bench import BenchTask, Budget, EnvSpec, Normalisation, Trial, get_task

WORDS = ["good", "great", "happy", "love", "bad", "sad", "the", "day", "food", "very", "!"]
PROMPTS = ["Review the café.", "Describe your trip.", "Rate the hotel.", "Tell me about lunch."]
TEXT_BUDGET = Budget(steps=8, eval_every=4, eval_episodes=3)
"""Eval steps 0, 4, 8 on three evaluation answers."""


@pytest.fixture
def text_task() -> BenchTask:
    """A fast text task: keyword proxy, VADER gold, 4-token answers, disjoint eval prompts."""
    return BenchTask(
        name="tiny-text", kind="text", description="keyword proxy, VADER gold",
        env=EnvSpec("RLHF-Text-v0", {"task": "keyword", "prompts": PROMPTS[:2], "gold": "vader",
                                     "max_response_tokens": 4, "max_prompt_tokens": 32}),
        budget=TEXT_BUDGET, normalisation=Normalisation("initial", "best-of-n"),
        proxy="keyword count", gold="VADER",
        options={"best_of_n": 4, "eval_prompts": tuple(PROMPTS[2:]), "action_vocab": WORDS})


@pytest.fixture
def control_task() -> BenchTask:
    """CartPole with a budget of a few hundred steps and 20 labels."""
    task = get_task("cartpole")
    return dataclasses.replace(task, budget=Budget(steps=256, eval_every=128, eval_episodes=1,
                                                   labels=20))


@pytest.fixture
def make_trial(tmp_path):
    def build(task: BenchTask, algorithm: str, **options) -> Trial:
        return Trial(task=task, algorithm=algorithm, seed=0, env=task.resolved_env(tmp_path),
                     run_dir=tmp_path / algorithm, options=options)

    return build
