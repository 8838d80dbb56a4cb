"""Which segment pairs are asked: never identical-looking ones, never two wholly fallen ones,
never one pair twice in a round; fewer questions (and a log line) when too few fair pairs
exist. Clips for people: a side-by-side strip and a one-line summary per segment."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from rlhf_env.control.clips import (
    STRIP_GAP,
    STRIP_HEADER,
    describe_segment,
    enqueue_segment_pairs,
    pair_strip_frames,
    segment_frames,
    write_pair_strip,
)
from rlhf_env.control.labeling import (
    SegmentLabeler,
    informative_pairs,
    pair_key,
    pair_problem,
    pair_segments,
    segment_query,
)
from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop
from rlhf_env.control.queue_labeler import QueueLabeler
from rlhf_env.control.segments import Segment, SegmentBank, failed_steps
from rlhf_env.feedback.store import FeedbackStore

SOURCE = "RLHF-CartPole-v0"
FALLEN = np.array([0.0, 0.0, 0.4, 0.0], dtype=np.float32)
T = 6


def live(seed: int) -> Segment:
    """A segment of the pole swaying upright (every step changes the state)."""
    rng = np.random.default_rng(seed)
    states = rng.normal(0.0, 0.05, (T + 1, 4)).astype(np.float32)
    return Segment(states[:-1], rng.integers(0, 2, T), states[1:], np.ones(T), source=SOURCE)


def fallen(seed: int) -> Segment:
    """A segment wholly in the failure state; ``seed`` picks its (invisible) actions."""
    states = np.tile(FALLEN, (T, 1))
    actions = np.random.default_rng(seed).integers(0, 2, T)
    return Segment(states, actions, states, np.zeros(T), source=SOURCE)


def falling(at: int) -> Segment:
    """Upright, then the step ``at`` (0-based) falls; down from then on."""
    live_part = live(99)
    obs = np.concatenate([live_part.obs[:at + 1], np.tile(FALLEN, (T - at - 1, 1))])
    nxt = np.concatenate([live_part.next_obs[:at], np.tile(FALLEN, (T - at, 1))])
    return Segment(obs, np.zeros(T), nxt, (np.arange(T) < at).astype(float), source=SOURCE)


def test_fallen_segments_are_absorbed_and_look_alike_whatever_their_actions() -> None:
    a, b = fallen(1), fallen(2)
    assert a.id != b.id  # different actions: different content ids ...
    assert a.view_key == b.view_key and a.absorbed and b.absorbed  # ... the same picture
    assert not live(0).absorbed and not falling(2).absorbed


def test_pair_problem_rejects_identical_and_both_fallen_pairs_only() -> None:
    assert pair_problem(fallen(1), fallen(2)) == "the two look identical"
    frozen_elsewhere = Segment(np.zeros((T, 4)), np.zeros(T), np.zeros((T, 4)), np.zeros(T))
    assert pair_problem(fallen(1), frozen_elsewhere) == \
        "both lie wholly in the absorbing (failure) state"
    assert pair_problem(live(0), live(0)) == "the two look identical"
    assert pair_problem(live(0), fallen(1)) is None
    assert pair_problem(live(0), live(1)) is None
    assert pair_problem(falling(2), fallen(1)) is None  # the fall itself is worth seeing


def test_informative_pairs_drop_repeats_in_either_order() -> None:
    a, b, c = live(0), live(1), fallen(1)
    kept = informative_pairs([(a, b), (b, a), (c, fallen(2)), (a, c), (c, a), (a, b)])
    assert [(x.id, y.id) for x, y in kept] == [(a.id, b.id), (a.id, c.id)]


def test_pair_segments_repairs_fallen_neighbours_with_live_partners() -> None:
    segs = [fallen(i) for i in range(8)] + [live(i) for i in range(4)]
    pairs = pair_segments(segs, 6, np.random.default_rng(0))
    assert len(pairs) == 6
    assert all(pair_problem(a, b) is None for a, b in pairs)
    assert len({pair_key(a, b) for a, b in pairs}) == 6
    assert all(not (a.absorbed and b.absorbed) for a, b in pairs)


def test_pair_segments_asks_fewer_and_says_so_when_all_have_fallen(caplog) -> None:
    segs = [fallen(i) for i in range(10)]
    with caplog.at_level(logging.INFO, logger="rlhf_env.control.labeling"):
        assert pair_segments(segs, 5, np.random.default_rng(0)) == []
    assert "only 0 informative segment pairs for 5 wanted: 10 of 10" in caplog.text


def small_loop(**changes) -> PreferenceLearningLoop:
    config = LoopConfig(**{"total_timesteps": 256, "total_labels": 12, "rounds": 2,
                           "segment_length": 10, "n_envs": 2, "ensemble_size": 2,
                           "reward_epochs": 2, "horizon": 50, **changes})
    return PreferenceLearningLoop(SOURCE, config,
                                  algorithm_kwargs={"n_steps": 64, "batch_size": 64})


def test_the_loop_never_asks_the_fallen_pair_three_times(caplog) -> None:
    """The reported bug: the same pair of fallen clips asked three times in one round."""
    loop = small_loop()
    a, b, c, d = fallen(1), fallen(2), live(0), live(1)
    loop.bank.add([a, b, c, d])
    pairs = [(a, b), (b, a), (a, fallen(3)), (c, a), (a, c), (c, d)]
    with caplog.at_level(logging.WARNING, logger="rlhf_env.control.loop"):
        queries = loop.select_queries(pairs, 4)
    asked = {frozenset((q.response_a, q.response_b)) for q in queries}
    assert asked == {frozenset((c.ref, a.ref)), frozenset((c.ref, d.ref))}
    assert len(queries) == 2
    assert "asking 2 of the 4 labels planned: only 2 of 6 candidate pairs" in caplog.text


def test_collected_candidates_of_an_untrained_agent_are_all_fair() -> None:
    loop = small_loop()
    pairs = loop.collect_segments(20)
    assert pairs and all(pair_problem(a, b) is None for a, b in pairs)
    assert len({pair_key(a, b) for a, b in pairs}) == len(pairs)
    assert all(a.ref in loop.bank and b.ref in loop.bank for a, b in pairs)


def test_the_synthetic_labeler_skips_unfair_pairs() -> None:
    bank = SegmentBank()
    records = SegmentLabeler(bank, seed=0).compare_segments(
        [(fallen(1), fallen(2)), (live(0), fallen(1)), (fallen(1), live(0))])
    assert len(records) == 1 and records[0].chosen == live(0).ref


def test_the_queue_labeler_never_queues_an_unfair_or_repeated_pair(tmp_path) -> None:
    bank = SegmentBank([fallen(1), fallen(2), fallen(3), live(0), live(1)])
    store = FeedbackStore(tmp_path / "fb.sqlite")
    labeler = QueueLabeler(store, bank)
    queries = [segment_query(fallen(1), fallen(2)), segment_query(live(0), fallen(1)),
               segment_query(fallen(3), live(0)),  # looks the same as the one before
               segment_query(live(0), live(1))]
    ids = labeler.enqueue(queries)
    assert len(ids) == 2 and len(store.queue_items()) == 2
    assert labeler.enqueue(queries) == []  # asked already: nothing new


def test_failed_steps_and_summaries() -> None:
    assert failed_steps(falling(2)).tolist() == [False, False, True, True, True, True]
    assert describe_segment(falling(2)) == "6 steps, falls at step 3 and stays down (4 of 6 steps)"
    assert describe_segment(live(0)) == "6 steps, no fall"
    assert describe_segment(fallen(1)) == "6 steps, down the whole time (one still picture)"


def test_the_strip_shows_a_left_and_b_right(tmp_path) -> None:
    a, b = live(0), fallen(1)
    frames = pair_strip_frames(a, b)
    clip_a, clip_b = segment_frames(a), segment_frames(b)
    h, w = clip_a.shape[1:3]
    assert frames.shape == (T + 1, STRIP_HEADER + h, 2 * w + STRIP_GAP, 3)
    np.testing.assert_array_equal(frames[:, STRIP_HEADER:, :w], clip_a)
    np.testing.assert_array_equal(frames[:, STRIP_HEADER:, w + STRIP_GAP:], clip_b)
    assert (frames[:, :STRIP_HEADER] < 128).any()  # the letters are drawn

    path = write_pair_strip(a, b, tmp_path)
    assert path.name == f"{a.id}-vs-{b.id}.gif" and path.stat().st_size > 500
    with Image.open(path) as gif:
        assert gif.size == (2 * w + STRIP_GAP, STRIP_HEADER + h)
        first = np.asarray(gif.convert("RGB"))
    left, right = first[STRIP_HEADER:, :w], first[STRIP_HEADER:, w + STRIP_GAP:]
    assert np.abs(left.astype(int) - right.astype(int)).sum() > 1000  # upright vs fallen


def test_queued_items_carry_the_strip_and_the_summaries(tmp_path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    ids = enqueue_segment_pairs(store, [(live(0), falling(2)), (fallen(1), fallen(2))],
                                tmp_path / "clips")
    assert len(ids) == 1
    item = store.queue_items()[0]
    assert item.metadata["summaries"] == ["6 steps, no fall",
                                          "6 steps, falls at step 3 and stays down (4 of 6 "
                                          "steps)"]
    assert item.metadata["strip"].endswith(f"{live(0).id}-vs-{falling(2).id}.gif")
    assert "clip A and clip B" in item.prompt


@pytest.fixture(autouse=True)
def _no_viewer(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test here may open a real viewer window."""
    monkeypatch.setattr("rlhf_env.feedback.terminal.system_opener", lambda: None)
