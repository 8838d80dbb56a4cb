"""ControlCorrection records: validation messages, normalisation, round trips, the store."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.io import export_jsonl, import_jsonl
from rlhf_env.feedback.records import ControlCorrection, record_from_dict
from rlhf_env.feedback.store import FeedbackStore

ENV = {"annotator": "ann1", "task": "RLHF-Highway-v0", "timestamp": 1_700_000_000.0}


def discrete(**changes) -> ControlCorrection:
    base = {"env_id": "RLHF-Highway-v0", "seed": 7, "actions": (1, 1, 3, 3, 3), "step": 2,
            "corrected_actions": (4, 1), "horizon": 40, "state_digest": "ab12"}
    return ControlCorrection(**{**base, **changes}, **ENV)


def box() -> ControlCorrection:
    return ControlCorrection("RLHF-Pendulum-v0", 0, ((0.5,), (1.0,), (-2.0,)), 1,
                             ((-1.0,), (0.25,)), **ENV)


@pytest.mark.parametrize("record", [discrete(), box()], ids=["discrete", "box"])
def test_round_trip_through_dict_and_json(record: ControlCorrection) -> None:
    data = json.loads(json.dumps(record.to_dict()))
    assert data["kind"] == "control_correction"
    back = record_from_dict(data)
    assert back == record and back.content_hash == record.content_hash
    assert back.actions == record.actions and isinstance(back.actions, tuple)
    assert back.takeover == len(record.corrected_actions)


def test_numpy_actions_become_plain_values() -> None:
    record = discrete(seed=np.int64(7), actions=np.array([1, 1, 3, 3, 3]), step=np.int64(2),
                      corrected_actions=[np.int64(4), np.int64(1)])
    assert record == discrete()
    assert type(record.actions[0]) is int and type(record.seed) is int
    vectors = ControlCorrection("RLHF-Pendulum-v0", 0, np.array([[0.5], [1.0], [-2.0]],
                                                                np.float32), 1,
                                [np.array([-1.0], np.float32), np.array([0.25])], **ENV)
    assert vectors == box()


@pytest.mark.parametrize("changes, message", [
    ({"step": 5}, r"step must be an integer >= 0 and <= 4, got 5"),
    ({"step": -1}, r"step must be an integer >= 0"),
    ({"corrected_actions": (3, 1)}, r"first corrected action equals the original action at "
                                    r"step 2; step must be the first step"),
    ({"corrected_actions": ()}, r"corrected_actions must be a non-empty list of actions"),
    ({"actions": "13"}, r"actions must be a non-empty list of actions"),
    ({"actions": (1, True, 3)}, r"actions\[1\] must be an integer .* got True"),
    ({"actions": (1, 2.5, 3)}, r"actions\[1\] must be an integer \(a Discrete action\)"),
    ({"actions": (1, (0.5,), 3)}, r"actions mixes action forms"),
    ({"corrected_actions": ((0.5,),)}, r"corrected_actions do not have the form of actions"),
    ({"seed": -1}, r"seed must be an integer >= 0, got -1"),
    ({"seed": 1.5}, r"seed must be an integer"),
    ({"horizon": 4}, r"the actions run past the horizon \(4 steps\)"),
    ({"horizon": 0}, r"horizon must be an integer >= 1"),
    ({"env_id": " "}, r"env_id is empty"),
    ({"state_digest": ""}, r"state_digest is empty"),
])
def test_invalid_records_name_the_field(changes, message) -> None:
    with pytest.raises(FeedbackError, match=message):
        discrete(**changes)


def test_box_actions_must_be_finite() -> None:
    with pytest.raises(FeedbackError, match=r"actions\[0\]\[0\] must be finite"):
        ControlCorrection("RLHF-Pendulum-v0", 0, ((float("nan"),),), 0, ((1.0,),))


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(FeedbackError, match="unknown key\\(s\\) 'policy'"):
        record_from_dict({**discrete().to_dict(), "policy": "ppo"})


def test_item_key_names_the_episode_not_the_answer() -> None:
    other = ControlCorrection("RLHF-Highway-v0", 7, (1, 1, 3, 3, 3), 3, (0,), horizon=40,
                              annotator="ann2", task=ENV["task"])
    assert other.item_key() == discrete().item_key()  # same episode, another correction
    assert discrete(seed=8).item_key() != discrete().item_key()


def test_store_and_jsonl_round_trip(tmp_path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    assert store.add(discrete()) and store.add(box())
    assert not store.add(discrete())  # a duplicate is skipped
    assert store.count(kind="control_correction") == 2
    assert store.records() == [discrete(), box()]
    path = tmp_path / "fb.jsonl"
    assert export_jsonl(store, path) == 2
    other = FeedbackStore(":memory:")
    assert import_jsonl(other, path).added == 2
    assert other.records() == [discrete(), box()]


def test_hf_dataset_round_trip_mixes_discrete_and_box_actions() -> None:
    pytest.importorskip("datasets")
    from rlhf_env.feedback.io import from_hf_dataset, to_hf_dataset
    from rlhf_env.feedback.records import Comparison

    records = [Comparison("p", "a", "b", "a", **ENV), discrete(), box()]
    assert from_hf_dataset(to_hf_dataset(records)).records == records
