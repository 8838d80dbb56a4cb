"""An annotator in a real browser: Debian's Chromium (headless), driven by Playwright.

Log in with the link, label a text pair with the keyboard, rank three responses, edit a
correction, compare two clips played in sync, undo one answer; then the store holds exactly
those records, by that annotator, with their times. Untrusted response HTML must render
as text. Screenshots go to ``$RLHF_ENV_SCREENSHOTS`` when set (``docs/web`` for the docs).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from rlhf_env.control.clips import write_clip
from rlhf_env.feedback.store import FeedbackStore

from .conftest import EVIL

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is missing: run scripts/setup.sh")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def clips(folder: Path) -> list[str]:
    frames = np.zeros((12, 60, 90, 3), dtype=np.uint8)
    for i in range(12):
        frames[i, 20:40, 5 + 6 * i: 15 + 6 * i] = (40, 120, 230)  # a block moving right
    other = frames[:, :, ::-1].copy()
    return [str(write_clip(frames, folder / "seg-a.gif", fps=8)),
            str(write_clip(other, folder / "seg-b.gif", fps=8))]


def make_store(tmp: Path) -> tuple[Path, dict[str, int], str, str]:
    db = tmp / "people.db"
    s = FeedbackStore(db)
    ids = {
        "pair": s.enqueue("comparison", "Greet the user.", [EVIL, "Hello! How can I help?"],
                          priority=10),
        "rank": s.enqueue("ranking", "Name a fruit.", ["Apple", "Rock", "Banana"], priority=9),
        "fix": s.enqueue("correction", "Spell it right.", ["The cat sat on teh mat."],
                         priority=8),
        "clips": s.enqueue("comparison", "Which cart keeps the pole up longer?",
                           clips(tmp / "clips"), task="cartpole", priority=7),
        "rate": s.enqueue("rating", "Be kind.", ["You are doing great."], scale=(1, 7),
                          priority=6),
        "demo": s.enqueue("demonstration", "Write a haiku about rain.", [], priority=5),
    }
    alice = s.issue_token("alice")
    admin = s.issue_token("root", "admin")
    s.close()
    return db, ids, alice, admin


def shoot(page, tmp: Path, name: str) -> None:
    path = tmp / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    out = os.environ.get("RLHF_ENV_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(out) / path.name)


def wait_item(page, item_id: int) -> None:
    page.wait_for_selector(f'#slot article.item[data-item-id="{item_id}"]', timeout=10_000)


def test_an_annotator_labels_in_a_real_browser(tmp_path, server_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    db, ids, alice, admin = make_store(tmp_path)
    srv = server_factory(db)
    (tmp_path / "shots").mkdir()
    shots = tmp_path / "shots"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            order = run_annotator(page, srv.url, alice, ids, shots)
            admin_page = browser.new_page(viewport={"width": 1280, "height": 900})
            admin_page.goto(f"{srv.url}/login?token={admin}")
            admin_page.wait_for_selector("main.admin")
            assert "alice" in admin_page.inner_text("table.annotators")
            shoot(admin_page, shots, "dashboard")
            admin_page.goto(f"{srv.url}/api/docs")
            shoot(admin_page, shots, "api-docs")
        finally:
            browser.close()
    check_records(db, ids, order)


def run_annotator(page, url: str, token: str, ids: dict[str, int], shots: Path) -> list[str]:
    page.goto(f"{url}/login?token={token}")
    assert page.url.endswith("/label")
    wait_item(page, ids["pair"])
    # untrusted HTML shows as text and runs nothing
    assert EVIL in page.inner_text("#slot")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#slot img").count() == 0
    shoot(page, shots, "comparison")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")

    wait_item(page, ids["rank"])
    page.keyboard.press("Shift+ArrowDown")  # the top response moves down one
    last = page.locator(".rank-entry").nth(2)
    last.drag_to(page.locator(".rank-entry").nth(0))  # and the bottom one to the top
    order = page.locator(".rank-entry pre").all_inner_texts()
    shoot(page, shots, "ranking")
    page.keyboard.press("Enter")

    wait_item(page, ids["fix"])
    page.keyboard.press("e")
    page.keyboard.press("Control+a")
    page.keyboard.type("The cat sat on the mat.")
    assert page.inner_text(".diff ins") == "the" and page.inner_text(".diff del") == "teh"
    shoot(page, shots, "correction")
    page.keyboard.press("Control+Enter")

    wait_item(page, ids["clips"])
    page.wait_for_function("document.querySelectorAll('.clip canvas').length === 2")
    page.select_option("[data-act=speed]", "2")
    page.wait_for_timeout(400)
    page.keyboard.press("p")  # pause both
    t1 = page.inner_text("[data-act=time]")
    page.wait_for_timeout(300)
    assert page.inner_text("[data-act=time]") == t1  # paused: the shared clock stands still
    page.locator("[data-act=scrub]").focus()
    page.keyboard.press("Home")  # scrub both clips back to the start
    page.wait_for_function("document.querySelector('[data-act=time]').textContent === '0.00 s'")
    page.keyboard.press("End")
    page.wait_for_function("parseFloat(document.querySelector('[data-act=time]').textContent) > 1")
    shoot(page, shots, "clips")
    page.keyboard.press("1")
    page.keyboard.press("Enter")

    wait_item(page, ids["rate"])
    page.keyboard.press("6")
    shoot(page, shots, "rating")
    page.keyboard.press("z")  # undo the clip answer: that item comes back
    wait_item(page, ids["clips"])
    assert page.inner_text("#session-count") == "3"
    return order


def check_records(db: Path, ids: dict[str, int], order: list[str]) -> None:
    store = FeedbackStore(db)
    records = store.records()
    assert [r.metadata["queue_item"] for r in records] == [ids["pair"], ids["rank"], ids["fix"]]
    assert {r.annotator for r in records} == {"alice"}
    assert all(r.duration_s is not None and 0 < r.duration_s < 120 for r in records)
    pair, rank, fix = records
    shown = pair.metadata["shown_order"]
    assert pair.chosen == (EVIL, "Hello! How can I help?")[shown[1]]  # → picked the right side
    assert list(rank.responses) == order and len(order) == 3
    assert fix.edited == "The cat sat on the mat."
    assert store.count(include_retracted=True) == 4  # the undone clip answer stays in history
    assert store.queue_status()["answers"] == 3


def test_an_annotator_corrects_a_control_episode_in_a_real_browser(tmp_path, server_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    from rlhf_env.control.queue_corrector import QueueCorrector

    db = tmp_path / "people.db"
    store = FeedbackStore(db)
    QueueCorrector(store, "RLHF-CartPole-v0", horizon=20, max_actions=3, timeout=0.0
                   ).correct(lambda obs: 1, 1, seeds=[0])  # always right: the pole falls
    [item] = store.queue_items()
    token = store.issue_token("alice")
    store.close()
    srv = server_factory(db)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(f"{srv.url}/login?token={token}")
            wait_item(page, item.item_id)
            page.wait_for_function("document.querySelectorAll('.clip canvas').length === 1")
            for _ in range(4):
                page.keyboard.press("]")  # step 0 → 4
            assert page.inner_text("[data-act=step-out]") == "4"
            assert page.inner_text("[data-act=did]") == "right, right, right"
            page.keyboard.press("2")  # what the agent did: the server refuses it
            page.keyboard.press("Enter")
            page.wait_for_function("document.querySelector('#status').textContent"
                                   ".includes('already did right at step 4')")
            page.keyboard.press("Backspace")
            page.keyboard.press("1")
            page.click("[data-action='0']")  # left, by key and by button
            assert page.locator(".chosen-actions li").all_inner_texts() == ["left", "left"]
            shoot(page, tmp_path, "control-correction")
            page.keyboard.press("Enter")
            page.wait_for_selector("#slot .done, #slot [data-done]", timeout=10_000)
        finally:
            browser.close()
    [record] = FeedbackStore(db).records("control_correction")
    assert (record.step, record.corrected_actions, record.annotator) == (4, (0, 0), "alice")
    assert 0 < record.duration_s < 120
