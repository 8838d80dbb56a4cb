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

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rlhf_env.control.clips import enqueue_segment_pairs
from rlhf_env.control.labeling import pair_key, pair_problem
from rlhf_env.control.queue_channel import QueueChannel
from rlhf_env.control.segments import SegmentBank, segment_id_from_ref
from rlhf_env.feedback.learning.labelers import ComparisonQuery
from rlhf_env.feedback.records import Comparison
from rlhf_env.feedback.store import FeedbackStore


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
        self.channel = QueueChannel(store, "comparison", name=name, clip_dir=clip_dir,
                                    timeout=timeout, poll_interval=poll_interval,
                                    min_answers=min_answers, clip_format=clip_format,
                                    clock=clock, sleep=sleep, token=token)
        self.store: Any = self.channel.store
        self.bank, self.clip_dir = bank, self.channel.clip_dir
        self.clip_format, self.fps = clip_format, fps
        self.labels_wanted, self.priority, self.name = labels_wanted, priority, name
        self.notify = notify
        self._pairs: dict[frozenset[str], int] = {}
        self._views: set[frozenset[str]] = set()
        for item in self.channel.adopt():  # queued by an earlier labeler (after a resume)
            refs = item.metadata.get("segments", [])
            self._pairs[frozenset(segment_id_from_ref(r) for r in refs)] = item.item_id

    # -- the labeler interface ----------------------------------------------------------------
    def label(self, queries: Sequence[ComparisonQuery]) -> list[Comparison]:
        """Queue ``queries``, wait for answers (see the class docstring), return them all."""
        queued = self.enqueue(queries)
        if queued and self.notify is not None:
            plural = "s" if len(queued) != 1 else ""
            self.notify(f"queued {len(queued)} clip comparison{plural} ({self.open_items()} "
                        f"open) in {self.store.path}: answer them "
                        f"{self.channel.where_to_answer()}")
        return self.channel.wait(len(queries), self.collect)

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
            self.channel.items.update(new)
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
        """Answers to this labeler's items not handed out before, in the order given (those
        about segments the bank does not hold are dropped)."""
        return [r for r in self.channel.collect() if isinstance(r, Comparison)
                and r.response_a in self.bank and r.response_b in self.bank]

    def open_items(self) -> int:
        """This labeler's queued items that still want an answer from someone."""
        return self.channel.open_items(self.labels_wanted)


__all__ = ["QueueLabeler"]
