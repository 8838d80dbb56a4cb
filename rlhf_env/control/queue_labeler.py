"""People as the labeler of the online loop, through the feedback store's queue.

:class:`QueueLabeler` has the labeler interface of the loop (``label(queries) -> records``,
like :class:`~rlhf_env.control.labeling.SegmentLabeler`), but the answers come from people:

1. **enqueue**: each query's two segments become clips (GIF or MP4, see
   :mod:`~rlhf_env.control.clips`) and one ``comparison`` item in the
   :class:`~rlhf_env.feedback.store.FeedbackStore` queue. A pair already queued is not
   queued again, nor one that looks the same as a queued pair, nor one that teaches nothing
   (:func:`~rlhf_env.control.labeling.pair_problem`: two identical-looking segments, or
   two wholly in the failure state);
2. **wait**: the store is polled every ``poll_interval`` seconds until ``min_answers`` new
   answers are in (by default one per query of the round; items people skipped count as
   settled), or ``timeout`` seconds have passed;
3. **collect**: every answer to this labeler's items that was not handed out before is
   returned, whichever round asked for it. Unanswered items stay queued; their answers
   come with a later round. Nothing is answered twice over and nothing is lost.

People answer in another terminal with ``rlhf-env label STORE --annotator ID --follow
--open-clips`` (``--follow`` keeps it waiting for the next round's clips instead of stopping
when the queue is empty; ``--open-clips`` opens each pair of clips in the system viewer). The
records are the ones the store keeps, with the annotator's id, ``duration_s`` and the
``queue_item`` they answer; their responses are the clip paths, which the
:class:`~rlhf_env.control.segments.SegmentBank` resolves by file name.

After :meth:`PreferenceLearningLoop.resume <rlhf_env.control.loop.PreferenceLearningLoop.
resume>` a new labeler on the same store finds the earlier items again (by their
``asked_by`` name) and hands in their answers; the loop drops the ones it already holds.
Items whose segments the bank does not hold (another run in the same store) are ignored.

**Remote**: pass the address of an ``rlhf-env serve`` server instead of a store
(``QueueLabeler("http://host:8000", bank, token=ADMIN_TOKEN)``, or ``$RLHF_ENV_TOKEN``): the
clips are uploaded, the items pushed and the answers pulled through its REST API
(:class:`~rlhf_env.web.client.RemoteQueue`), and people answer in their browsers.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rlhf_env.control.clips import CLIP_FORMATS, enqueue_segment_pairs
from rlhf_env.control.labeling import pair_key, pair_problem
from rlhf_env.control.segments import SegmentBank, segment_id_from_ref
from rlhf_env.errors import ConfigError
from rlhf_env.feedback.learning.labelers import ComparisonQuery
from rlhf_env.feedback.records import Comparison
from rlhf_env.feedback.store import FeedbackStore


def _open_queue(store: Any, token: str | None) -> Any:
    """A store, a store file, or a server address (→ :class:`RemoteQueue`)."""
    if isinstance(store, str) and store.startswith(("http://", "https://")):
        from rlhf_env.web.client import RemoteQueue

        token = token or os.environ.get("RLHF_ENV_TOKEN")
        if not token:
            raise ConfigError("QueueLabeler: a server needs an admin token; pass token= or set "
                              "RLHF_ENV_TOKEN (make one with `rlhf-env annotators admin`).")
        return RemoteQueue(store, token)
    if isinstance(store, (str, Path)):
        return FeedbackStore(store)
    return store


class QueueLabeler:
    """Ask people through a store's labeling queue and wait for their answers.

    Args:
        store: a :class:`FeedbackStore` or the path of its SQLite file.
        bank: the loop's segment bank (``lambda bank: QueueLabeler(store, bank)`` lets the
            loop pass its own).
        clip_dir: where clips are written (default: ``clips/`` next to the store file).
        timeout: most seconds one :meth:`label` call waits (``None``: until
            ``min_answers`` answers are in).
        poll_interval: seconds between two looks at the store.
        min_answers: new answers that end the wait (``None``: one per query asked).
        clip_format: ``"gif"`` or ``"mp4"``.
        fps: clip frame rate.
        labels_wanted: annotators who should answer each item.
        priority: queue priority of the items (higher first).
        name: written into each item's metadata as ``asked_by``, to find them again.
        notify: called with a line for people whenever clips are queued (e.g. ``print``).
        clock: the time function (injectable for tests).
        sleep: the sleep function (injectable for tests).
        token: the admin token of a remote server (default ``$RLHF_ENV_TOKEN``).
    """

    def __init__(self, store: FeedbackStore | str | Path, bank: SegmentBank,
                 clip_dir: str | Path | None = None, *, timeout: float | None = None,
                 poll_interval: float = 1.0, min_answers: int | None = None,
                 clip_format: str = "gif", fps: int = 30, labels_wanted: int = 1,
                 priority: float = 0.0, name: str = "prefs-loop",
                 notify: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, token: str | None = None) -> None:
        self.store: Any = _open_queue(store, token)
        if clip_dir is None and self.store.path.startswith(("http://", "https://")):
            clip_dir = tempfile.mkdtemp(prefix="rlhf-env-clips-")  # uploaded, then served
        if clip_dir is None:
            if self.store.path == ":memory:":
                raise ConfigError("QueueLabeler: an in-memory store needs clip_dir=.")
            clip_dir = Path(self.store.path).parent / "clips"
        if clip_format not in CLIP_FORMATS:
            raise ConfigError(f"QueueLabeler: clip_format must be one of {CLIP_FORMATS}, got "
                              f"{clip_format!r}.")
        if (timeout is not None and timeout < 0) or poll_interval <= 0:
            raise ConfigError(f"QueueLabeler: timeout must be >= 0 and poll_interval > 0, "
                              f"got {timeout} and {poll_interval}.")
        if min_answers is not None and min_answers < 0:
            raise ConfigError(f"QueueLabeler: min_answers must be >= 0, got {min_answers}.")
        self.bank, self.clip_dir = bank, Path(clip_dir)
        self.timeout, self.poll_interval, self.min_answers = timeout, poll_interval, min_answers
        self.clip_format, self.fps = clip_format, fps
        self.labels_wanted, self.priority, self.name = labels_wanted, priority, name
        self.notify, self.clock, self.sleep = notify, clock, sleep
        self._items: set[int] = set()
        self._pairs: dict[frozenset[str], int] = {}
        self._views: set[frozenset[str]] = set()
        self._handed_out: set[str] = set()
        self._since = time.time()
        self._adopt_queued_items()

    def _adopt_queued_items(self) -> None:
        """Take over the items an earlier labeler of this name queued (after a resume)."""
        for item in self.store.queue_items():
            if item.metadata.get("asked_by") == self.name:
                self._items.add(item.item_id)
                refs = item.metadata.get("segments", [])
                self._pairs[frozenset(segment_id_from_ref(r) for r in refs)] = item.item_id

    # -- the labeler interface ----------------------------------------------------------------
    def label(self, queries: Sequence[ComparisonQuery]) -> list[Comparison]:
        """Queue ``queries``, wait for answers (see the class docstring), return them all."""
        queued = self.enqueue(queries)
        if queued and self.notify is not None:
            plural = "s" if len(queued) != 1 else ""
            how = (f"in the browser at {self.store.path}/label" if self.store.path.startswith(
                "http") else f"with `rlhf-env label {self.store.path} --annotator YOUR_ID "
                             "--follow --open-clips`")
            self.notify(f"queued {len(queued)} clip comparison{plural} ({self.open_items()} "
                        f"open) in {self.store.path}: answer them {how}")
        wanted = len(queries) if self.min_answers is None else self.min_answers
        skips_before = self.store.queue_status()["skips"]
        answers = self.collect()
        deadline = None if self.timeout is None else self.clock() + self.timeout
        while self._fresh(answers) < wanted - (self.store.queue_status()["skips"]
                                                - skips_before):
            if deadline is not None and self.clock() >= deadline:
                break
            wait = self.poll_interval if deadline is None else \
                min(self.poll_interval, max(deadline - self.clock(), 0.0))
            self.sleep(wait)
            answers += self.collect()
        return answers

    def enqueue(self, queries: Sequence[ComparisonQuery]) -> list[int]:
        """Write the clips and queue one item per query not queued before; returns item ids."""
        ids = []
        self._learn_views()
        for q in queries:
            a, b = self.bank.get(q.response_a), self.bank.get(q.response_b)
            key = frozenset((a.id, b.id))
            if key in self._pairs or pair_key(a, b) in self._views or pair_problem(a, b):
                continue
            new = enqueue_segment_pairs(self.store, [(a, b)], self.clip_dir, task=q.task,
                                        ext=self.clip_format, priority=self.priority,
                                        fps=self.fps, labels_wanted=self.labels_wanted,
                                        metadata={"asked_by": self.name})
            self._pairs[key] = new[0]
            self._views.add(pair_key(a, b))
            self._items.update(new)
            ids += new
        return ids

    def _learn_views(self) -> None:
        """What the queued pairs look like, for those whose segments the bank now holds
        (items adopted after a resume come before the loop refills its bank)."""
        for ids in self._pairs:
            refs = sorted(ids)
            if len(refs) == 2 and all(r in self.bank for r in refs):
                self._views.add(pair_key(self.bank.get(refs[0]), self.bank.get(refs[1])))

    def collect(self) -> list[Comparison]:
        """Answers to this labeler's items not handed out before, in the order given."""
        out = []
        for rec in self.store.iter("comparison"):
            item = rec.metadata.get("queue_item")
            if item not in self._items or rec.content_hash in self._handed_out:
                continue
            self._handed_out.add(rec.content_hash)
            if isinstance(rec, Comparison) and rec.response_a in self.bank \
                    and rec.response_b in self.bank:
                out.append(rec)
        return out

    def _fresh(self, answers: Sequence[Comparison]) -> int:
        """Answers given since this labeler was made: older ones, handed in after a resume,
        may be held by the loop already, so they do not end a wait."""
        return sum(r.timestamp >= self._since for r in answers)

    def open_items(self) -> int:
        """This labeler's queued items that still want an answer from someone."""
        answered: dict[int, int] = {}
        for item in self._items_answered():
            answered[item] = answered.get(item, 0) + 1
        return sum(1 for i in self._items if answered.get(i, 0) < self.labels_wanted)

    def _items_answered(self) -> list[int]:
        return [int(r.metadata["queue_item"]) for r in self.store.iter("comparison")
                if r.metadata.get("queue_item") in self._items]


__all__ = ["QueueLabeler"]
