"""Statistics against numbers worked out by hand from the definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlhf_env.bench.protocol import EvalPoint, Normalisation
from rlhf_env.bench.results import Results, Run, TaskInfo
from rlhf_env.bench.stats import (
    StatsConfig,
    aggregate,
    iqm,
    normalised_scores,
    performance_profile,
    probability_of_improvement,
    references,
    stratified_resample,
    summarise,
)
from rlhf_env.errors import ConfigError


def test_iqm_of_one_to_eight_drops_two_values_at_each_end():
    # 25% of 8 values = 2 from each end: mean(3, 4, 5, 6) = 18 / 4
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)
    assert iqm([8, 1, 7, 2, 6, 3, 5, 4]) == pytest.approx(4.5)  # order does not matter


def test_iqm_weights_boundary_values_when_n_is_not_a_multiple_of_four():
    # n = 5: trim 1.25 values from each end. Sorted [1, 2, 4, 8, 16]: 1 and 16 weigh 0,
    # 2 and 8 weigh 0.75, 4 weighs 1; total weight n/2 = 2.5.
    expected = (0.75 * 2 + 1 * 4 + 0.75 * 8) / 2.5
    assert iqm([16, 1, 8, 2, 4]) == pytest.approx(expected)  # 4.6, not scipy's 4.667
    assert iqm([3.0]) == 3.0


def test_iqm_ignores_outliers_that_move_the_mean():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 1000]) == pytest.approx(4.5)


def test_aggregate_of_constant_tasks_has_a_zero_width_interval():
    got = aggregate({"a": np.array([1.0, 1.0]), "b": np.array([3.0, 3.0, 3.0])})
    # pooled [1, 1, 3, 3, 3]: mean 11/5, median 3; IQM weights [0, .75, 1, .75, 0] → 2.5/2.5·…
    assert got["mean"].estimate == pytest.approx(11 / 5)
    assert got["median"].estimate == 3.0
    assert got["iqm"].estimate == pytest.approx((0.75 * 1 + 1 * 3 + 0.75 * 3) / 2.5)
    for interval in got.values():  # each task is constant: every resample is the same
        assert interval.low == pytest.approx(interval.estimate)
        assert interval.high == pytest.approx(interval.estimate)


def test_stratified_resample_keeps_each_tasks_runs_in_its_own_columns():
    a, b = np.array([1.0, 2.0]), np.array([10.0, 20.0, 30.0])
    boot = stratified_resample([a, b], 500, np.random.default_rng(0))
    assert boot.shape == (500, 5)
    assert set(np.unique(boot[:, :2])) <= {1.0, 2.0}
    assert set(np.unique(boot[:, 2:])) <= {10.0, 20.0, 30.0}


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded():
    scores = {"a": np.array([0.0, 1.0, 2.0, 3.0]), "b": np.array([1.0, 5.0, 2.0])}
    one = aggregate(scores, StatsConfig(reps=300, seed=1))
    two = aggregate(scores, StatsConfig(reps=300, seed=1))
    assert one == two
    for iv in one.values():
        assert iv.low <= iv.estimate <= iv.high
        assert iv.low < iv.high


def test_probability_of_improvement_counts_pairs_and_half_ties():
    # task a: X = [1, 3], Y = [2]: pairs (1>2 no, 3>2 yes) → 1/2
    # task b: X = [5], Y = [5, 4]: (5=5 tie → ½, 5>4 → 1) → 1.5/2 = 3/4
    x = {"a": np.array([1.0, 3.0]), "b": np.array([5.0])}
    y = {"a": np.array([2.0]), "b": np.array([5.0, 4.0])}
    p = probability_of_improvement(x, y, StatsConfig(reps=200))
    assert p is not None
    assert p.estimate == pytest.approx((1 / 2 + 3 / 4) / 2)
    assert 0 <= p.low <= p.estimate <= p.high <= 1
    q = probability_of_improvement(y, x, StatsConfig(reps=200))
    assert q is not None and q.estimate == pytest.approx(1 - p.estimate)


def test_probability_of_improvement_uses_only_shared_tasks():
    x = {"a": np.array([2.0]), "only_x": np.array([0.0])}
    y = {"a": np.array([1.0])}
    p = probability_of_improvement(x, y, StatsConfig(reps=50))
    assert p is not None and p.estimate == 1.0 and p.low == 1.0
    assert probability_of_improvement({"a": np.array([1.0])}, {"b": np.array([1.0])}) is None


def test_performance_profile_averages_the_fraction_above_tau_over_tasks():
    scores = {"a": np.array([0.0, 0.5, 1.0, 1.5]), "b": np.array([2.0, 2.0])}
    taus = [-1.0, 0.5, 1.9, 2.0]
    # a: > -1: 4/4, > .5: 2/4, > 1.9: 0, > 2: 0 ; b: 1, 1, 1, 0
    np.testing.assert_allclose(performance_profile(scores, taus),
                               [1.0, (0.5 + 1) / 2, 0.5, 0.0])


def test_stats_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="reps"):
        StatsConfig(reps=0)
    with pytest.raises(ConfigError, match="confidence"):
        StatsConfig(confidence=95)


def test_references_take_an_algorithms_step_zero_gold_with_at_start():
    def run(algo: str, seed: int, start: float, end: float) -> Run:
        return Run("s", algo, "t", seed, "done",
                   (EvalPoint(0, 0.0, start), EvalPoint(10, 0.0, end)))

    runs = (run("best-of-n", 0, 0.2, 0.6), run("best-of-n", 1, 0.4, 1.0),
            run("sb3", 0, 5.0, 0.5), run("sb3", 1, 7.0, 0.8))
    norm = Normalisation(zero="best-of-n@start", one="best-of-n")
    results = Results(runs, {"t": TaskInfo("text", norm)})
    ref = references(results)["t"]
    # zero: median of best-of-n's step-0 golds (0.2, 0.4); the sb3 runs' 5 and 7 are ignored
    assert ref.zero == pytest.approx(0.3) and ref.one == pytest.approx(0.8)
    assert ref.zero_from.startswith("best-of-n@start: median step-0 gold of 2 runs")
    np.testing.assert_allclose(normalised_scores(results, {"t": ref})["sb3"]["t"],
                               [(0.5 - 0.3) / 0.5, (0.8 - 0.3) / 0.5])


def _two_refs(one_golds: list[float], zero_golds: list[float]) -> Results:
    """A task whose zero is ``initial`` (step-0 golds) and one ``best-of-n`` (final golds), and
    an algorithm ``rl`` with two runs."""
    def run(algo: str, seed: int, start: float, end: float) -> Run:
        return Run("s", algo, "t", seed, "done",
                   (EvalPoint(0, 0.0, start), EvalPoint(10, 0.0, end)))

    pairs = enumerate(zip(zero_golds, one_golds, strict=True))
    runs = [run("best-of-n", i, z, g) for i, (z, g) in pairs]
    runs += [run("rl", 0, zero_golds[0], 0.3), run("rl", 1, zero_golds[1], 0.5)]
    return Results(tuple(runs), {"t": TaskInfo("text", Normalisation("initial", "best-of-n"))})


def test_reference_gap_standard_error_matches_a_hand_computation():
    results = _two_refs(one_golds=[0.5, 0.7, 0.6], zero_golds=[0.1, 0.3, 0.2])
    ref = references(results)["t"]
    # zero: the 5 step-0 golds 0.1, 0.3, 0.2 (best-of-n) and 0.1, 0.3 (rl): var 0.0100/5;
    # one: 0.5, 0.7, 0.6: var 0.0100/3 → se = √(0.002 + 0.003333)
    assert ref.zero == pytest.approx(0.2) and ref.one == pytest.approx(0.6)
    assert ref.gap_se == pytest.approx(math.sqrt(0.01 / 5 + 0.01 / 3))
    assert not ref.degenerate(2.0)  # gap 0.4 ≈ 5.5 standard errors
    # per-task IQM of normalised scores: rl 0.25, 0.75 (two values: their mean); best-of-n
    # 0.75, 1.0, 1.25 (the outer two weigh 1/12 each, the middle 1/3, over 1/2: 1.0)
    rows = {r["algorithm"]: r for r in summarise(results, StatsConfig(reps=20)).per_task}
    assert rows["rl"]["normalised_iqm"] == pytest.approx(0.5)
    assert rows["best-of-n"]["normalised_iqm"] == pytest.approx(1.0)


def test_a_task_with_a_reference_gap_inside_the_noise_is_left_out_of_aggregates():
    # one − zero = 0.01 while the runs behind each end spread by ~0.1: dividing by it would
    # turn rl's 0.3 and 0.5 into about −9 and +11
    noisy = _two_refs(one_golds=[0.31, 0.51, 0.41], zero_golds=[0.3, 0.5, 0.4])
    summary = summarise(noisy, StatsConfig(reps=50))
    assert summary.aggregate == {} or all(v["tasks"] == 0 for v in summary.aggregate.values())
    assert any("reference gap" in n and "task t" in n for n in summary.notes)
    rows = {r["algorithm"]: r for r in summary.per_task}
    assert rows["rl"]["in_aggregates"] is False and rows["rl"]["final_gold_mean"] == 0.4
    assert any(p["x"] == "rl" for p in summary.improvement)  # raw-gold comparisons stay
    kept = summarise(noisy, StatsConfig(reps=50, min_reference_gap=0))
    assert kept.aggregate["rl"]["tasks"] == 1 and not kept.notes


def test_min_reference_gap_is_validated():
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ConfigError, match="min_reference_gap"):
            StatsConfig(min_reference_gap=bad)
