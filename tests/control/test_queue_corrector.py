"""People correct the agent's episodes through the feedback store's queue."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlhf_env.control.cli import main
from rlhf_env.control.corrections import as_comparison, replay_corrections
from rlhf_env.control.queue_corrector import QueueCorrector, action_spec, episode_frames
from rlhf_env.control.segments import SegmentBank, Trajectory
from rlhf_env.errors import ConfigError
from rlhf_env.feedback.records import Comparison, ControlCorrection
from rlhf_env.feedback.store import FeedbackStore, QueueItem

torch.set_num_threads(1)


def push_right(obs: np.ndarray) -> int:
    return 1  # CartPole falls within ~10 steps


def correct_as_a_person(store: FeedbackStore, item: QueueItem, who: str = "alice") -> None:
    """What a person types: the pole leans right from step 4 on, so push left 3 times."""
    record = item.answer_record((4, (0, 0, 0)), annotator=who, duration_s=3.0)
    store.complete(item.item_id, record)


def test_people_correct_episodes_that_replay_into_corrected_over_original(tmp_path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    lines: list[str] = []
    corrector = QueueCorrector(store, "RLHF-CartPole-v0", horizon=40, max_actions=3,
                               timeout=0.0, notify=lines.append)
    assert corrector.correct(push_right, 2, seeds=[0, 1]) == []  # nobody answered yet
    items = store.queue_items()
    assert [i.kind for i in items] == ["control_correction"] * 2
    meta = items[0].metadata
    assert (meta["env_id"], meta["seed"], meta["horizon"], meta["max_actions"]) == (
        "RLHF-CartPole-v0", 0, 40, 3)
    assert meta["actions"] == [1] * 40 and len(meta["state_digests"]) == 40
    assert meta["action_space"] == {"type": "discrete", "n": 2, "names": ["left", "right"]}
    clip = Path(items[0].responses[0])
    assert clip.is_file() and clip.parent == tmp_path / "clips"
    assert "queued 2 episodes to correct (2 open)" in lines[0] and "rlhf-env label" in lines[0]

    for item in items:
        correct_as_a_person(store, item)
    records = corrector.collect()
    assert [r.metadata["queue_item"] for r in records] == [i.item_id for i in items]
    assert all(isinstance(r, ControlCorrection) and r.annotator == "alice"
               and r.duration_s == 3.0 and r.step == 4 for r in records)
    assert corrector.collect() == [] and corrector.open_items() == 0  # never twice

    bank = SegmentBank()
    pairs = [as_comparison(r) for r in replay_corrections(records, bank, 10,
                                                          policy=push_right)]
    assert all(isinstance(p, Comparison) and p.preference == "a" for p in pairs)
    assert all(bank.get(p.chosen).true_return > bank.get(p.rejected).true_return
               for p in pairs)


def test_the_wait_ends_with_the_answers_and_unanswered_items_stay(tmp_path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    now = [0.0]

    def sleep(seconds: float) -> None:  # the person answers one item during the first wait
        if now[0] == 0.0:
            correct_as_a_person(store, store.next_pending("bob"), "bob")
        now[0] += seconds

    corrector = QueueCorrector(store, "RLHF-CartPole-v0", horizon=40, timeout=5.0,
                               poll_interval=1.0, clock=lambda: now[0], sleep=sleep)
    first = corrector.correct(push_right, 2, seeds=[0, 1])
    assert now[0] == 5.0 and [r.metadata["queue_item"] for r in first] == [1]
    assert store.pending_count("bob") == 1

    again = QueueCorrector(store, "RLHF-CartPole-v0", horizon=40, timeout=0.0)  # a resume
    assert again.correct(push_right, 2, seeds=[0, 1]) == [first[0]]  # handed in again…
    assert len(store.queue_items()) == 2  # …and the same episodes are not queued twice
    correct_as_a_person(store, store.next_pending("bob"), "bob")
    assert [r.metadata["queue_item"] for r in again.collect()] == [2]


def test_the_loop_keeps_each_answer_once_across_a_resume(tmp_path) -> None:
    from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop

    path = tmp_path / "fb.sqlite"
    config = LoopConfig(total_timesteps=64, total_labels=2, rounds=1, segment_length=10,
                        n_envs=1, ensemble_size=1, horizon=20, correction_fraction=1.0)
    loop = PreferenceLearningLoop("RLHF-CartPole-v0", config,
                                  algorithm_kwargs={"n_steps": 64, "batch_size": 64},
                                  corrector=QueueCorrector(path, "RLHF-CartPole-v0",
                                                           horizon=20, timeout=0.0))
    assert loop.correct(1) == []  # queued, nobody answered yet
    store = FeedbackStore(path)
    item = store.next_pending("bob")
    did = item.metadata["actions"][2]
    store.complete(item.item_id, item.answer_record((2, (1 - did,)), annotator="bob"))
    [first] = loop.correct(1)  # a second episode is queued; the answer comes in, replayed
    assert first.metadata["queue_item"] == item.item_id and len(first.metadata["segments"]) == 2
    loop.records.append(first)
    loop.corrector = QueueCorrector(path, "RLHF-CartPole-v0", horizon=20, timeout=0.0)
    assert loop.correct(1) == []  # the rebuilt corrector hands it in again: dropped


def test_action_specs_and_clip_frames() -> None:
    cartpole = gym.make("RLHF-CartPole-v0")
    assert action_spec("RLHF-CartPole-v0", cartpole.action_space).names == ("left", "right")
    box = action_spec("RLHF-Pendulum-v0", gym.spaces.Box(-2.0, 2.0, (1,)))
    assert (box.kind, box.low, box.high) == ("box", (-2.0,), (2.0,))
    with pytest.raises(ConfigError, match="Discrete"):
        action_spec("X", gym.spaces.MultiBinary(3))
    obs = np.zeros((3, 4))
    frames = episode_frames("RLHF-CartPole-v0", Trajectory(obs, np.ones(3), obs, np.ones(3)))
    assert frames.shape[0] == 4  # a frame before each step and one after the last
    assert not np.array_equal(frames[0, :16], frames[1, :16])  # the step number differs


def test_highway_corrections_use_the_meta_action_names(tmp_path) -> None:
    pytest.importorskip("highway_env")
    store = FeedbackStore(tmp_path / "fb.sqlite")
    corrector = QueueCorrector(store, "RLHF-Highway-v0", horizon=6, timeout=0.0)
    corrector.correct(lambda obs: 3, 1, seeds=[0])  # always FASTER
    [item] = store.queue_items()
    assert item.metadata["action_space"]["names"] == ["LANE_LEFT", "IDLE", "LANE_RIGHT",
                                                      "FASTER", "SLOWER"]
    from rlhf_env.feedback.control_items import ControlItem

    spec = ControlItem.from_metadata(item.metadata).space
    record = item.answer_record((2, spec.parse("slower IDLE")), annotator="eve")
    assert record.corrected_actions == (4, 1) and record.actions == (3,) * 6


class Person(threading.Thread):
    """Answers every pending item (comparisons: the first clip; corrections: step 1, the
    other action) until stopped."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.stop = path, threading.Event()

    def run(self) -> None:
        store = FeedbackStore(self.path)
        while not self.stop.is_set():
            item = store.next_pending("dana")
            if item is None:
                time.sleep(0.01)
            elif item.kind == "comparison":
                store.complete(item.item_id, Comparison(item.prompt, *item.responses, "a",
                                                        annotator="dana", task=item.task))
            else:
                did = item.metadata["actions"][1]
                store.complete(item.item_id, item.answer_record((1, (1 - did,)),
                                                                annotator="dana"))
        store.close()


def test_cli_prefs_with_people_correcting(tmp_path, capsys) -> None:
    path = tmp_path / "fb.sqlite"
    person = Person(path)
    person.start()
    try:
        code = main(["prefs", "RLHF-CartPole-v0", "--labels", "4", "--timesteps", "64",
                     "--rounds", "1", "--segment-length", "10", "--n-envs", "1",
                     "--ensemble", "1", "--horizon", "20", "--labeler", "queue", "--store",
                     str(path), "--timeout", "60", "--poll", "0.01",
                     "--correction-fraction", "0.5", "--correction-actions", "2",
                     "--set", "reward_epochs=1"])
    finally:
        person.stop.set()
        person.join(5)
    out = capsys.readouterr().out
    assert code == 0 and "labels 4" in out and "episodes to correct" in out
    store = FeedbackStore(path)
    kinds = sorted(i.kind for i in store.queue_items())
    assert kinds == ["comparison"] * 2 + ["control_correction"] * 2
    assert all(i.metadata["max_actions"] == 2 for i in store.queue_items()
               if i.kind == "control_correction")
    assert store.count(kind="control_correction", annotator="dana") == 2


def test_cli_correction_fraction_with_the_scripted_corrector_and_resume(tmp_path,
                                                                        capsys) -> None:
    from rlhf_env.control.checkpoint import read_checkpoint

    out = tmp_path / "run"
    args = ["prefs", "RLHF-CartPole-v0", "--labels", "4", "--timesteps", "64", "--rounds",
            "1", "--segment-length", "10", "--n-envs", "1", "--ensemble", "1", "--horizon",
            "20", "--set", "reward_epochs=1", "--out", str(out)]
    assert main([*args, "--correction-fraction", "0.5"]) == 0
    state, files = read_checkpoint(out)
    assert state["config"]["correction_fraction"] == 0.5
    feedback = Path(files["feedback"]).read_text()
    assert '"kind":"control_correction"' in feedback.replace(" ", "")
    assert '"annotator":"synthetic-corrector"' in feedback.replace(" ", "")
    capsys.readouterr()
    assert main(["prefs", "--resume", str(out), "--correction-fraction", "0.25"]) == 2
    assert "--correction-fraction 0.25 (saved: 0.5)" in capsys.readouterr().err
