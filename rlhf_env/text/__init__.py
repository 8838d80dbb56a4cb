"""Text environments: prompt sources, tasks, spaces, the bandit env, the token env, and their
batched vector envs. :func:`text_core` reaches the shared state behind any of them."""

from __future__ import annotations

from rlhf_env._lazy import lazy_getattr

__all__ = [
    "ActionVocab",
    "PromptSource",
    "Task",
    "TextBanditEnv",
    "TextBanditVectorEnv",
    "TextEnvConfig",
    "TextTokenEnv",
    "TextTokenVectorEnv",
    "TokenDiscrete",
    "get_task",
    "list_tasks",
    "register_task",
    "text_core",
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
        "TextEnvConfig": "rlhf_env.text.core:TextEnvConfig",
        "TextTokenEnv": "rlhf_env.text.token_env:TextTokenEnv",
        "TextTokenVectorEnv": "rlhf_env.text.token_vector:TextTokenVectorEnv",
        "TokenDiscrete": "rlhf_env.text.spaces:TokenDiscrete",
        "text_core": "rlhf_env.text.core:text_core",
    },
)
