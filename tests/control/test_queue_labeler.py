"""People answer the loop's queries through the feedback store's queue."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch

from rlhf_env.control.cli import main
from rlhf_env.control.labeling import segment_query
from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop
from rlhf_env.control.queue_labeler import QueueLabeler
from rlhf_env.control.segments import SegmentBank
from rlhf_env.errors import ConfigError
from rlhf_env.feedback.records import Comparison
from rlhf_env.feedback.store import FeedbackStore, QueueItem

torch.set_num_threads(1)

PPO_SMALL = {"n_steps": 64, "batch_size": 64, "n_epochs": 2}


def answer(store: FeedbackStore, bank: SegmentBank, item: QueueItem, who: str) -> None:
    """What a careful person answers: the clip with the higher true return."""
    a, b = (bank.get(r).true_return for r in item.metadata["segments"])
    pref = "a" if a > b else "b" if b > a else "tie"
    store.complete(item.item_id, Comparison(item.prompt, *item.responses, pref, annotator=who,
                                            task=item.task, duration_s=1.5))


class Person(threading.Thread):
    """Answers every pending item of the store file, in its own connection, until stopped."""

    def __init__(self, path: Path, bank: SegmentBank, who: str = "alice") -> None:
        super().__init__(daemon=True)
        self.path, self.bank, self.who = path, bank, who
        self.stop = threading.Event()

    def run(self) -> None:
        store = FeedbackStore(self.path)
        while not self.stop.is_set():
            item = store.next_pending(self.who)
            if item is None:
                time.sleep(0.01)
            else:
                self.respond(store, item)
        store.close()

    def respond(self, store: FeedbackStore, item) -> None:
        answer(store, self.bank, item, self.who)


def small_config(**changes) -> LoopConfig:
    base = {"total_timesteps": 256, "total_labels": 12, "rounds": 2, "segment_length": 10,
            "n_envs": 2, "ensemble_size": 2, "reward_epochs": 3, "horizon": 40}
    return LoopConfig(**{**base, **changes})


def test_a_person_answering_the_queue_drives_the_loop(tmp_path) -> None:
    path = tmp_path / "fb.sqlite"
    lines: list[str] = []
    loop = PreferenceLearningLoop(
        "RLHF-CartPole-v0", small_config(), algorithm_kwargs=PPO_SMALL,
        labeler=lambda bank: QueueLabeler(path, bank, timeout=60, poll_interval=0.01,
                                          notify=lines.append))
    reward_before = [p.detach().clone() for p in loop.ensemble.parameters()]
    person = Person(path, loop.bank)
    person.start()
    try:
        loop.run()
    finally:
        person.stop.set()
        person.join(5)
    assert loop.state.round == 2 and loop.state.labels_used == 12
    assert all(r.annotator == "alice" and r.duration_s == 1.5 for r in loop.records)
    items = [r.metadata["queue_item"] for r in loop.records]
    assert len(set(items)) == 12  # every answer once
    assert any(not torch.equal(a, b)  # the reward model trained on the answers
               for a, b in zip(reward_before, loop.ensemble.parameters(), strict=True))
    queued = FeedbackStore(path).queue_items()
    assert len(queued) == 12 and all(Path(c).exists() and Path(c).parent.name == "clips"
                                     for item in queued for c in item.responses)
    assert "rlhf-env label" in lines[0] and str(path) in lines[0]


def test_timeout_returns_partial_answers_and_late_ones_come_next_time(cartpole_segments,
                                                                      tmp_path) -> None:
    segs = cartpole_segments[:8]
    bank = SegmentBank(segs)
    store = FeedbackStore(tmp_path / "fb.sqlite")
    now = [0.0]

    def sleep(seconds: float) -> None:  # the person answers one item during the first wait
        if now[0] == 0.0:
            answer(store, bank, store.next_pending("bob"), "bob")
        now[0] += seconds

    labeler = QueueLabeler(store, bank, tmp_path / "clips", timeout=5.0, poll_interval=1.0,
                           clock=lambda: now[0], sleep=sleep)
    queries = [segment_query(segs[2 * i], segs[2 * i + 1], "cartpole") for i in range(3)]
    first = labeler.label(queries)
    assert now[0] == 5.0 and len(first) == 1  # waited the whole timeout for the other two
    assert first[0].annotator == "bob" and first[0].metadata["queue_item"] == 1
    assert store.pending_count("bob") == 2  # unanswered items stay queued

    answer(store, bank, store.next_pending("bob"), "bob")  # a late answer, between rounds
    second = labeler.label([queries[0], segment_query(segs[6], segs[7], "cartpole")])
    assert [r.metadata["queue_item"] for r in second] == [2]  # queries[0] not queued again
    assert len(store.queue_items()) == 4 and store.pending_count("bob") == 2
    assert labeler.label([]) == []  # nothing answered twice over


def test_answers_given_while_the_loop_was_down_are_used_after_resume(tmp_path) -> None:
    path, ck = tmp_path / "fb.sqlite", tmp_path / "ck"

    def people(bank: SegmentBank) -> QueueLabeler:
        return QueueLabeler(path, bank, timeout=0.0, poll_interval=0.01)

    loop = PreferenceLearningLoop("RLHF-CartPole-v0", small_config(total_labels=8),
                                  algorithm_kwargs=PPO_SMALL, labeler=people, checkpoint_dir=ck)
    loop.run_round(4, 128)  # nobody answers in time: the round trains on no labels
    assert loop.state.labels_used == 0 and loop.records == []
    store = FeedbackStore(path)
    for _ in range(2):
        answer(store, loop.bank, store.next_pending("carol"), "carol")

    resumed = PreferenceLearningLoop.resume(ck, labeler=people)
    resumed.run_round(4, 128)  # four more queries; the two old answers come in
    assert resumed.state.labels_used == 2
    assert {r.metadata["queue_item"] for r in resumed.records} == {1, 2}
    answer(store, loop.bank, store.next_pending("carol"), "carol")
    rebuilt = QueueLabeler(path, resumed.bank)  # a labeler rebuilt again hands all 3 in…
    resumed.labeler = rebuilt
    assert [r.metadata["queue_item"] for r in resumed.label([])] == [3]  # …the loop keeps 1


def test_queue_labeler_settings_are_checked(tmp_path) -> None:
    bank = SegmentBank()
    with pytest.raises(ConfigError, match="in-memory store needs clip_dir"):
        QueueLabeler(FeedbackStore(":memory:"), bank)
    with pytest.raises(ConfigError, match="clip_format must be one of"):
        QueueLabeler(tmp_path / "fb.sqlite", bank, clip_format="avi")


def test_cli_prefs_with_people_answering_the_queue(tmp_path, capsys) -> None:
    path = tmp_path / "fb.sqlite"

    class CliPerson(Person):  # the CLI's bank is out of reach: always prefer the first clip
        def respond(self, store: FeedbackStore, item) -> None:
            store.complete(item.item_id, Comparison(item.prompt, *item.responses, "a",
                                                    annotator=self.who, task=item.task))

    person = CliPerson(path, SegmentBank(), "dana")
    person.start()
    try:
        code = main(["prefs", "RLHF-CartPole-v0", "--labels", "6", "--timesteps", "128",
                     "--rounds", "2", "--segment-length", "10", "--n-envs", "2", "--ensemble",
                     "2", "--horizon", "40", "--labeler", "queue", "--store", str(path),
                     "--timeout", "60", "--poll", "0.01"])
    finally:
        person.stop.set()
        person.join(5)
    out = capsys.readouterr().out
    assert code == 0 and "round 2: steps 128 labels 6" in out
    assert f"answer them with `rlhf-env label {path}" in out
    store = FeedbackStore(path)
    assert store.queue_status()["answers"] == 6 and store.count(annotator="dana") == 6
    assert main(["prefs", "--labeler", "queue", "--labels", "2", "--rounds", "1"]) == 1
    assert "--labeler queue needs --store" in capsys.readouterr().err
