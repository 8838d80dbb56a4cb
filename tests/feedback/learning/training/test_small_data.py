"""Defaults that suit small data: early stopping keeps the best epoch, a model that is not
measurably better than chance is flagged, and results print as one short line."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from rlhf_env.errors import ChanceLevelWarning, RLHFEnvWarning
from rlhf_env.feedback.learning.evaluation import EvaluationReport, evaluate, wilson_interval
from rlhf_env.feedback.learning.labelers import (
    ComparisonQuery,
    SyntheticLabeler,
    SyntheticLabelerConfig,
)
from rlhf_env.feedback.learning.training import RewardModelTrainer, RewardTrainerConfig
from tests.feedback.learning.conftest import gold_score, toy_pairs, toy_texts


def _comparisons(n: int, seed: int = 0) -> list:
    pairs = toy_pairs(toy_texts(300, seed=seed), n, seed=seed)
    labeler = SyntheticLabeler(gold_score, SyntheticLabelerConfig(temperature=0.0), seed=seed)
    return labeler.label([ComparisonQuery("Review:", a, b) for a, b in pairs])


def _coin_flips(n: int) -> list:
    """Labels that say nothing: each comparison's preference is a coin flip."""
    rng = np.random.default_rng(7)
    return [dataclasses.replace(c, preference=str(rng.choice(["a", "b"])))
            for c in _comparisons(n, seed=3)]


def test_defaults_learn_a_small_data_set(bow_model):
    """200 comparisons with the default settings: learned, best epoch kept, no warning."""
    cfg = dataclasses.replace(RewardTrainerConfig(), freeze_backbone=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RLHFEnvWarning)
        result = RewardModelTrainer(cfg).fit(bow_model, _comparisons(200))
    assert evaluate(bow_model, _comparisons(300, seed=99)).pairwise_accuracy > 0.8
    assert result.val_pairs == 40  # a fifth held out
    assert result.val_accuracy == result.history[result.best_epoch - 1]["val_accuracy"]
    losses = [h["val_loss"] for h in result.history]
    assert losses[result.best_epoch - 1] == min(losses)


def test_labels_at_chance_raise_a_warning(bow_model):
    cfg = RewardTrainerConfig(freeze_backbone=True, epochs=5)
    with pytest.warns(ChanceLevelWarning, match=r"not measurably better than chance.*"
                                                r"includes 0\.5") as caught:
        result = RewardModelTrainer(cfg).fit(bow_model, _coin_flips(150))
    assert result.val_accuracy_ci is not None and result.val_accuracy_ci[0] <= 0.5
    assert caught[0].filename == __file__  # points at the caller's fit()


def test_the_warning_can_be_turned_off(bow_model):
    cfg = RewardTrainerConfig(freeze_backbone=True, epochs=2, warn_at_chance=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RLHFEnvWarning)  # a warning would fail the test
        result = RewardModelTrainer(cfg).fit(bow_model, _coin_flips(60))
    # the run was at chance, so the warning would have fired had it been on
    assert result.val_accuracy_ci is not None and result.val_accuracy_ci[0] <= 0.5


def test_wilson_interval():
    lo, hi = wilson_interval(0.5, 10)
    assert lo < 0.5 < hi and hi - lo > 0.5
    lo, hi = wilson_interval(0.9, 200)
    assert 0.85 < lo < 0.9 < hi < 0.94
    assert wilson_interval(1.0, 5)[1] == 1.0
    assert all(np.isnan(wilson_interval(0.5, 0)))


def test_results_print_as_one_short_line(bow_model):
    cfg = RewardTrainerConfig(freeze_backbone=True, epochs=3, warn_at_chance=False)
    result = RewardModelTrainer(cfg).fit(
        bow_model, _comparisons(100))
    text = repr(result)
    assert "\n" not in text and len(text) < 200, text
    assert text.startswith("TrainResult(epoch ") and "val accuracy" in text
    assert "80 training examples" in text and "on 20 pairs" in text
    assert "Linear" not in text and "Embedding" not in text and str(result) == text
    report = evaluate(bow_model, _comparisons(50, seed=5))
    text = repr(report)
    assert text.startswith("EvaluationReport(pairwise accuracy ") and "on 50 pairs" in text
    assert "\n" not in text and len(text) < 200
    assert repr(EvaluationReport()) == "EvaluationReport(no pairs or ratings)"
