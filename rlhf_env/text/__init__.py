"""Text environments: prompt sources, tasks, spaces, the bandit env, the token env, and their
batched vector envs."""

from __future__ import annotations

from rlhf_env._lazy import lazy_getattr

__all__ = [
    "ActionVocab",
    "PromptSource",
    "Task",
    "TextBanditEnv",
    "TextBanditVectorEnv",
    "TextTokenEnv",
    "TextTokenVectorEnv",
    "TokenDiscrete",
    "get_task",
    "list_tasks",
    "register_task",
]

__getattr__ = lazy_getattr(
    __name__,
    {
        "ActionVocab": "rlhf_env.text.spaces:ActionVocab",
        "PromptSource": "rlhf_env.text.prompts:PromptSource",
        "Task": "rlhf_env.text.tasks:Task",
        "get_task": "rlhf_env.text.tasks:get_task",
        "list_tasks": "rlhf_env.text.tasks:list_tasks",
        "register_task": "rlhf_env.text.tasks:register_task",
        "TextBanditEnv": "rlhf_env.text.bandit:TextBanditEnv",
        "TextBanditVectorEnv": "rlhf_env.text.vector:TextBanditVectorEnv",
        "TextTokenEnv": "rlhf_env.text.token_env:TextTokenEnv",
        "TextTokenVectorEnv": "rlhf_env.text.token_vector:TextTokenVectorEnv",
        "TokenDiscrete": "rlhf_env.text.token_env:TokenDiscrete",
    },
)
