"""Control correction queue items: validation, and answering them in the terminal labeler."""

from __future__ import annotations

import io

import pytest

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.control_items import ActionSpec
from rlhf_env.feedback.records import ControlCorrection
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.feedback.terminal import TerminalLabeler

CARTPOLE = {"type": "discrete", "n": 2, "names": ["left", "right"]}
HIGHWAY = {"type": "discrete", "n": 5,
           "names": ["LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER"]}
PENDULUM = {"type": "box", "low": [-2.0], "high": [2.0]}


def metadata(**changes):
    base = {"env_id": "RLHF-CartPole-v0", "seed": 7, "actions": [1, 1, 1, 0, 1, 1],
            "horizon": 6, "action_space": CARTPOLE, "max_actions": 3,
            "state_digests": [f"d{t}" for t in range(6)]}
    return {**base, **changes}


def enqueue(store, tmp_path, **changes) -> int:
    clip = tmp_path / "episode.gif"
    clip.write_bytes(b"GIF89a")
    return store.enqueue("control_correction", "Where did it go wrong?", [str(clip)],
                         task="cartpole", metadata=metadata(**changes))


@pytest.mark.parametrize("changes, message", [
    ({"env_id": ""}, "env_id"),
    ({"seed": -1}, "seed"),
    ({"actions": []}, "actions"),
    ({"actions": [0, 2, 1, 0, 1, 1]}, "not an action of this env"),
    ({"horizon": 4}, "horizon"),
    ({"action_space": {"type": "discrete", "n": 2, "names": ["go", "go"]}}, "names"),
    ({"action_space": {"type": "multibinary"}}, "action_space"),
    ({"max_actions": 0}, "max_actions"),
    ({"first_step": 6}, "first_step"),
    ({"last_step": 9}, "last_step"),
    ({"state_digests": ["x"]}, "state_digests"),
])
def test_bad_items_are_refused_at_enqueue(tmp_path, changes, message) -> None:
    store = FeedbackStore(":memory:")
    with pytest.raises(FeedbackError, match=message):
        enqueue(store, tmp_path, **changes)
    assert store.queue_items() == []


def test_an_item_needs_one_clip_and_no_gold(tmp_path) -> None:
    store = FeedbackStore(":memory:")
    with pytest.raises(FeedbackError, match="1 response"):
        store.enqueue("control_correction", "p", ["a.gif", "b.gif"], metadata=metadata())
    with pytest.raises(FeedbackError, match="no gold"):
        store.enqueue("control_correction", "p", ["a.gif"], metadata=metadata(), gold="a")


def test_answers_are_checked_against_the_item(tmp_path) -> None:
    store = FeedbackStore(":memory:")
    item = store.queue_item(enqueue(store, tmp_path))
    record = item.answer_record((3, (1, 1)), annotator="ann")
    assert (record.step, record.corrected_actions, record.state_digest) == (3, (1, 1), "d3")
    assert (record.env_id, record.seed, record.horizon) == ("RLHF-CartPole-v0", 7, 6)
    with pytest.raises(FeedbackError, match="already did left at step 3"):
        item.answer_record((3, (0,)), annotator="ann")
    with pytest.raises(FeedbackError, match="1 to 3"):
        item.answer_record((1, (0, 0, 0, 0)), annotator="ann")
    with pytest.raises(FeedbackError, match="past the episode's end"):
        item.answer_record((5, (0, 0)), annotator="ann")
    other = ControlCorrection("RLHF-CartPole-v0", 8, (1, 1, 1, 0, 1, 1), 0, (0,), horizon=6,
                              annotator="ann", task="cartpole")
    with pytest.raises(FeedbackError, match="another episode"):
        store.complete(item.item_id, other)
    assert store.count() == 0


def test_action_specs_parse_names_indices_and_bounded_numbers() -> None:
    spec = ActionSpec.from_json(HIGHWAY)
    assert spec.parse("lane_left IDLE 4") == (0, 1, 4)
    with pytest.raises(FeedbackError, match="LANE_LEFT \\(0\\), IDLE \\(1\\)"):
        spec.parse("LEFT")
    with pytest.raises(FeedbackError, match="not an action"):
        spec.parse("5")
    box = ActionSpec.from_json(PENDULUM)
    assert box.parse("0.5 -2") == ((0.5,), (-2.0,))
    with pytest.raises(FeedbackError, match=r"\[-2, 2\]"):
        box.parse("2.5")
    with pytest.raises(FeedbackError, match="not a number"):
        box.parse("fast")
    two = ActionSpec.from_json({"type": "box", "low": [-1, -1], "high": [1, 1]})
    assert two.parse("0.1 0.2; -1, 1") == ((0.1, 0.2), (-1.0, 1.0))
    with pytest.raises(FeedbackError, match="not an action"):
        two.parse("0.1")


def run(store, keys: str, **kwargs) -> str:
    out = io.StringIO()
    TerminalLabeler(store, "alice", stdin=io.StringIO(keys), stdout=out,
                    clock=iter([10.0, 12.5, 20.0, 21.0]).__next__, **kwargs).run()
    return out.getvalue()


def test_the_terminal_labeler_takes_a_correction(tmp_path) -> None:
    store = FeedbackStore(":memory:")
    item_id = enqueue(store, tmp_path)
    opened: list[str] = []
    # o opens the clip; 9 and "x" are no steps; "up" is no action; 3 + "left" is what the
    # agent did; b goes back; step 2, "left 1" is the answer
    keys = "o\n9\nx\n3\nup\nleft\nb\n2\nleft 1\n"
    out = run(store, keys, opener=opened.append)
    assert opened == [str(tmp_path / "episode.gif")]
    assert "the step is a whole number from 0 to 5, got '9'" in out
    assert "'up' is not an action of this env; use actions by name or number: left (0), " \
           "right (1)" in out
    assert "already did left at step 3" in out
    assert "the agent did (step: action) 2: right, 3: left, 4: right" in out
    [record] = store.records("control_correction")
    assert isinstance(record, ControlCorrection)
    assert (record.step, record.corrected_actions, record.state_digest) == (2, (0, 1), "d2")
    assert (record.annotator, record.task, record.duration_s) == ("alice", "cartpole", 2.5)
    assert record.actions == (1, 1, 1, 0, 1, 1) and record.metadata["queue_item"] == item_id
    assert store.next_pending("alice") is None


def test_the_terminal_labeler_skips_and_quits_a_correction(tmp_path) -> None:
    store = FeedbackStore(":memory:")
    first, second = enqueue(store, tmp_path), enqueue(store, tmp_path, seed=8)
    out = run(store, "s\n1\ns\n")  # skip at the step question, then at the actions one
    assert out.count("skipped.") == 2 and store.count() == 0
    assert store.queue_status()["skips"] == 2
    store2 = FeedbackStore(":memory:")
    enqueue(store2, tmp_path)
    out = run(store2, "2\nq\n")  # quit: nothing saved, the item stays pending
    assert "Stopped" in out and store2.count() == 0
    assert store2.next_pending("alice") is not None
    assert {first, second} == {i.item_id for i in store.queue_items()}


def test_box_actions_in_the_terminal(tmp_path) -> None:
    store = FeedbackStore(":memory:")
    enqueue(store, tmp_path, env_id="RLHF-Pendulum-v0", action_space=PENDULUM,
            actions=[[0.5]] * 6)
    out = run(store, "1\n3\n0.5 1\n-1.5 1.25\n")
    assert ("(action 1 3.0 is not an action of this env; use one number per action in "
            "[-2, 2].)") in out
    assert "already did 0.5 at step 1" in out
    [record] = store.records("control_correction")
    assert record.corrected_actions == ((-1.5,), (1.25,))
