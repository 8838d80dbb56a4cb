"""One asker's share of a labeling queue: its items, their answers, and the wait for them.

:class:`~rlhf_env.control.queue_labeler.QueueLabeler` (clip comparisons) and
:class:`~rlhf_env.control.queue_corrector.QueueCorrector` (control corrections) both ask
people through a :class:`~rlhf_env.feedback.store.FeedbackStore` queue, local or on an
``rlhf-env serve`` server (:class:`~rlhf_env.web.client.RemoteQueue`). What they share lives
here, once:

- **where**: :func:`open_queue` takes a store, a store file or a server address, and
  :class:`QueueChannel` picks the clip folder (next to the store file; a temporary one for a
  server, which receives the clips as uploads);
- **whose**: every item carries ``asked_by`` (the asker's name) in its metadata, so an asker
  made again on the same store (after a resume) adopts the items queued before;
- **collect**: the answers to the asker's items of one kind that were not handed out yet,
  each once;
- **wait**: poll until enough answers given since the asker was made are in (items people
  skipped count as settled), or a timeout passes. Unanswered items stay queued.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rlhf_env.control.clips import CLIP_FORMATS
from rlhf_env.errors import ConfigError
from rlhf_env.feedback.records import FeedbackRecord
from rlhf_env.feedback.store import FeedbackStore, QueueItem


def open_queue(store: Any, token: str | None, owner: str = "QueueLabeler") -> Any:
    """A store, a store file, or a server address (→ :class:`RemoteQueue`)."""
    if isinstance(store, str) and store.startswith(("http://", "https://")):
        from rlhf_env.web.client import RemoteQueue

        token = token or os.environ.get("RLHF_ENV_TOKEN")
        if not token:
            raise ConfigError(f"{owner}: a server needs an admin token; pass token= or set "
                              "RLHF_ENV_TOKEN (make one with `rlhf-env annotators admin`).")
        return RemoteQueue(store, token)
    if isinstance(store, (str, Path)):
        return FeedbackStore(store)
    return store


class QueueChannel:
    """The items of one kind that one asker (``name``) queued, and their answers.

    Args:
        store: a :class:`FeedbackStore`, its file, or a server address.
        kind: the queue item kind asked (``"comparison"``, ``"control_correction"``).
        name: written into each item's metadata as ``asked_by``.
        clip_dir: where clips go (``None``: ``clips/`` next to the store file).
        timeout: most seconds one :meth:`wait` lasts (``None``: until answered).
        poll_interval: seconds between two looks at the queue.
        min_answers: new answers that end a wait (``None``: one per item asked).
        clip_format: ``"gif"`` or ``"mp4"``.
        clock: the time function (injectable for tests).
        sleep: the sleep function (injectable for tests).
        token: a server's admin token (default ``$RLHF_ENV_TOKEN``).
        owner: the asker's class name, for error messages.
    """

    def __init__(self, store: Any, kind: str, *, name: str,
                 clip_dir: str | Path | None = None, timeout: float | None = None,
                 poll_interval: float = 1.0, min_answers: int | None = None,
                 clip_format: str = "gif", clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, token: str | None = None,
                 owner: str = "QueueLabeler") -> None:
        self.store: Any = open_queue(store, token, owner)
        if clip_dir is None and self.remote:
            clip_dir = tempfile.mkdtemp(prefix="rlhf-env-clips-")  # uploaded, then served
        if clip_dir is None:
            if self.store.path == ":memory:":
                raise ConfigError(f"{owner}: an in-memory store needs clip_dir=.")
            clip_dir = Path(self.store.path).parent / "clips"
        if clip_format not in CLIP_FORMATS:
            raise ConfigError(f"{owner}: clip_format must be one of {CLIP_FORMATS}, got "
                              f"{clip_format!r}.")
        if (timeout is not None and timeout < 0) or poll_interval <= 0:
            raise ConfigError(f"{owner}: timeout must be >= 0 and poll_interval > 0, "
                              f"got {timeout} and {poll_interval}.")
        if min_answers is not None and min_answers < 0:
            raise ConfigError(f"{owner}: min_answers must be >= 0, got {min_answers}.")
        self.kind, self.name, self.clip_dir = kind, name, Path(clip_dir)
        self.clip_format = clip_format
        self.timeout, self.poll_interval, self.min_answers = timeout, poll_interval, min_answers
        self.clock, self.sleep = clock, sleep
        self.items: set[int] = set()
        self._handed_out: set[str] = set()
        self._since = time.time()

    @property
    def remote(self) -> bool:
        """Whether the queue is a server's."""
        return str(self.store.path).startswith(("http://", "https://"))

    def adopt(self) -> list[QueueItem]:
        """The items of this kind an earlier asker of this name queued (after a resume);
        they become this channel's own."""
        mine = [i for i in self.store.queue_items()
                if i.kind == self.kind and i.metadata.get("asked_by") == self.name]
        self.items.update(i.item_id for i in mine)
        return mine

    def where_to_answer(self) -> str:
        """How people answer, for a notice (the browser, or the terminal labeler)."""
        if self.remote:
            return f"in the browser at {self.store.path}/label"
        return (f"with `rlhf-env label {self.store.path} --annotator YOUR_ID --follow "
                "--open-clips`")

    def collect(self) -> list[FeedbackRecord]:
        """Answers to this channel's items not handed out before, in the order given."""
        out = []
        for rec in self.store.iter(self.kind):
            if rec.metadata.get("queue_item") in self.items and \
                    rec.content_hash not in self._handed_out:
                self._handed_out.add(rec.content_hash)
                out.append(rec)
        return out

    def wait(self, asked: int, collect: Callable[[], list[Any]]) -> list[Any]:
        """``collect()`` until ``min_answers`` (default: ``asked``) answers given since this
        channel was made are in, less the skips meanwhile, or ``timeout`` seconds passed;
        returns everything collected."""
        wanted = asked if self.min_answers is None else self.min_answers
        skips_before = self.store.queue_status()["skips"]
        answers = collect()
        deadline = None if self.timeout is None else self.clock() + self.timeout
        while self._fresh(answers) < wanted - (self.store.queue_status()["skips"]
                                                - skips_before):
            if deadline is not None and self.clock() >= deadline:
                break
            wait = self.poll_interval if deadline is None else \
                min(self.poll_interval, max(deadline - self.clock(), 0.0))
            self.sleep(wait)
            answers += collect()
        return answers

    def _fresh(self, answers: Sequence[FeedbackRecord]) -> int:
        """Answers given since this channel was made: older ones, handed in after a resume,
        may be held by the loop already, so they do not end a wait."""
        return sum(r.timestamp >= self._since for r in answers)

    def open_items(self, labels_wanted: int) -> int:
        """This channel's items that still want an answer from someone."""
        answered: dict[int, int] = {}
        for rec in self.store.iter(self.kind):
            item = rec.metadata.get("queue_item")
            if item in self.items:
                answered[item] = answered.get(item, 0) + 1
        return sum(1 for i in self.items if answered.get(i, 0) < labels_wanted)


__all__ = ["QueueChannel", "open_queue"]
