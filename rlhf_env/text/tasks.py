"""Named tasks: a prompt source, a reward model, an optional gold scorer, action words.

=============  ==================================================================  ========
task           reward model                                                        gold
=============  ==================================================================  ========
``sentiment``  MiniLM + head trained on ~38k real human sentiment ratings          VADER
``keyword``    how often the response uses the words good / great / happy / love   none
``length``     closeness of the response's word count to 8                         none
=============  ==================================================================  ========

The gold scorer is an independent judge, so reward hacking of the learned proxy is
measurable: ``info["score"]`` versus ``info["gold_score"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlhf_env.errors import ConfigError, UnknownNameError
from rlhf_env.text.prompts import PromptSource, bundled_prompts
from rlhf_env.text.words import KEYWORDS, SENTIMENT_WORDS


@dataclass(frozen=True)
class Task:
    """What an episode is about and how it is judged."""

    name: str
    """Registered name, e.g. ``"sentiment"``."""
    prompts: Any
    """A prompt spec for :meth:`PromptSource.from_spec`, or a bundled prompt-file name."""
    reward_model: Any
    """A spec for :func:`rlhf_env.rewards.make_reward_model` (name, path, object)."""
    reward_kwargs: dict = field(default_factory=dict)
    """Keyword arguments for ``make_reward_model`` when ``reward_model`` is a name."""
    gold: Any = None
    """Spec of an independent gold scorer, or ``None``."""
    action_words: tuple[str, ...] = ()
    """Candidate words for a restricted action vocabulary (``action_vocab="task"`` or ``K``)."""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a task needs a non-empty name.")

    def prompt_source(self) -> PromptSource:
        if isinstance(self.prompts, str) and "/" not in self.prompts and "." not in self.prompts:
            return bundled_prompts(self.prompts)
        return PromptSource.from_spec(self.prompts)


_TASKS: dict[str, Task] = {}


def register_task(task: Task, overwrite: bool = False) -> Task:
    """Add a task under ``task.name`` (``overwrite=True`` to replace one)."""
    if task.name in _TASKS and not overwrite:
        raise ConfigError(f"a task named {task.name!r} exists; pass overwrite=True to replace it.")
    _TASKS[task.name] = task
    return task


def get_task(name_or_task: str | Task) -> Task:
    if isinstance(name_or_task, Task):
        return name_or_task
    try:
        return _TASKS[name_or_task]
    except KeyError:
        raise UnknownNameError(
            "task", name_or_task, _TASKS, hint="Register your own with rlhf_env.text.register_task."
        ) from None


def list_tasks() -> dict[str, str]:
    return {name: t.description for name, t in _TASKS.items()}


register_task(Task(
    name="sentiment",
    prompts="sentiment",
    reward_model="sentiment",
    gold="vader",
    action_words=SENTIMENT_WORDS,
    description="write a short, positive message; learned reward from human sentiment ratings, "
                "VADER as gold",
))
register_task(Task(
    name="keyword",
    prompts="sentiment",
    reward_model="keyword",
    reward_kwargs={"keywords": KEYWORDS},
    action_words=SENTIMENT_WORDS,
    description="use the words good / great / happy / love (rule reward, fast)",
))
register_task(Task(
    name="length",
    prompts="sentiment",
    reward_model="length",
    reward_kwargs={"target_words": 8},
    action_words=SENTIMENT_WORDS,
    description="answer in about 8 words (rule reward, fast)",
))
