"""Reward-model training from feedback: one trainer, several objectives.

==============================  ===========================================================
:mod:`.dataset`                 records → item and example tables (pairs, rankings, ratings)
:mod:`.objectives`              Bradley–Terry, Plackett–Luce, regression and ordinal losses
:mod:`.adapter`                 the one place the trainer touches a model's internals
:mod:`.conditioned`             annotator-conditioned reward models
:mod:`.trainer`                 :class:`RewardModelTrainer`, its config and result
==============================  ===========================================================

    >>> from rlhf_env.feedback.learning.training import RewardModelTrainer, RewardTrainerConfig
    >>> trainer = RewardModelTrainer(RewardTrainerConfig(epochs=2, freeze_backbone=True))
"""

from __future__ import annotations

from rlhf_env.feedback.learning.training.conditioned import (
    AnnotatorConditionedReward,
    ConditionedConfig,
    ConditionedView,
    is_conditioned_folder,
)
from rlhf_env.feedback.learning.training.dataset import (
    FeedbackDataset,
    PolicySamples,
    bootstrap,
    build_dataset,
    normalize_per_annotator,
    split,
)
from rlhf_env.feedback.learning.training.objectives import (
    ordinal_loss,
    pairwise_loss,
    plackett_luce_loss,
    regression_loss,
)
from rlhf_env.feedback.learning.training.trainer import (
    RewardModelTrainer,
    RewardTrainerConfig,
    TrainResult,
)

__all__ = [
    "AnnotatorConditionedReward",
    "ConditionedConfig",
    "ConditionedView",
    "FeedbackDataset",
    "PolicySamples",
    "RewardModelTrainer",
    "RewardTrainerConfig",
    "TrainResult",
    "bootstrap",
    "build_dataset",
    "is_conditioned_folder",
    "normalize_per_annotator",
    "ordinal_loss",
    "pairwise_loss",
    "plackett_luce_loss",
    "regression_loss",
    "split",
]
