"""Held-out evaluation: accuracy, calibration, correlations, per-annotator/attribute."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.errors import ConfigError
from rlhf_env.feedback.learning.evaluation import (
    evaluate,
    expected_calibration_error,
    pairwise_accuracy,
    rating_correlation,
)
from rlhf_env.feedback.records import Annotator, Comparison, Correction, Ranking, Rating
from tests.feedback.learning.conftest import gold_score


def test_ece_of_perfectly_calibrated_toy_is_near_zero():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200_000)
    y = (rng.uniform(size=p.size) < p).astype(float)
    assert expected_calibration_error(p, y) < 0.01


def test_ece_of_overconfident_predictions_is_large():
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=10_000) < 0.6).astype(float)
    assert expected_calibration_error(np.full(y.size, 0.99), y) > 0.3
    with pytest.raises(ConfigError, match="n_bins"):
        expected_calibration_error(np.ones(2), np.ones(2), n_bins=0)


def test_pairwise_accuracy_counts_ties_half():
    assert pairwise_accuracy(np.array([2.0, 1.0, 0.0]), np.array([1.0, 1.0, 1.0])) == 0.5


def test_rating_correlation_spearman_handles_ties():
    out = rating_correlation(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 1, 2, 3]))
    assert out["spearman"] > 0.9
    assert np.isnan(rating_correlation(np.ones(3), np.arange(3))["pearson"])


def test_evaluate_reports_overall_per_annotator_and_per_attribute():
    class Gold:
        name = "gold"

        def score(self, prompts, responses):
            return gold_score(prompts, responses).astype(np.float32)

    records = [
        Comparison("p", "good fun", "bad sad", "a", annotator="right"),
        Comparison("p", "good nice", "awful", "b", annotator="wrong"),  # disagrees with gold
        Comparison("p", "good", "bad", "tie", annotator="right"),
        Ranking.from_order("p", ["good good", "good", "bad"], annotator="right"),
        Correction("p", "bad", "good", annotator="right"),
        Rating("p", "good good", 7, annotator="right"),
        Rating("p", "bad", 1, annotator="right"),
        Rating("p", "good", 5, annotator="right"),
    ]
    annotators = [Annotator("right", {"expertise": "doctor"}),
                  Annotator("wrong", {"expertise": "lawyer"})]
    rep = evaluate(Gold(), records, annotators=annotators)
    # strict pairs: 2 comparisons + 3 ranking pairs + 1 correction; only "wrong" is wrong
    assert rep.n_pairs == 6 and rep.n_ties == 1
    assert rep.pairwise_accuracy == pytest.approx(5 / 6)
    assert rep.per_annotator["wrong"]["accuracy"] == 0.0
    assert rep.per_annotator["right"]["accuracy"] == 1.0
    assert rep.per_attribute["expertise"]["doctor"]["n"] == 5
    assert rep.rating["spearman"] == pytest.approx(1.0)
    assert set(rep.to_dict()) >= {"pairwise_accuracy", "ece", "per_attribute"}
    with pytest.raises(ConfigError, match="annotator-conditioned"):
        evaluate(Gold(), records, condition_on_annotator=True)
