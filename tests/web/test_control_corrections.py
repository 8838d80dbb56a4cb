"""Control corrections in the web app: the page, the API answer, the same checks as the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rlhf_env.feedback.records import ControlCorrection
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.web import create_app

pytest.importorskip("PIL")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def env(tmp_path: Path):
    from rlhf_env.control.queue_corrector import QueueCorrector

    store = FeedbackStore(tmp_path / "s.db")
    QueueCorrector(store, "RLHF-CartPole-v0", horizon=20, max_actions=2, timeout=0.0
                   ).correct(lambda obs: 1, 1, seeds=[0])  # always right: it falls
    [item] = store.queue_items()
    client = TestClient(create_app(store))
    return client, store, item.item_id, store.issue_token("alice")


def test_the_page_shows_the_clip_a_step_slider_and_action_buttons(env):
    client, _store, item_id, token = env
    html = client.get("/label/next", headers=bearer(token)).text
    assert f'data-item-id="{item_id}"' in html and 'class="control"' in html
    assert f'data-src="/api/clips/{item_id}/0"' in html
    assert 'data-act="step" min="0" max="19"' in html
    assert 'data-name="left">left (1)' in html and 'data-name="right">right (2)' in html
    assert 'data-did="[&#34;right&#34;' in html  # the agent's actions, escaped JSON
    frames = client.get(f"/api/clips/{item_id}/0/frames", headers=bearer(token))
    assert frames.status_code == 200 and frames.headers["X-Frames"] == "21"


@pytest.mark.parametrize("answer, message", [
    ({"step": 20, "actions": [0]}, "step"),
    ({"step": 4, "actions": ["up"]}, "not an action of this env"),
    ({"step": 4, "actions": [1]}, "already did right at step 4"),
    ({"step": 4, "actions": [0, 0, 0]}, "1 to 2"),
    ({"step": 4}, "actions must be a list"),
    ({"actions": [0]}, "step"),
])
def test_bad_answers_are_refused_and_change_nothing(env, answer, message):
    client, store, item_id, token = env
    r = client.post("/api/answer", json={"item_id": item_id, "duration_s": 1.0, **answer},
                    headers=bearer(token))
    assert r.status_code == 400 and message in r.json()["detail"]
    assert store.count() == 0


def test_an_answer_becomes_a_control_correction_record(env):
    client, store, item_id, token = env
    item = client.get("/api/next", headers=bearer(token)).json()["item"]
    assert item["control"]["action_space"]["names"] == ["left", "right"]
    assert item["control"]["seed"] == 0 and item["control"]["max_actions"] == 2
    r = client.post("/api/answer", json={"item_id": item_id, "step": 4,
                                         "actions": ["left", 0], "duration_s": 2.5},
                    headers=bearer(token))
    assert r.status_code == 200
    [record] = store.records("control_correction")
    assert isinstance(record, ControlCorrection)
    assert (record.step, record.corrected_actions, record.annotator, record.duration_s) == (
        4, (0, 0), "alice", 2.5)
    assert record.actions == (1,) * 20 and record.metadata["source"] == "web"
    assert r.json()["record_id"] == record.content_hash
    again = client.post("/api/answer", json={"item_id": item_id, "step": 5,
                                             "actions": [0], "duration_s": 1.0},
                        headers=bearer(token))
    assert again.status_code == 409 and store.count() == 1


def test_pushed_box_items_are_checked_and_answered_with_numbers(tmp_path: Path):
    store = FeedbackStore(tmp_path / "s.db")
    client = TestClient(create_app(store))
    admin = bearer(store.issue_token("root", "admin"))
    meta = {"env_id": "RLHF-Pendulum-v0", "seed": 1, "actions": [[0.5]] * 4, "horizon": 4,
            "action_space": {"type": "box", "low": [-2.0], "high": [2.0]}, "max_actions": 2}
    spec = {"kind": "control_correction", "prompt": "Fix it", "responses": ["ep.gif"]}
    bad = client.post("/api/queue", json={"items": [{**spec, "metadata": {**meta,
                                                                             "max_actions": 0}}]},
                      headers=admin)
    assert bad.status_code == 400 and "max_actions" in bad.json()["detail"]
    [item_id] = client.post("/api/queue", json={"items": [{**spec, "metadata": meta}]},
                            headers=admin).json()["item_ids"]
    ann = bearer(store.issue_token("bob"))
    body = {"item_id": item_id, "step": 1, "duration_s": 1.0}
    out = client.post("/api/answer", json={**body, "actions": [[2.5]]}, headers=ann)
    assert out.status_code == 400 and "[-2, 2]" in out.json()["detail"]
    ok = client.post("/api/answer", json={**body, "actions": [[-1.5], 1.0]}, headers=ann)
    assert ok.status_code == 200
    [record] = store.records("control_correction")
    assert record.corrected_actions == ((-1.5,), (1.0,)) and record.annotator == "bob"
