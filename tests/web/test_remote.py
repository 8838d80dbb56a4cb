"""Training code on "another machine": RemoteQueue pushes, people answer, it pulls."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.web.client import RemoteQueue


def _server(tmp_path, server_factory):
    """A running server over a fresh store, with an admin and an annotator token."""
    db = tmp_path / "server" / "s.db"
    store = FeedbackStore(db)
    admin, ann = store.issue_token("trainer", "admin"), store.issue_token("ann")
    store.close()
    return server_factory(db), admin, ann


def test_push_clips_and_pull_answers_over_http(tmp_path, server_factory):
    pytest.importorskip("PIL")
    from rlhf_env.control.clips import write_clip

    srv, admin, ann = _server(tmp_path, server_factory)
    queue = RemoteQueue(srv.url, admin)
    local = tmp_path / "trainer-clips"
    frames = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    frames[1:] = 255
    clips = [str(write_clip(frames, local / "seg1.gif")), str(write_clip(255 - frames,
                                                                       local / "seg2.gif"))]
    item = queue.enqueue("comparison", "Which clip?", clips, task="cartpole",
                         metadata={"asked_by": "loop"})
    (queued,) = queue.queue_items()
    assert queued.item_id == item and queued.metadata == {"asked_by": "loop"}
    assert [p.split("/")[-1] for p in queued.responses] == ["seg1.gif", "seg2.gif"]
    assert all(p.startswith(str((tmp_path / "server" / "clips").resolve()))
               for p in queued.responses)  # uploaded into the server's clip folder
    assert queue.pull() == []
    with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {ann}"}) as c:
        shown = c.get("/api/next").json()["item"]
        c.post("/api/answer", json={"item_id": item, "choice": "left", "duration_s": 2}
               ).raise_for_status()
    (rec,) = queue.pull()
    assert rec.annotator == "ann" and rec.chosen == queued.responses[shown["shown_order"][0]]
    assert queue.pull() == [] and len(queue.records("comparison")) == 1
    assert queue.queue_status()["answers"] == 1
    with pytest.raises(FeedbackError, match="HTTP 403"):
        RemoteQueue(srv.url, ann).queue_status()
    queue.close()


def test_a_queue_corrector_works_against_a_server(tmp_path, server_factory):
    pytest.importorskip("PIL")
    from rlhf_env.control.queue_corrector import QueueCorrector

    srv, admin, ann = _server(tmp_path, server_factory)
    corrector = QueueCorrector(srv.url, "RLHF-CartPole-v0", horizon=20, timeout=0.0,
                               token=admin)
    assert corrector.correct(lambda obs: 1, 1, seeds=[0]) == []
    (queued,) = corrector.store.queue_items()
    assert queued.kind == "control_correction"
    assert queued.responses[0].startswith(str((tmp_path / "server" / "clips").resolve()))
    with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {ann}"}) as c:
        assert c.get("/api/next").json()["item"]["control"]["seed"] == 0
        c.post("/api/answer", json={"item_id": queued.item_id, "step": 4,
                                    "actions": ["left"], "duration_s": 2}).raise_for_status()
    (rec,) = corrector.collect()
    assert (rec.annotator, rec.step, rec.corrected_actions) == ("ann", 4, (0,))
    assert corrector.collect() == []
