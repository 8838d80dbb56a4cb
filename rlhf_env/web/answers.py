"""From what an annotator submitted on screen to the feedback record the store keeps.

The browser speaks in *screen positions* (left/right, the order shown); the store speaks in
the item's own response order. The lease's ``shown_order`` maps one to the other:
``shown_order[position]`` is the index of the response shown at ``position``.

    >>> from rlhf_env.feedback.store import QueueItem
    >>> item = QueueItem(1, "comparison", "Say hi", ("Hello!", "Go away."))
    >>> record = to_record(item, (1, 0), {"choice": "left"}, annotator="ann", max_chars=100)
    >>> record.preference   # "Go away." was shown on the left
    'b'

No framework is imported here, so the mapping is tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.control_items import KIND as CONTROL
from rlhf_env.feedback.control_items import ControlItem
from rlhf_env.feedback.records import FeedbackRecord
from rlhf_env.feedback.store import QueueItem

CHOICES = ("left", "right", "tie", "both_bad")
"""Comparison answers, by screen side; ``both_bad`` is stored as a tie with
``metadata["verdict"] = "both_bad"``."""


def _comparison(item: QueueItem, order: Sequence[int], answer: Mapping[str, Any]) -> str:
    choice = answer.get("choice")
    if choice not in CHOICES:
        raise FeedbackError(f"comparison answer: choice must be one of {CHOICES}, got {choice!r}.")
    if choice in ("tie", "both_bad"):
        return "tie"
    index = order[0 if choice == "left" else 1]
    return "a" if index == 0 else "b"


def _ranking(item: QueueItem, order: Sequence[int], answer: Mapping[str, Any]) -> Any:
    groups = answer.get("groups")
    n = len(item.responses)
    if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
        raise FeedbackError("ranking answer: groups must be a list of lists of positions.")
    flat = [p for g in groups for p in g]
    if sorted(p for p in flat if isinstance(p, int)) != list(range(n)) or len(flat) != n:
        raise FeedbackError(f"ranking answer: use each position 0..{n - 1} exactly once.")
    return tuple(tuple(order[p] for p in g) for g in groups if g)


def _rating(item: QueueItem, answer: Mapping[str, Any]) -> float:
    score = answer.get("score")
    assert item.scale is not None  # the store checks rating items have a scale
    lo, hi = item.scale
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise FeedbackError(f"rating answer: score must be a number, got {score!r}.")
    if not lo <= score <= hi:
        raise FeedbackError(f"rating answer: score {score} is outside the scale [{lo}, {hi}].")
    return float(score)


def _text(item: QueueItem, answer: Mapping[str, Any], max_chars: int) -> str:
    text = answer.get("text")
    if not isinstance(text, str) or not text.strip():
        raise FeedbackError(f"{item.kind} answer: text is empty; write the response.")
    if len(text) > max_chars:
        raise FeedbackError(f"{item.kind} answer: text has {len(text)} characters, the most "
                            f"accepted is {max_chars}.")
    if item.kind == "correction" and text == item.responses[0]:
        raise FeedbackError("correction answer: the text is unchanged; edit it or skip.")
    return text


CONTROL_FIELDS = ("env_id", "seed", "actions", "horizon", "action_space", "max_actions",
                  "first_step", "last_step", "fps")
"""What a client needs from a control correction item's metadata to answer it."""


def control_fields(item: QueueItem) -> dict[str, Any] | None:
    """The :data:`CONTROL_FIELDS` of a control correction item (``None`` for other kinds)."""
    if item.kind != CONTROL:
        return None
    return {k: item.metadata[k] for k in CONTROL_FIELDS if k in item.metadata}


def _control(item: QueueItem, answer: Mapping[str, Any]) -> Any:
    """``(step, actions)`` of a control correction answer: the store's own checks."""
    info = ControlItem.from_metadata(item.metadata)
    actions = answer.get("actions")
    if not isinstance(actions, list) or not actions:
        raise FeedbackError(f"{CONTROL} answer: actions must be a list of 1 to "
                            f"{info.max_actions} actions.")
    checked = tuple(info.space.check(a, f"action {i + 1}") for i, a in enumerate(actions))
    return info.check_correction(answer.get("step"), checked)


def to_record(item: QueueItem, shown_order: Sequence[int], answer: Mapping[str, Any], *,
              annotator: str, max_chars: int, duration_s: float | None = None
              ) -> FeedbackRecord:
    """The record answering ``item`` from a screen-side ``answer`` (raises FeedbackError)."""
    meta: dict[str, Any] = {"source": "web", "shown_order": list(shown_order)}
    if item.kind == "comparison":
        value: Any = _comparison(item, shown_order, answer)
        if answer.get("choice") == "both_bad":
            meta["verdict"] = "both_bad"
    elif item.kind == "ranking":
        value = _ranking(item, shown_order, answer)
    elif item.kind == "rating":
        value = _rating(item, answer)
    elif item.kind == CONTROL:
        value = _control(item, answer)
    else:
        value = _text(item, answer, max_chars)
    return item.answer_record(value, annotator=annotator, duration_s=duration_s,
                              metadata=meta)


__all__ = ["CHOICES", "to_record"]
