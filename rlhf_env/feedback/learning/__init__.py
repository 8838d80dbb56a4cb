"""Learning from feedback: who labels, what to ask, and reward models trained on the answers.

The data side (:mod:`rlhf_env.feedback`: records, store, queue, import/export, quality,
reports) never imports this package; this package reads and writes that data::

    queries ──query selection──▶ Labeler ──▶ records ──RewardModelTrainer──▶ reward model
                                                      ──evaluate──▶ accuracy, calibration

============================  ==========================================================
:mod:`~.labelers`             the ``Labeler`` protocol; synthetic (noisy, biased
                              annotators) and AI labelers; the query types
:mod:`~.selection`            query selection: random, ensemble uncertainty, diversity
:mod:`~.evaluation`           reward models on held-out feedback (accuracy, ECE, per
                              annotator and attribute)
:mod:`~.training`             ``RewardModelTrainer`` (Bradley–Terry, Plackett–Luce,
                              ratings), bootstrap ensembles, annotator conditioning
============================  ==========================================================

Names load on first use, so importing this package (or :mod:`~.labelers`) never imports
torch; :mod:`~.training` does.
"""

from __future__ import annotations

from rlhf_env._lazy import lazy_getattr

_EXPORTS = {
    "AILabeler": "rlhf_env.feedback.learning.labelers:AILabeler",
    "AnnotatorProfile": "rlhf_env.feedback.learning.labelers:AnnotatorProfile",
    "ComparisonLabeler": "rlhf_env.feedback.learning.labelers:ComparisonLabeler",
    "ComparisonQuery": "rlhf_env.feedback.learning.labelers:ComparisonQuery",
    "Labeler": "rlhf_env.feedback.learning.labelers:Labeler",
    "RankingQuery": "rlhf_env.feedback.learning.labelers:RankingQuery",
    "RatingQuery": "rlhf_env.feedback.learning.labelers:RatingQuery",
    "SyntheticLabeler": "rlhf_env.feedback.learning.labelers:SyntheticLabeler",
    "SyntheticLabelerConfig": "rlhf_env.feedback.learning.labelers:SyntheticLabelerConfig",
    "DiversitySelector": "rlhf_env.feedback.learning.selection:DiversitySelector",
    "QuerySelector": "rlhf_env.feedback.learning.selection:QuerySelector",
    "RandomSelector": "rlhf_env.feedback.learning.selection:RandomSelector",
    "UncertaintySelector": "rlhf_env.feedback.learning.selection:UncertaintySelector",
    "EvaluationReport": "rlhf_env.feedback.learning.evaluation:EvaluationReport",
    "evaluate": "rlhf_env.feedback.learning.evaluation:evaluate",
    "RewardModelTrainer": "rlhf_env.feedback.learning.training:RewardModelTrainer",
    "RewardTrainerConfig": "rlhf_env.feedback.learning.training:RewardTrainerConfig",
    "TrainResult": "rlhf_env.feedback.learning.training:TrainResult",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
