"""The terminal labeler behind ``rlhf-env label STORE``.

It shows the next item of the store's labeling queue that this annotator has not answered
yet, takes the answer from single keys, saves it at once (one transaction per answer, via
:meth:`~rlhf_env.feedback.store.FeedbackStore.complete`) and moves on. Quitting at any point
loses nothing: the next run starts at the first unanswered item.

Keys (``?`` prints them again):

==============  ============================================================
comparison      ``1`` first response better, ``2`` second better, ``t`` tie;
                for clips (responses that are files): ``1``/``a`` clip A,
                ``2``/``b`` clip B, ``o`` open both in the system viewer
rating          a digit on small integer scales (e.g. ``1``–``7``), else type a
                number and Enter
ranking         type the response numbers best first and Enter, ``=`` for ties
                (``2 1=3``: 2 best, 1 and 3 tied)
correction      ``e`` then type the edited response on one line
demonstration   ``w`` then type your response on one line
control         type the step where the agent went wrong (``o`` opens the
correction      clip), then the corrective actions: names or indices
                (``left right``), or numbers in the bounds; ``b`` back
every item      ``s`` skip (not asked again), ``q`` quit
==============  ============================================================

Input and output are plain text: on a terminal single keys are read in cbreak mode (no
Enter needed); from a pipe each key is the first character of a line. Nothing is
full-screen, so it works over ssh, in ``script`` logs and under ``pexpect``.

Clip comparisons (the control tasks queue video clips of two trajectory segments) are shown
as clip A and clip B with a one-line summary of each and, when the item has one, the path of
a side-by-side strip (both clips in one GIF, A left, B right) for viewers that play one file
at a time. ``o`` (or ``--open-clips``, for every item) opens the two clips in the system
viewer: ``xdg-open`` on Linux, ``open`` on macOS, ``start`` on Windows. Control
corrections (one clip of the agent's episode) are asked by
:mod:`~rlhf_env.feedback.terminal_control`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback import terminal_control
from rlhf_env.feedback.records import FeedbackRecord
from rlhf_env.feedback.store import FeedbackStore, QueueItem

QUIT, SKIP, OPEN = "q", "s", "o"
CLIP_QUESTION = ("Which clip is better? [1] A  [2] B  [t] tie  [o] open the clips  [s] skip  "
                 "[q] quit")
"""The question of a clip comparison (the text one is ``Which is better?``)."""


def system_opener() -> Callable[[str], None] | None:
    """A function that opens a file in the system's viewer (``None``: no viewer found)."""
    startfile = getattr(os, "startfile", None)  # Windows' `start`
    if startfile is not None:
        return startfile
    exe = shutil.which("open" if sys.platform == "darwin" else "xdg-open")
    if exe is None:
        return None

    def open_file(path: str) -> None:
        subprocess.Popen([exe, path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)

    return open_file


class _Quit(Exception):
    """The annotator asked to stop."""


class KeyReader:
    """Reads single keys (cbreak mode on a terminal) and whole lines from one input."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.fd: int | None = None
        try:
            import termios  # noqa: F401  (POSIX only)

            if stream.isatty():
                self.fd = stream.fileno()
        except (ImportError, AttributeError, OSError, ValueError):
            self.fd = None

    def key(self) -> str:
        """One key press (``"q"`` at end of input or on Ctrl-D)."""
        if self.fd is None:
            line = self.stream.readline()
            return (line.strip()[:1] or "\n") if line else QUIT
        import termios
        import tty

        old = termios.tcgetattr(self.fd)
        try:
            tty.setcbreak(self.fd)
            ch = os.read(self.fd, 1).decode("utf-8", errors="replace")
        finally:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, old)
        return QUIT if ch in ("", "\x04") else ch

    def line(self) -> str | None:
        """One line of text without its newline (``None`` at end of input)."""
        if self.fd is None:
            line = self.stream.readline()
            return line.rstrip("\r\n") if line else None
        data = b""
        while not data.endswith(b"\n"):
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return data.decode("utf-8", errors="replace") or None
            data += chunk
        return data.decode("utf-8", errors="replace").rstrip("\r\n")


@dataclass
class SessionStats:
    """What one labeling session did."""

    answered: int = 0
    skipped: int = 0
    finished: bool = False
    """True when the queue ran out (False when the annotator quit)."""


class TerminalLabeler:
    """Label queue items in a plain terminal (see the module docstring for the keys).

    Args:
        store: the feedback store whose queue to work through.
        annotator: id written into every answer.
        task: only items of this task (``None``: all).
        stdin/stdout: streams (default: the process's).
        clock: seconds clock for ``duration_s`` (injectable for tests).
        follow: when the queue runs out, poll it every ``follow`` seconds for new items
            instead of stopping (``None``: stop), e.g. while a preference-learning loop
            queues each round's clips; Ctrl-C ends the session.
        idle_timeout: with ``follow``, stop after this many seconds without a new item
            (``None``: wait until interrupted).
        sleep: the wait between polls (injectable for tests).
        lease_s: how long an item shown here stays reserved for this annotator (the same
            :meth:`~rlhf_env.feedback.store.FeedbackStore.claim` leases as the web app;
            quitting gives the item back at once).
        open_clips: open the two clips of every clip comparison in the system viewer as it
            is shown (the ``o`` key does it for one item).
        opener: opens one file (default: :func:`system_opener`; ``None`` found: the paths
            are only printed).
    """

    def __init__(
        self,
        store: FeedbackStore,
        annotator: str,
        *,
        task: str | None = None,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        follow: float | None = None,
        idle_timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        lease_s: float = 1800.0,
        open_clips: bool = False,
        opener: Callable[[str], None] | None = None,
    ) -> None:
        if not annotator.strip():
            raise FeedbackError("the annotator id is empty; pass --annotator YOUR_ID.")
        if follow is not None and not follow > 0:
            raise FeedbackError(f"follow must be a poll interval > 0 seconds, got {follow}.")
        self.follow, self.idle_timeout, self.sleep = follow, idle_timeout, sleep
        self.store = store
        self.annotator = annotator
        self.task = task
        self.keys = KeyReader(stdin or sys.stdin)
        self.out = stdout or sys.stdout
        self.clock = clock
        self.lease_s = lease_s
        self.open_clips = open_clips
        self.opener = opener if opener is not None else system_opener()
        self.session = f"terminal-{secrets.token_hex(4)}"

    def say(self, text: str = "") -> None:
        """Print and flush (so a pipe or pty sees it at once)."""
        self.out.write(text + "\n")
        self.out.flush()

    def run(self) -> SessionStats:
        """Work through pending items until the queue is empty or the annotator quits."""
        stats = SessionStats()
        self.say(f"Labeling as {self.annotator!r}. Keys: ? help, s skip, q quit.")
        try:
            while (item := self._next_item()) is not None:
                self._show(item)
                record = self._ask(item)
                if record is None:
                    self.store.skip(item.item_id, self.annotator)
                    stats.skipped += 1
                    self.say("skipped.")
                else:
                    self.store.complete(item.item_id, record)
                    stats.answered += 1
                    self.say("saved.")
            stats.finished = True
            self.say("No more pending items. Thank you!")
        except (_Quit, KeyboardInterrupt):
            self.say("Stopped; your answers are saved. Run the same command to resume.")
        finally:
            self.store.release(self.annotator, session=self.session)
        self.say(f"answered {stats.answered}, skipped {stats.skipped}.")
        return stats

    def _next_item(self) -> QueueItem | None:
        """The next pending item; with ``follow``, wait for one (``None`` when idle too
        long)."""
        item = self._claim()
        if item is not None or self.follow is None:
            return item
        self.say(f"Queue empty; waiting for new items (checking every {self.follow:g} s, "
                 f"Ctrl-C to stop).")
        start = self.clock()
        while item is None:
            if self.idle_timeout is not None and self.clock() - start >= self.idle_timeout:
                return None
            self.sleep(self.follow)
            item = self._claim()
        return item

    def _claim(self) -> QueueItem | None:
        """Lease the next item (the assignment logic shared with ``rlhf-env serve``)."""
        lease = self.store.claim(self.annotator, task=self.task, session=self.session,
                                 lease_s=self.lease_s, max_leases=1, shuffle=False)
        return None if lease is None else lease.item

    # -- display --------------------------------------------------------------------------
    def _wrap(self, text: str, indent: str = "    ") -> str:
        width = max(40, min(shutil.get_terminal_size((100, 24)).columns, 120)) - len(indent)
        paras = text.splitlines() or [""]
        return "\n".join(
            textwrap.fill(p, width, initial_indent=indent, subsequent_indent=indent) or indent
            for p in paras
        )

    def _show(self, item: QueueItem) -> None:
        left = self.store.pending_count(self.annotator, task=self.task)
        self.say("")
        self.say(f"=== item {item.item_id} · {item.kind} · task {item.task} · {left} left ===")
        self.say("PROMPT:")
        self.say(self._wrap(item.prompt))
        if item.kind == "control_correction":
            terminal_control.show(self, item)
            if self.open_clips:
                self._open(item.responses)
            return
        if _clips(item):
            self._show_clips(item)
            return
        for i, response in enumerate(item.responses, start=1):
            label = "RESPONSE" if len(item.responses) == 1 else f"RESPONSE {i}"
            self.say(f"{label}:")
            self.say(self._wrap(response))

    def _show_clips(self, item: QueueItem) -> None:
        """Clip A and B with their summaries, the side-by-side strip; open them if asked."""
        summaries = item.metadata.get("summaries")
        if not (isinstance(summaries, list) and len(summaries) == 2):
            summaries = [None, None]
        for letter, path, summary in zip("AB", item.responses, summaries, strict=True):
            self.say(f"CLIP {letter}: {path}")
            if summary:
                self.say(self._wrap(str(summary)))
        strip = item.metadata.get("strip")
        if isinstance(strip, str) and Path(strip).is_file():
            self.say(f"SIDE BY SIDE (A left, B right): {strip}")
        if self.open_clips:
            self._open(item.responses)

    def _open(self, paths: Sequence[str]) -> None:
        if self.opener is None:
            self.say("(no system viewer found: neither xdg-open, open nor start; open the "
                     "files above yourself)")
            return
        for path in paths:
            try:
                self.opener(path)
            except OSError as exc:
                self.say(f"(could not open {path}: {exc})")
                return
        self.say("opened clip A and clip B in the system viewer." if len(paths) == 2 else
                 "opened the clip in the system viewer.")

    # -- questions ------------------------------------------------------------------------
    def _ask(self, item: QueueItem) -> FeedbackRecord | None:
        ask = {
            "comparison": self._ask_comparison,
            "rating": self._ask_rating,
            "ranking": self._ask_ranking,
            "correction": self._ask_text,
            "demonstration": self._ask_text,
            "control_correction": lambda i: terminal_control.ask(self, i),
        }[item.kind]
        start = self.clock()
        answer = ask(item)
        if answer is None:
            return None
        return item.answer_record(answer, **self._envelope(self.clock() - start))

    def _envelope(self, seconds: float) -> dict[str, Any]:
        return {
            "annotator": self.annotator,
            "timestamp": time.time(),
            "duration_s": round(max(seconds, 0.0), 3),
        }

    def _choose(self, question: str, choices: dict[str, Any]) -> Any:
        """Ask until one of ``choices`` (or s/q) is pressed; ``None`` means skip."""
        while True:
            self.say(question)
            key = self.keys.key().lower()
            if key == QUIT:
                raise _Quit
            if key == SKIP:
                return None
            if key in choices:
                return choices[key]
            self.say(f"(key {key!r} means nothing here; ? for help)" if key != "?" else __doc__)

    def _ask_comparison(self, item: QueueItem) -> Any:
        choices = {"1": "a", "2": "b", "t": "tie", "a": "a", "b": "b"}
        if not _clips(item):
            return self._choose(
                "Which is better? [1] first  [2] second  [t] tie  [s] skip  [q] quit", choices)
        while True:
            answer = self._choose(CLIP_QUESTION, {**choices, OPEN: OPEN})
            if answer != OPEN:
                return answer
            self._open(item.responses)

    def _ask_rating(self, item: QueueItem) -> Any:
        assert item.scale is not None  # the store validates rating items
        lo, hi = item.scale
        if lo.is_integer() and hi.is_integer() and lo >= 0 and hi <= 9:
            digits = {str(v): float(v) for v in range(int(lo), int(hi) + 1)}
            return self._choose(
                f"Rate it from {int(lo)} (worst) to {int(hi)} (best); [s] skip  [q] quit", digits
            )
        while True:
            text = self._line(f"Type a score in [{lo:g}, {hi:g}] and Enter (s skip, q quit):")
            if text is None:
                return None
            try:
                score = float(text)
            except ValueError:
                self.say(f"({text!r} is not a number)")
                continue
            if lo <= score <= hi:
                return score
            self.say(f"({score:g} is outside [{lo:g}, {hi:g}])")

    def _ask_ranking(self, item: QueueItem) -> Any:
        n = len(item.responses)
        while True:
            text = self._line(
                f"Order the responses best first, e.g. '{' '.join(map(str, range(n, 0, -1)))}'"
                " (= for ties: '2=1 3'), Enter; s skip, q quit:"
            )
            if text is None:
                return None
            try:
                return _parse_order(text, n)
            except ValueError as exc:
                self.say(f"({exc})")

    def _ask_text(self, item: QueueItem) -> Any:
        key, verb = ("e", "edit it") if item.kind == "correction" else ("w", "write a response")
        if self._choose(f"[{key}] {verb}  [s] skip  [q] quit", {key: True}) is None:
            return None
        while True:
            self.say("Type it on one line and press Enter:")
            text = self.keys.line()
            if text is None:
                raise _Quit
            if text.strip() and (item.kind != "correction" or text != item.responses[0]):
                return text
            self.say("(empty or unchanged; type the new text)")

    def _line(self, question: str) -> str | None:
        """A typed line; ``None`` for skip; raises :class:`_Quit` for q."""
        self.say(question)
        text = self.keys.line()
        if text is None or text.strip().lower() == QUIT:
            raise _Quit
        return None if text.strip().lower() == SKIP else text.strip()


def _clips(item: QueueItem) -> bool:
    """Whether ``item`` compares two clips: a comparison whose responses are files here."""
    return item.kind == "comparison" and len(item.responses) == 2 and all(
        len(r) < 4096 and "\n" not in r and Path(r).is_file() for r in item.responses)


def _parse_order(text: str, n: int) -> tuple[tuple[int, ...], ...]:
    """``"2 1=3"`` → ``((1,), (0, 2))`` (0-based groups, best first); checks 1..n once each."""
    groups = [tuple(int(x) - 1 for x in part.split("=")) for part in text.split()]
    flat = sorted(i for g in groups for i in g)
    if flat != list(range(n)):
        raise ValueError(f"use each of the numbers 1 to {n} exactly once")
    return tuple(groups)


__all__ = ["CLIP_QUESTION", "KeyReader", "SessionStats", "TerminalLabeler", "system_opener"]
