"""Synthetic and AI labelers: rationality, slips, biases, rankings, ratings, configs."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.errors import ConfigError, FeedbackError
from rlhf_env.feedback.learning.labelers import (
    AILabeler,
    AnnotatorProfile,
    ComparisonLabeler,
    ComparisonQuery,
    Labeler,
    RankingQuery,
    RatingQuery,
    SyntheticLabeler,
    SyntheticLabelerConfig,
    preference_probability,
    sample_plackett_luce,
    sample_population,
)
from rlhf_env.feedback.records import Comparison
from tests.feedback.learning.conftest import gold_score, toy_pairs, toy_texts


def _queries(n: int = 400) -> list[ComparisonQuery]:
    return [ComparisonQuery("Review:", a, b) for a, b in toy_pairs(toy_texts(200), n)]


def _agree_with_gold(records) -> np.ndarray:
    chosen = gold_score([], [r.chosen for r in records])
    rejected = gold_score([], [r.rejected for r in records])
    return chosen > rejected


def test_zero_temperature_is_deterministic_and_matches_gold():
    qs = _queries()
    cfg = SyntheticLabelerConfig(temperature=0.0)
    first = SyntheticLabeler(gold_score, cfg, seed=1).label(qs)
    second = SyntheticLabeler(gold_score, cfg, seed=2).label(qs)
    assert [r.preference for r in first] == [r.preference for r in second]
    assert _agree_with_gold(first).all()


def test_measured_error_rate_matches_configured():
    qs = _queries(3000)
    recs = SyntheticLabeler(gold_score, SyntheticLabelerConfig(temperature=0.0, error_rate=0.2),
                            seed=0).label(qs)
    error = 1.0 - _agree_with_gold(recs).mean()
    assert error == pytest.approx(0.2, abs=0.025)


def test_boltzmann_choice_frequency_follows_sigmoid():
    gold = lambda p, r: np.array([1.0 if x == "good" else 0.0 for x in r])  # noqa: E731
    lab = SyntheticLabeler(gold, SyntheticLabelerConfig(temperature=0.5), seed=0)
    recs = lab.compare(["p"] * 4000, ["good"] * 4000, ["bad"] * 4000)
    freq = np.mean([r.preference == "a" for r in recs])
    assert freq == pytest.approx(1 / (1 + np.exp(-2.0)), abs=0.02)
    assert preference_probability(np.array([1.0]), np.array([1.0]), 0.0)[0] == 0.5


def test_same_seed_same_labels_and_different_seed_differs():
    qs = _queries()
    cfg = SyntheticLabelerConfig(temperature=2.0)
    a = [r.preference for r in SyntheticLabeler(gold_score, cfg, seed=3).label(qs)]
    b = [r.preference for r in SyntheticLabeler(gold_score, cfg, seed=3).label(qs)]
    c = [r.preference for r in SyntheticLabeler(gold_score, cfg, seed=4).label(qs)]
    assert a == b and a != c


def test_length_bias_overrides_gold_for_biased_annotator():
    gold = lambda p, r: np.zeros(len(r))  # noqa: E731  # gold is indifferent
    short, long = "ok", "ok " * 40
    biased = SyntheticLabeler(gold, SyntheticLabelerConfig(temperature=0.0, length_bias=1.0))
    assert all(r.preference == "b" for r in biased.compare(["p"] * 20, [short] * 20, [long] * 20))


def test_flattery_and_confidence_biases_shift_preferences():
    gold = lambda p, r: np.zeros(len(r))  # noqa: E731
    plain, flattering = "The answer is 4.", "Great question! The answer is definitely 4."
    for cfg in (SyntheticLabelerConfig(temperature=0.0, flattery_bias=1.0),
                SyntheticLabelerConfig(temperature=0.0, confidence_bias=1.0)):
        recs = SyntheticLabeler(gold, cfg).compare(["q"] * 10, [plain] * 10, [flattering] * 10)
        assert all(r.preference == "b" for r in recs)


def test_tie_threshold_gives_ties():
    recs = SyntheticLabeler(gold_score, SyntheticLabelerConfig(temperature=0.0,
                                                               tie_threshold=1.5)).compare(
        ["p"], ["good fun"], ["good ok"])  # gold 2 vs 1
    assert recs[0].preference == "tie"


def test_plackett_luce_first_choice_frequencies():
    rng = np.random.default_rng(0)
    u = np.array([0.0, 1.0, 2.0])
    firsts = np.array([sample_plackett_luce(u, 1.0, rng)[0] for _ in range(6000)])
    expected = np.exp(u) / np.exp(u).sum()
    assert np.bincount(firsts, minlength=3) / 6000 == pytest.approx(expected, abs=0.02)
    assert sample_plackett_luce(u, 0.0, rng).tolist() == [2, 1, 0]


def test_rankings_and_ratings_from_gold():
    lab = SyntheticLabeler(gold_score, SyntheticLabelerConfig(
        temperature=0.0, rating_scale=(1, 5), rating_spread=1.0))
    texts = ("good good good", "good sad fun", "awful sad bad")
    ranking, low, high = lab.label([
        RankingQuery("p", texts),
        RatingQuery("p", "awful sad bad"),
        RatingQuery("p", "good good good"),
    ])
    assert ranking.responses == texts
    assert 1 <= low.score < high.score <= 5
    assert low.scale == (1.0, 5.0)


def test_population_spreads_labels_over_annotators():
    pop = sample_population(4, seed=0, temperature=1.0, temperature_spread=0.5,
                            rating_offset_std=1.0)
    assert len({p.temperature for p in pop}) == 4
    recs = SyntheticLabeler(gold_score, SyntheticLabelerConfig(population=pop)).label(_queries(200))
    assert {r.annotator for r in recs} == {p.id for p in pop}
    assert [a.id for a in SyntheticLabeler(gold_score, SyntheticLabelerConfig(
        population=pop)).annotators] == [p.id for p in pop]


def test_ai_labeler_uses_judge_and_names_itself():
    class Judge:
        name = "judge"

        def score(self, prompts, responses):
            return gold_score(prompts, responses)

    recs = AILabeler(Judge()).label(_queries(50))
    assert _agree_with_gold(recs).all()
    assert {r.annotator for r in recs} == {"ai:judge"}
    assert recs[0].metadata["labeler"] == "ai"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"error_rate": 1.5}, "error_rate must be in"),
        ({"temperature": -1.0}, "temperature must be a finite number"),
        ({"rating_scale": (5.0, 1.0)}, "min < max"),
        ({"rating_spread": 0.0}, "rating_spread must be > 0"),
        ({"population": (AnnotatorProfile("x"), AnnotatorProfile("x"))}, "must be unique"),
    ],
)
def test_bad_configs_raise_clear_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SyntheticLabelerConfig(**kwargs)


def test_bad_gold_and_query_raise():
    with pytest.raises(ConfigError, match="neither a reward model"):
        SyntheticLabeler(42)
    with pytest.raises(FeedbackError, match="cannot label query"):
        SyntheticLabeler(gold_score).label(["not a query"])  # type: ignore[list-item]


def test_every_labeler_answers_comparisons_and_a_plain_object_does_not():
    synthetic = SyntheticLabeler(gold_score, seed=0)
    ai = AILabeler(gold_score)
    for labeler in (synthetic, ai):
        assert isinstance(labeler, Labeler) and isinstance(labeler, ComparisonLabeler)
    assert not isinstance(object(), ComparisonLabeler)
    records = synthetic.label(_queries(3))
    assert len(records) == 3 and all(isinstance(r, Comparison) for r in records)
