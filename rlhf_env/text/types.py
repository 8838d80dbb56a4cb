"""Named types of the text envs' arguments (the fields of
:class:`~rlhf_env.text.core.TextEnvConfig`), as Stable-Baselines3 names its own in
``type_aliases.py``. Heavy libraries appear only for type checkers."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from rlhf_env.rewards.base import RewardModel
from rlhf_env.text.prompts import PromptSource

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

PromptsSpec: TypeAlias = Sequence[str] | str | os.PathLike[str] | tuple[Any, str] | PromptSource
"""Prompts: a list of texts, a ``.txt``/``.jsonl`` path, ``(hf_dataset, column)``, or a
:class:`~rlhf_env.text.prompts.PromptSource`."""

ModelSpec: TypeAlias = "str | PreTrainedModel"
"""A causal LM: a bundled name, a local folder or hub id, or a loaded model object."""

TokenizerSpec: TypeAlias = "str | PreTrainedTokenizerBase"
"""A tokenizer: a bundled name, a local folder or hub id, or a loaded tokenizer object."""

ScoreFn: TypeAlias = Callable[[Sequence[str], Sequence[str]], Any]
"""A plain function ``(prompts, responses) -> scores``."""

RewardSpec: TypeAlias = str | os.PathLike[str] | RewardModel | ScoreFn
"""A reward model: a registered name, a saved folder, an object with ``score``, or a
function (anything :func:`rlhf_env.rewards.make_reward_model` accepts)."""

GoldSpec: TypeAlias = Literal["task"] | RewardSpec | None
"""The gold scorer: ``"task"`` (the task's own), ``None`` (off), or a reward model."""

ActionVocabSpec: TypeAlias = Literal["task"] | int | Sequence[int] | Sequence[str] | None
"""The action vocabulary: ``None`` (all tokens), ``"task"``, a size ``K``, token ids or
words (see :meth:`~rlhf_env.text.spaces.ActionVocab.from_spec`)."""

DeviceSpec: TypeAlias = "str | torch.device | None"
"""A torch device or its name (``None``: where the model already is)."""

__all__ = ["ActionVocabSpec", "DeviceSpec", "GoldSpec", "ModelSpec", "PromptsSpec",
           "RewardSpec", "ScoreFn", "TokenizerSpec"]
