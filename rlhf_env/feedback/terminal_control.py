"""The terminal labeler's questions for a ``control_correction`` item.

The item is a clip of one agent episode whose frames are headed by their step numbers
(frame ``t``: the state before step ``t``). The person answers in two typed lines:

1. the **step** where the agent went wrong (``o`` opens the clip in the system viewer);
2. the **corrective actions** from that step on, 1 to K of them: action names or indices
   for a discrete space (``left right`` or ``0 1``; Highway: ``LANE_LEFT IDLE FASTER``), or
   numbers within the bounds for a box (``0.5 -1.2``; several numbers per action are
   separated by ``;``). ``b`` goes back to the step.

A bad step or action prints what is accepted and asks again; ``s`` skips the item and ``q``
quits, at either question. Nothing a person types makes it crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.control_items import ControlItem
from rlhf_env.feedback.records import ControlAction
from rlhf_env.feedback.store import QueueItem

OPEN, BACK = "o", "b"


class Asker(Protocol):
    """What these questions need of the terminal labeler."""

    def say(self, text: str = "") -> None: ...

    def _line(self, question: str) -> str | None: ...

    def _open(self, paths: Sequence[str]) -> None: ...


def show(asker: Asker, item: QueueItem) -> None:
    """The clip, what its frames show, and the actions one may type."""
    info = ControlItem.from_metadata(item.metadata)
    asker.say(f"CLIP: {item.responses[0]}")
    asker.say(f"    {info.env_id}, seed {info.seed}: {len(info.actions)} steps; frame t of the "
              f"clip (headed 'step t') shows the state before the agent's action at step t.")
    asker.say(f"    type {info.space.describe()}; up to {info.max_actions} corrective actions.")


def ask(asker: Asker, item: QueueItem) -> tuple[int, tuple[ControlAction, ...]] | None:
    """``(step, corrective actions)``, or ``None`` when the person skips."""
    info = ControlItem.from_metadata(item.metadata)
    while True:
        step = _ask_step(asker, item, info)
        if step is None:
            return None
        actions = _ask_actions(asker, info, step)
        if actions is None:
            return None
        if not isinstance(actions, str):  # BACK asks for the step again
            return step, actions


def _ask_step(asker: Asker, item: QueueItem, info: ControlItem) -> int | None:
    question = (f"Step where the agent went wrong ({info.first_step}-{info.last_step}); "
                f"[o] open the clip  [s] skip  [q] quit:")
    while True:
        text = asker._line(question)
        if text is None:
            return None
        if text.lower() == OPEN:
            asker._open(item.responses)
            continue
        try:
            return info.check_step(int(text) if text.lstrip("-").isdigit() else text)
        except FeedbackError:
            asker.say(f"(the step is a whole number from {info.first_step} to "
                      f"{info.last_step}, got {text!r:.40})")


def _ask_actions(asker: Asker, info: ControlItem, step: int
                 ) -> tuple[ControlAction, ...] | str | None:
    did = ", ".join(f"{t}: {info.space.name(info.actions[t])}"
                    for t in range(step, min(step + info.max_actions, len(info.actions))))
    asker.say(f"the agent did (step: action) {did}")
    question = (f"Your actions from step {step} (1-{info.max_actions}; "
                f"{info.space.describe()}); [b] back to the step  [s] skip  [q] quit:")
    while True:
        text = asker._line(question)
        if text is None:
            return None
        if text.lower() == BACK:
            return BACK
        try:
            return info.check_correction(step, info.space.parse(text))[1]
        except FeedbackError as exc:
            asker.say(f"({exc})")


__all__ = ["ask", "show"]
