"""The terminal labeler, driven as a real program in a pseudo-terminal (pexpect)."""

from __future__ import annotations

import io
import sys

import pytest

from rlhf_env.feedback.records import Comparison, Correction, Ranking, Rating
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.feedback.terminal import TerminalLabeler, _parse_order

pexpect = pytest.importorskip("pexpect")


def make_queue(path) -> list[int]:
    with FeedbackStore(path) as s:
        return [
            s.enqueue("comparison", "Say hi", ["Hello!", "Go away."], task="t"),
            s.enqueue("comparison", "Say bye", ["Bye now.", "Whatever."], task="t"),
            s.enqueue("rating", "Say hi", ["Hello!"], scale=(1, 7), task="t"),
            s.enqueue("comparison", "Thank me", ["Thanks!", "No."], task="t"),
            s.enqueue("ranking", "Greet", ["Hi", "Yo", "Hey"], task="t"),
            s.enqueue("correction", "Greet", ["Go away."], task="t"),
        ]


def spawn(path, annotator="alice"):
    child = pexpect.spawn(
        sys.executable,
        ["-m", "rlhf_env.feedback.cli", "label", str(path), "--annotator", annotator],
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 100),
    )
    child.expect("Labeling as 'alice'")
    return child


def test_label_quit_resume_in_a_real_terminal(tmp_path):
    path = tmp_path / "fb.sqlite"
    ids = make_queue(path)

    child = spawn(path)
    child.expect("Say hi")
    child.expect(r"Which is better\?")
    child.send("2")  # a single key, no Enter: the terminal is in cbreak mode
    child.expect("saved.")
    child.expect("Say bye")
    child.expect(r"Which is better\?")
    child.send("s")
    child.expect("skipped.")
    child.expect("Rate it from 1")
    child.send("9")  # not on the scale: asked again
    child.expect("means nothing here")
    child.send("6")
    child.expect("saved.")
    child.expect("Thank me")
    child.expect(r"Which is better\?")
    child.send("q")
    child.expect("answered 2, skipped 1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    with FeedbackStore(path) as s:
        answers = s.records()
        assert [type(r) for r in answers] == [Comparison, Rating]
        assert answers[0].preference == "b" and answers[0].annotator == "alice"
        assert answers[1].score == 6.0 and answers[1].metadata["queue_item"] == ids[2]
        assert answers[0].duration_s is not None and answers[0].duration_s >= 0

    child = spawn(path)  # resumes at the first unanswered item, not the skipped one
    child.expect("=== item 4 · comparison")
    child.expect(r"Which is better\?")
    child.send("t")
    child.expect("saved.")
    child.expect("Greet")
    child.expect("Order the responses")
    child.sendline("3 1=2")
    child.expect("saved.")
    child.expect(r"\[e\] edit it")
    child.send("e")
    child.expect("Type it on one line")
    child.sendline("Hello, welcome!")
    child.expect("No more pending items")
    child.expect(pexpect.EOF)
    child.close()

    with FeedbackStore(path) as s:
        tie, ranking, correction = s.records()[2:]
        assert tie.preference == "tie"
        assert ranking.groups == (("Hey",), ("Hi", "Yo"))
        assert correction == Correction(
            "Greet", "Go away.", "Hello, welcome!", **_envelope(correction)
        )
        assert s.next_pending("alice") is None
        assert s.next_pending("bob") is not None  # others still get the items


def _envelope(r):
    return {
        "annotator": r.annotator,
        "task": r.task,
        "timestamp": r.timestamp,
        "duration_s": r.duration_s,
        "metadata": r.metadata,
    }


def test_piped_input_and_injected_clock(tmp_path):
    store = FeedbackStore(":memory:")
    store.enqueue("rating", "p", ["r"], scale=(0, 100))
    store.enqueue("ranking", "p", ["x", "y"])
    ticks = iter(range(100))
    out = io.StringIO()
    stats = TerminalLabeler(
        store,
        "bob",
        stdin=io.StringIO("150\n42.5\n1 1\n2 1\n"),
        stdout=out,
        clock=lambda: float(next(ticks)),
    ).run()
    assert (stats.answered, stats.skipped, stats.finished) == (2, 0, True)
    text = out.getvalue()
    assert "(150 is outside [0, 100])" in text
    assert "use each of the numbers 1 to 2 exactly once" in text
    rating, ranking = store.records()
    assert isinstance(rating, Rating) and rating.score == 42.5 and rating.duration_s == 1.0
    assert isinstance(ranking, Ranking) and ranking.responses == ("y", "x")


def test_end_of_input_quits_cleanly():
    store = FeedbackStore(":memory:")
    store.enqueue("comparison", "p", ["x", "y"])
    stats = TerminalLabeler(store, "c", stdin=io.StringIO(""), stdout=io.StringIO()).run()
    assert (stats.answered, stats.finished) == (0, False)
    assert store.next_pending("c") is not None


def test_parse_order():
    assert _parse_order("2 1=3", 3) == ((1,), (0, 2))
    with pytest.raises(ValueError, match="exactly once"):
        _parse_order("1 2", 3)


def test_follow_waits_for_items_queued_later_then_idles_out():
    store = FeedbackStore(":memory:")
    store.enqueue("comparison", "first", ["a", "b"])
    now = [0.0]
    naps: list[float] = []

    def sleep(seconds: float) -> None:  # the loop queues round 2 while the person waits
        naps.append(seconds)
        now[0] += seconds
        if len(naps) == 3:
            store.enqueue("comparison", "second", ["c", "d"])

    out = io.StringIO()
    stats = TerminalLabeler(store, "eve", stdin=io.StringIO("1\n2\n"), stdout=out,
                            clock=lambda: now[0], follow=0.5, idle_timeout=4.0,
                            sleep=sleep).run()
    assert (stats.answered, stats.finished) == (2, True)
    assert [r.chosen for r in store.records()] == ["a", "d"]
    assert naps[:3] == [0.5, 0.5, 0.5]
    assert len(naps) == 3 + 8  # then 4 s of empty polls at 0.5 s before giving up
    assert out.getvalue().count("waiting for new items") == 2


def test_follow_rejects_a_non_positive_interval():
    with pytest.raises(Exception, match="poll interval > 0"):
        TerminalLabeler(FeedbackStore(":memory:"), "eve", follow=0)


def test_follow_in_a_real_terminal_picks_up_new_items(tmp_path):
    path = tmp_path / "fb.sqlite"
    with FeedbackStore(path) as s:
        s.enqueue("comparison", "Round one", ["Yes.", "No."])
    child = pexpect.spawn(sys.executable, ["-m", "rlhf_env.feedback.cli", "label", str(path),
                                           "--annotator", "zoe", "--follow", "0.05",
                                           "--idle-timeout", "20"],
                          encoding="utf-8", timeout=30, dimensions=(40, 100))
    child.expect("Round one")
    child.expect(r"Which is better\?")
    child.send("1")
    child.expect("saved.")
    child.expect("waiting for new items")
    with FeedbackStore(path) as s:  # another process queues the next round
        s.enqueue("comparison", "Round two", ["Maybe.", "Sure."])
    child.expect("Round two")
    child.expect(r"Which is better\?")
    child.send("2")
    child.expect("saved.")
    child.expect("waiting for new items")
    child.sendintr()
    child.expect("your answers are saved")
    child.expect(pexpect.EOF)
    with FeedbackStore(path) as s:
        assert [(r.prompt, r.chosen) for r in s.records()] == [("Round one", "Yes."),
                                                              ("Round two", "Sure.")]
