"""Quality control: kappa against textbook numbers, gold, repeats, reliability, sampling."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.quality import (
    agreement,
    annotator_weights,
    cohen_kappa,
    fill_queue,
    fleiss_kappa,
    gold_accuracy,
    majority_agreement,
    record_weights,
    reliability_scores,
    sample_annotators,
    self_consistency,
)
from rlhf_env.feedback.records import Annotator, Comparison, Demonstration, Rating
from rlhf_env.feedback.store import FeedbackStore


def test_cohen_kappa_textbook_two_by_two():
    # 50 items: both "yes" 20, A yes/B no 5, A no/B yes 10, both "no" 15.
    # p_o = 35/50 = 0.7; p_e = 0.5·0.6 + 0.5·0.4 = 0.5; κ = 0.2 / 0.5 = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_three_categories_by_hand():
    # p_o = 4/6; p_e = (2·2 + 2·3 + 2·1)/36 = 1/3; κ = (2/3 − 1/3)/(2/3) = 0.5.
    a = ["a", "a", "b", "b", "c", "c"]
    b = ["a", "b", "b", "b", "c", "a"]
    assert cohen_kappa(a, b) == pytest.approx(0.5)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert cohen_kappa(["a", "b"], ["b", "a"]) == pytest.approx(-1.0)
    assert math.isnan(cohen_kappa(["x", "x"], ["x", "x"]))
    with pytest.raises(FeedbackError, match="same items: got 2 and 1"):
        cohen_kappa(["a", "b"], ["a"])


WIKI_FLEISS = [  # 10 items, 14 raters each, 5 categories: κ = 0.210 (Fleiss 1971 style)
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_textbook_example():
    assert fleiss_kappa(WIKI_FLEISS) == pytest.approx(0.20993, abs=1e-5)
    assert fleiss_kappa([[3, 0], [0, 3]]) == pytest.approx(1.0)
    with pytest.raises(FeedbackError, match="at least 2 ratings"):
        fleiss_kappa([[1, 0], [2, 0]])


def test_fleiss_equals_cohen_like_value_for_two_raters():
    # With two raters Fleiss' kappa is Scott's pi: p_e from pooled frequencies.
    # items: (a,a) (a,b) (b,b) (b,b): P̄ = 3/4, pooled p_a = 3/8, p_b = 5/8,
    # P̄_e = 9/64 + 25/64 = 34/64; κ = (48/64 − 34/64)/(30/64) = 14/30.
    assert fleiss_kappa([[2, 0], [1, 1], [0, 2], [0, 2]]) == pytest.approx(14 / 30)


def _comparisons(labels: dict[str, str], prompt: str, swap_for: set[str] = frozenset()):
    out = []
    for annotator, pref in labels.items():
        c = Comparison(prompt, "good", "bad", pref, annotator=annotator, timestamp=1.0)
        out.append(c.swapped() if annotator in swap_for else c)
    return out


def test_agreement_is_display_order_invariant_and_counts_contradictions():
    records = []
    records += _comparisons({"u1": "a", "u2": "a", "u3": "a"}, "p1", swap_for={"u2"})
    records += _comparisons({"u1": "b", "u2": "b", "u3": "b"}, "p2")
    records += _comparisons({"u1": "a", "u2": "b", "u3": "a"}, "p3")  # contradiction
    records += _comparisons({"u1": "a"}, "p4")  # single label: not an agreement item
    records.append(Demonstration("p1", "hello", annotator="u1"))
    summary = agreement(records)
    assert summary.items == 3
    assert summary.contradictory == 1
    # pairs: 3 + 3 + 1 agreeing out of 9
    assert summary.percent_agreement == pytest.approx(7 / 9)
    counts = [[3, 0], [0, 3], [2, 1]]
    assert summary.fleiss_kappa == pytest.approx(fleiss_kappa(counts))
    assert agreement(records, min_shared=3).pairwise_kappa[("u1", "u3")] == pytest.approx(1.0)


def test_agreement_refuses_mixed_kinds():
    records = _comparisons({"u1": "a", "u2": "a"}, "p")
    records += [Rating("p", "r", 3, annotator=u) for u in ("u1", "u2")]
    with pytest.raises(FeedbackError, match="mixed kinds"):
        agreement(records)
    assert agreement(records, kind="rating").percent_agreement == 1.0


def _answer_queue(store: FeedbackStore, annotator: str, answer) -> int:
    n = 0
    while (item := store.next_pending(annotator)) is not None:
        pref = answer(item)
        store.complete(
            item.item_id, Comparison(item.prompt, *item.responses, pref, annotator=annotator)
        )
        n += 1
    return n


def test_fill_queue_gold_rate_gold_accuracy_and_repeats():
    store = FeedbackStore(":memory:")
    items = [
        {"kind": "comparison", "prompt": f"p{i}", "responses": ["x", "y"], "labels_wanted": 2}
        for i in range(18)
    ]
    golds = [
        {
            "kind": "comparison",
            "prompt": f"g{i}",
            "responses": ["right", "wrong"],
            "gold": "a",
            "labels_wanted": 2,
        }
        for i in range(3)
    ]
    plan = fill_queue(store, items, gold_items=golds, gold_rate=0.1, repeat_rate=0.25, seed=1)
    assert (len(plan.items), len(plan.gold), len(plan.repeats)) == (18, 2, 4)
    assert store.queue_status()["gold_items"] == 2 + 0  # repeats are of regular items only
    gold_positions = [i for i, it in enumerate(store.pending("good")) if it.is_gold]
    assert gold_positions != [18, 19]  # mixed in, not appended

    # "good" answers gold right and is consistent; "flaky" gets gold wrong and flips repeats
    assert _answer_queue(store, "good", lambda it: "a") == 24
    flips = Counter()

    def flaky(it):
        flips[it.prompt] += 1
        return "b" if it.is_gold else ("a" if flips[it.prompt] == 1 else "b")

    _answer_queue(store, "flaky", flaky)
    records = store.records()
    acc = gold_accuracy(records)
    assert (acc["good"].hits, acc["good"].total) == (2, 2)
    assert (acc["flaky"].hits, acc["flaky"].total, acc["flaky"].rate) == (0, 2, 0.0)
    cons = self_consistency(records)
    assert cons["good"].rate == 1.0 and cons["good"].total == 4
    assert cons["flaky"].rate == 0.0


def test_gold_accuracy_from_an_item_key_map_and_ratings():
    rated = [Rating("p", "r", s, annotator=a) for a, s in (("u1", 4), ("u2", 6), ("u3", 4.4))]
    acc = gold_accuracy(rated, {rated[0].item_key(): 4})
    assert [acc[a].hits for a in ("u1", "u2", "u3")] == [1, 0, 1]


def test_reliability_weights_spammer_below_careful_annotators():
    rng = np.random.default_rng(0)
    records = []
    for i in range(40):
        truth = "a" if rng.random() < 0.5 else "b"
        labels = {"c1": truth, "c2": truth, "c3": truth}
        labels["spam"] = "a" if rng.random() < 0.5 else "b"
        records += _comparisons(labels, f"p{i}")
    maj = majority_agreement(records)
    assert maj["c1"].rate == 1.0
    assert 0.3 < maj["spam"].rate < 0.7
    rel = reliability_scores(records)
    assert rel["c1"].weight > 0.9
    assert rel["spam"].weight < 0.4
    w = record_weights(records[:4], rel)
    assert w.dtype == np.float32 and w.shape == (4,)
    assert w[3] == pytest.approx(rel["spam"].weight)
    weights = annotator_weights(records)
    assert weights == {a: rel[a].weight for a in ("c1", "c2", "c3", "spam")}
    newcomer = Comparison("q", "x", "y", "a", annotator="new")
    assert record_weights([newcomer], rel)[0] == 1.0


def test_sample_annotators_uniform_and_stratified():
    people = [Annotator(f"d{i}", {"expertise": "doctor"}) for i in range(8)]
    people += [Annotator(f"l{i}", {"expertise": "lawyer"}) for i in range(2)]
    uni = sample_annotators(people, 5, seed=3)
    assert len({a.id for a in uni}) == 5
    eq = sample_annotators(people, 4, strategy="stratified", by="expertise")
    assert Counter(a.attributes["expertise"] for a in eq) == {"doctor": 2, "lawyer": 2}
    prop = sample_annotators(
        people, 5, strategy="stratified", by="expertise", allocation="proportional"
    )
    assert Counter(a.attributes["expertise"] for a in prop) == {"doctor": 4, "lawyer": 1}
    big = sample_annotators(people, 6, strategy="stratified", by="expertise")
    assert Counter(a.attributes["expertise"] for a in big) == {"doctor": 4, "lawyer": 2}
    with pytest.raises(FeedbackError, match="cannot sample 11 of 10"):
        sample_annotators(people, 11)
    with pytest.raises(FeedbackError, match="needs by="):
        sample_annotators(people, 2, strategy="stratified")
