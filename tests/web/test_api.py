"""The app in-process (Starlette's TestClient): auth, answers, bad input, push/pull, pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.web import ServeConfig, create_app
from rlhf_env.web.cli import add_web_commands

from .conftest import EVIL, fill


@pytest.fixture
def env(tmp_path: Path):
    store = FeedbackStore(tmp_path / "s.db")
    ids = fill(store, evil=True)
    (tmp_path / "instr").mkdir()
    (tmp_path / "instr" / "default.md").write_text(
        "# Be fair\n\nPick the **kinder** one. <script>window.x=1</script> "
        "[bad](javascript:alert(1))\n")
    app = create_app(store, ServeConfig(max_body_bytes=20_000,
                                        instructions_dir=tmp_path / "instr"))
    tokens = {"alice": store.issue_token("alice"), "bob": store.issue_token("bob"),
              "admin": store.issue_token("root", "admin")}
    return TestClient(app), store, ids, tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_write_and_the_dashboard_need_the_right_token(env):
    client, store, ids, tok = env
    body = {"item_id": ids["comparison"], "choice": "left", "duration_s": 1.0}
    assert client.post("/api/answer", json=body).status_code == 401
    assert client.post("/api/answer", json=body, headers=bearer("nope" * 8)).status_code == 401
    assert client.get("/api/answers").status_code == 401
    assert client.post("/api/queue", json={"items": []}, headers=bearer(tok["alice"])
                       ).status_code == 403
    assert client.get("/api/stats", headers=bearer(tok["alice"])).status_code == 403
    assert client.get("/admin", headers=bearer(tok["alice"])).status_code == 403
    assert client.post("/api/answer", json=body, headers=bearer(tok["admin"])).status_code == 403
    assert client.get("/admin", headers=bearer(tok["admin"])).status_code == 200
    assert store.count() == 0


def test_an_annotator_cannot_answer_for_another(env):
    client, store, ids, tok = env
    body = {"item_id": ids["comparison"], "choice": "left", "duration_s": 1.0,
            "annotator": "bob"}
    r = client.post("/api/answer", json=body, headers=bearer(tok["alice"]))
    assert r.status_code == 422  # no annotator field: the token says who answers
    body.pop("annotator")
    assert client.post("/api/answer", json=body, headers=bearer(tok["alice"])).status_code == 200
    assert [r.annotator for r in store.records()] == ["alice"]
    # bob cannot take back alice's answer
    r = client.post("/api/undo", json={"item_id": ids["comparison"]}, headers=bearer(tok["bob"]))
    assert r.status_code == 409 and store.count() == 1


def test_cookie_login_and_csrf_header(env):
    client, _store, ids, tok = env
    r = client.get(f"/login?token={tok['alice']}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/label"
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    body = {"item_id": ids["comparison"], "choice": "tie", "duration_s": 2.0}
    assert client.post("/api/answer", json=body).status_code == 403  # no app header
    r = client.post("/api/answer", json=body, headers={"X-Requested-With": "rlhf-env"})
    assert r.status_code == 200
    assert client.get("/login?token=wrong-token-123").status_code == 401


@pytest.mark.parametrize("body, status", [
    ({"item_id": 1, "choice": "up", "duration_s": 1}, 422),
    ({"item_id": 1, "choice": "left"}, 422),
    ({"item_id": 1, "choice": "left", "duration_s": -3}, 422),
    ({"item_id": 99, "choice": "left", "duration_s": 1}, 400),
    ({"item_id": 2, "groups": [[0], [0], [1]], "duration_s": 1}, 400),
    ({"item_id": 3, "score": 9, "duration_s": 1}, 400),
    ({"item_id": 4, "text": "The cat sat on teh mat.", "duration_s": 1}, 400),
    ({"item_id": 5, "text": "x" * 30_000, "duration_s": 1}, 413),
    ({"item_id": 1, "duration_s": 1}, 400),
])
def test_malformed_or_oversized_answers_change_nothing(env, body, status):
    client, store, _ids, tok = env
    before = (store.count(include_retracted=True), store.queue_status())
    r = client.post("/api/answer", json=body, headers=bearer(tok["alice"]))
    assert r.status_code == status, r.text
    assert "detail" in r.json()
    assert (store.count(include_retracted=True), store.queue_status()) == before


def test_not_json_and_chunked_oversize_are_rejected(env):
    client, store, _ids, tok = env
    r = client.post("/api/answer", content=b"choice=left", headers={
        **bearer(tok["alice"]), "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422
    big = iter([b"{" + b" " * 15_000, b" " * 15_000 + b"}"])
    r = client.post("/api/answer", content=big, headers={**bearer(tok["alice"]),
                                                          "Content-Type": "application/json"})
    assert r.status_code == 413 and store.count() == 0


def test_answers_map_screen_positions_to_the_queued_order(env):
    client, store, ids, tok = env
    h = bearer(tok["alice"])
    seen = {}
    while (item := client.get("/api/next", headers=h, params={"exclude": ",".join(
            map(str, seen))}).json()["item"]) is not None:
        seen[item["item_id"]] = item
    assert list(seen) == [ids["comparison"], ids["ranking"], ids["rating"]]  # capped at 3
    comp, rank = seen[ids["comparison"]], seen[ids["ranking"]]
    client.post("/api/answer", headers=h, json={"item_id": comp["item_id"], "choice": "left",
                                                "duration_s": 3.5}).raise_for_status()
    groups = [[comp_pos] for comp_pos in range(3)]  # the order shown, kept as is
    client.post("/api/answer", headers=h, json={"item_id": rank["item_id"], "groups": groups,
                                                "duration_s": 4}).raise_for_status()
    c, r = store.records()
    assert c.chosen == comp["responses"][0] and c.duration_s == 3.5
    assert c.metadata["shown_order"] == comp["shown_order"]
    assert r.responses == tuple(rank["responses"])
    again = {"item_id": comp["item_id"], "choice": "right", "duration_s": 1}
    assert client.post("/api/answer", headers=h, json=again).status_code == 409
    assert store.count() == 2


def test_push_pull_with_cursor(env):
    client, store, _ids, tok = env
    admin, alice = bearer(tok["admin"]), bearer(tok["alice"])
    r = client.post("/api/queue", headers=admin, json={"items": [
        {"kind": "comparison", "prompt": "q1", "responses": ["a", "b"], "task": "pushed",
         "priority": 50, "labels_wanted": 2}]})
    assert r.status_code == 200
    (new,) = r.json()["item_ids"]
    bad = client.post("/api/queue", headers=admin, json={"items": [
        {"kind": "comparison", "prompt": "q2", "responses": ["a", "b"]},
        {"kind": "comparison", "prompt": "q3", "responses": ["a"]}]})
    assert bad.status_code == 400 and store.queue_status()["items"] == 6  # all or none
    assert client.get("/api/next", headers=alice).json()["item"]["item_id"] == new
    client.post("/api/answer", headers=alice, json={"item_id": new, "choice": "tie",
                                                    "duration_s": 1}).raise_for_status()
    page = client.get("/api/answers", headers=admin).json()
    assert [a["record"]["prompt"] for a in page["answers"]] == ["q1"]
    again = client.get("/api/answers", headers=admin, params={"cursor": page["cursor"]}).json()
    assert again["answers"] == [] and again["cursor"] == page["cursor"]
    assert client.get("/api/queue", headers=admin).json()["answers"] == 1


def test_untrusted_text_is_escaped_and_instructions_are_safe(env):
    client, _store, _ids, tok = env
    client.get(f"/login?token={tok['alice']}")
    html = client.get("/label/next").text
    assert EVIL not in html and "&lt;script&gt;" in html and "&lt;img" in html
    assert "<strong>kinder</strong>" in html  # Markdown rendered
    assert "<script>window.x" not in html and "href=\"javascript" not in html


def test_openapi_documents_the_api_without_cdn(env):
    client, *_ = env
    spec = client.get("/api/openapi.json").json()
    for path in ("/api/queue", "/api/answers", "/api/answer", "/api/next", "/api/undo"):
        assert path in spec["paths"]
    docs = client.get("/api/docs").text
    assert "/api/answers" in docs and "cdn" not in docs.lower()


def test_clips_are_served_only_from_the_clip_folder(tmp_path: Path):
    pytest.importorskip("PIL")
    import numpy as np

    from rlhf_env.control.clips import write_clip

    store = FeedbackStore(tmp_path / "s.db")
    clips = tmp_path / "clips"
    frames = np.zeros((6, 20, 30, 3), dtype=np.uint8)
    frames[:, :, :, 0] = np.arange(6)[:, None, None] * 40  # six different frames
    a = write_clip(frames, clips / "a.gif", fps=10)
    b = write_clip(255 - frames, clips / "b.gif", fps=10)
    ok = store.enqueue("comparison", "Which clip?", [str(a), str(b)])
    outside = tmp_path / "secret.gif"
    outside.write_bytes(a.read_bytes())
    bad = store.enqueue("comparison", "Which?", [str(outside), str(b)])
    client = TestClient(create_app(store))
    h = bearer(store.issue_token("ann"))
    r = client.get(f"/api/clips/{ok}/0/frames", headers=h)
    assert r.status_code == 200 and r.headers["X-Frames"] == "6"
    assert r.headers["X-Frame-Width"] == "30" and float(r.headers["X-Fps"]) == 10
    assert client.get(f"/api/clips/{bad}/0", headers=h).status_code == 404
    assert client.get(f"/api/clips/{ok}/0").status_code == 401
    admin = bearer(store.issue_token("root", "admin"))
    assert client.put("/api/clips/..%2Fx.gif", content=b"x", headers=admin).status_code in (
        400, 404, 405)
    assert client.put("/api/clips/.x.gif", content=b"x", headers=admin).status_code == 400
    assert not (tmp_path / "x.gif").exists() and not (clips / ".x.gif").exists()
    r = client.put("/api/clips/up.gif", content=a.read_bytes(), headers=admin)
    assert r.status_code == 200 and Path(r.json()["path"]).parent == clips.resolve()


def test_cli_adds_annotators_with_working_links(tmp_path: Path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    add_web_commands(parser.add_subparsers(dest="cmd", required=True))
    db = str(tmp_path / "s.db")
    args = parser.parse_args(["annotators", "add", "dr_lee", "--attr", "expertise=doctor",
                              "--store", db])
    assert args.func(args) == 0
    link = capsys.readouterr().out.strip().splitlines()[-1]
    store = FeedbackStore(db)
    assert store.annotator("dr_lee").attributes == {"expertise": "doctor"}
    client = TestClient(create_app(store))
    assert client.get(link.replace("http://127.0.0.1:8000", ""),
                      follow_redirects=False).status_code == 303
    from rlhf_env.cli import main  # errors are turned into one line (and a status) by main

    assert main(["annotators", "add", "x", "--attr", "oops", "--store", db]) == 2  # usage
    assert "KEY=VALUE" in capsys.readouterr().err


def test_ids_beyond_sqlite_and_non_integer_ids_are_422_not_500(env):
    """item_id 2**70 was an OverflowError (500); ``true`` and ``"1"`` answered item 1."""
    client, store, ids, tok = env
    first = ids["comparison"]
    for item_id in (2**70, True, str(first), 1.5, None):
        body = {"item_id": item_id, "choice": "left", "duration_s": 1.0}
        for path in ("/api/answer", "/api/skip", "/api/undo"):
            r = client.post(path, json=body if path == "/api/answer" else {"item_id": item_id},
                            headers=bearer(tok["alice"]))
            assert r.status_code == 422, (path, item_id, r.text)
    for query in ("prefer=99999999999999999999999", "exclude=99999999999999999999999"):
        assert client.get(f"/api/next?{query}", headers=bearer(tok["alice"])
                          ).status_code in (400, 422)
    for query in ("answers?cursor=99999999999999999999999", "queue/items?after=" + "9" * 25):
        assert client.get(f"/api/{query}", headers=bearer(tok["admin"])).status_code == 422
    assert client.get("/api/clips/" + "9" * 25 + "/0", headers=bearer(tok["alice"])
                      ).status_code == 404
    assert store.count() == 0


@pytest.mark.parametrize("raw", [
    b'{"item_id": 3, "score": NaN, "duration_s": 1}',
    b'{"item_id": 3, "score": 3, "duration_s": Infinity}',
    b'{"item_id": 3, "score": "4", "duration_s": 1}',
    b'{"item_id": 3, "score": true, "duration_s": 1}',
    b'{"item_id": 2, "groups": [[true, 0, 2]], "duration_s": 1}',
])
def test_nan_strings_and_bools_in_answers_are_422_with_a_json_body(env, raw):
    """NaN was accepted by the parser and then broke the 422 response itself (500)."""
    client, store, _ids, tok = env
    r = client.post("/api/answer", content=raw, headers={**bearer(tok["alice"]),
                                                          "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "body"
    assert store.count() == 0


@pytest.mark.parametrize("field", ['"priority": NaN', '"priority": Infinity',
                                   '"scale": [1, Infinity]', '"scale": [NaN, 5]'])
def test_pushed_items_with_nan_are_refused(env, field):
    client, store, _ids, tok = env
    kind = '"rating", "responses": ["a"]' if "scale" in field else '"comparison", ' \
                                                                    '"responses": ["a", "b"]'
    raw = f'{{"items": [{{"kind": {kind}, "prompt": "p", {field}}}]}}'.encode()
    before = len(store.queue_items())
    r = client.post("/api/queue", content=raw, headers={**bearer(tok["admin"]),
                                                         "content-type": "application/json"})
    assert r.status_code == 422 and "finite" in r.text
    assert len(store.queue_items()) == before


def test_items_cannot_be_reserved_for_an_unknown_annotator(env):
    client, store, _ids, tok = env
    before = len(store.queue_items())
    item = {"kind": "comparison", "prompt": "p", "responses": ["a", "b"]}
    r = client.post("/api/queue", json={"items": [{**item, "annotator": "alcie"}]},
                    headers=bearer(tok["admin"]))
    assert r.status_code == 400 and "alcie" in r.text and "annotators add" in r.text
    assert len(store.queue_items()) == before
    r = client.post("/api/queue", json={"items": [{**item, "annotator": "alice"}]},
                    headers=bearer(tok["admin"]))
    assert r.status_code == 200  # alice holds a token
