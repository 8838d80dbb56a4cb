"""The terminal labeler on clip comparisons: clip A and B with summaries, the side-by-side
strip, the o key and --open-clips opening both clips in the system viewer."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rlhf_env.feedback.records import Comparison
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.feedback.terminal import CLIP_QUESTION, TerminalLabeler


def clip_item(tmp_path: Path, strip: bool = True) -> tuple[FeedbackStore, list[str], str]:
    paths = []
    for name, shade in (("a", 40), ("b", 200)):
        path = tmp_path / f"{name}.gif"
        Image.fromarray(np.full((8, 8, 3), shade, dtype=np.uint8)).save(path)
        paths.append(str(path))
    strip_path = tmp_path / "a-vs-b.gif"
    Image.fromarray(np.zeros((8, 16, 3), dtype=np.uint8)).save(strip_path)
    store = FeedbackStore(tmp_path / "fb.sqlite")
    metadata = {"summaries": ["15 steps, no fall", "15 steps, falls at step 4 and stays down "
                              "(12 of 15 steps)"]}
    if strip:
        metadata["strip"] = str(strip_path)
    store.enqueue("comparison", "Which clip shows better behaviour?", paths, task="cartpole",
                  metadata=metadata)
    return store, paths, str(strip_path)


def run(store: FeedbackStore, keys: str, **kwargs) -> str:
    out = io.StringIO()
    TerminalLabeler(store, "alice", stdin=io.StringIO(keys), stdout=out, **kwargs).run()
    return out.getvalue()


def test_clips_are_shown_as_a_and_b_with_summaries_and_the_strip(tmp_path: Path) -> None:
    store, paths, strip = clip_item(tmp_path)
    out = run(store, "2\n", opener=lambda path: None)
    assert f"CLIP A: {paths[0]}\n    15 steps, no fall\n" in out
    assert f"CLIP B: {paths[1]}\n    15 steps, falls at step 4 and stays down" in out
    assert f"SIDE BY SIDE (A left, B right): {strip}" in out
    assert CLIP_QUESTION in out and "[o] open the clips" in CLIP_QUESTION
    assert "Which is better?" not in out and "RESPONSE" not in out
    record = store.records()[0]
    assert isinstance(record, Comparison) and record.chosen == paths[1]


def test_the_o_key_opens_both_clips_then_the_answer_is_taken(tmp_path: Path) -> None:
    store, paths, _ = clip_item(tmp_path)
    opened: list[str] = []
    out = run(store, "o\na\n", opener=opened.append)
    assert opened == paths
    assert "opened clip A and clip B in the system viewer." in out
    assert out.count(CLIP_QUESTION) == 2  # asked again after opening
    assert store.records()[0].chosen == paths[0]


def test_open_clips_opens_every_item_as_it_is_shown(tmp_path: Path) -> None:
    store, paths, _ = clip_item(tmp_path, strip=False)
    opened: list[str] = []
    out = run(store, "t\n", open_clips=True, opener=opened.append)
    assert opened == paths and "SIDE BY SIDE" not in out  # no strip in this item


def test_without_a_viewer_it_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rlhf_env.feedback.terminal.system_opener", lambda: None)
    store, _, _ = clip_item(tmp_path)
    out = run(store, "o\n1\n")
    assert "no system viewer found" in out and "open the files above yourself" in out


def test_text_comparisons_keep_the_text_question(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    store.enqueue("comparison", "Say hi", ["Hello!", "Go away."], task="t")
    out = run(store, "o\n1\n", opener=lambda path: pytest.fail("nothing to open"))
    assert "Which is better? [1] first  [2] second" in out and "CLIP A" not in out
    assert "(key 'o' means nothing here" in out


def test_the_cli_takes_open_clips() -> None:
    import argparse

    from rlhf_env.feedback.cli import add_feedback_commands

    parser = argparse.ArgumentParser()
    add_feedback_commands(parser.add_subparsers())
    assert parser.parse_args(["label", "s.sqlite", "--open-clips"]).open_clips is True
    assert parser.parse_args(["label", "s.sqlite"]).open_clips is False
