"""The one place the benchmark names feedback-learning classes.

The labelers and the reward-model trainer are moving from ``rlhf_env.feedback.labelers`` /
``rlhf_env.feedback.training`` to the package ``rlhf_env.feedback.learning``; this looks a
name up in the new home first, then the old, so the benchmark works on either side of that
move. Drop the fallback once the move has landed.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "AnnotatorProfile": ("rlhf_env.feedback.learning", "rlhf_env.feedback.labelers"),
    "SyntheticLabeler": ("rlhf_env.feedback.learning", "rlhf_env.feedback.labelers"),
    "SyntheticLabelerConfig": ("rlhf_env.feedback.learning", "rlhf_env.feedback.labelers"),
    "RewardModelTrainer": ("rlhf_env.feedback.learning", "rlhf_env.feedback.training"),
    "RewardTrainerConfig": ("rlhf_env.feedback.learning", "rlhf_env.feedback.training"),
}


def feedback_name(name: str) -> Any:
    """The class ``name`` from wherever this checkout keeps it."""
    for module in _HOMES[name]:
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if found is not None:
            return found
    raise ImportError(f"rlhf_env.feedback provides no {name!r}; reinstall rlhf-env.")
