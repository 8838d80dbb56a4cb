"""Queue items that ask a person to correct a control policy (kind ``control_correction``).

The item shows one episode of the agent as a clip (its one response is the clip's path) and
asks where the behaviour went wrong and what should have been done instead. Everything the
answer needs to become a :class:`~rlhf_env.feedback.records.ControlCorrection` travels in
the item's metadata (checked once, at enqueue):

=================  ==============================================================
``env_id``         the control id the episode was played in
``seed``           its reset seed
``actions``        the agent's actions, one per step (ints, or lists of numbers)
``horizon``        episode length the env was made with (``null``: the id's own)
``action_space``   ``{"type": "discrete", "n": N, "names": [...]}`` or
                   ``{"type": "box", "low": [...], "high": [...]}`` (flattened)
``max_actions``    K: the most corrective actions one answer may give
``first_step``     frame 0 of the clip is the state before this step (default 0);
                   frame ``i`` is the state before step ``first_step + i``
``last_step``      the last step that may be corrected (default: the last action)
``state_digests``  optional: the observation fingerprint before every step
=================  ==============================================================

An answer is a step (the first one the person changes) and 1..K actions; the terminal
labeler reads them as text (:meth:`ActionSpec.parse`: action names or indices for a
discrete space, numbers within the bounds for a box), the web app as JSON
(:meth:`ActionSpec.check`). Both end in :func:`answer_record`, and the store checks any
stored answer with :func:`check_answer`.

    >>> spec = ActionSpec.from_json({"type": "discrete", "n": 2, "names": ["left", "right"]})
    >>> spec.parse("LEFT 1 left")
    (0, 1, 0)
    >>> ActionSpec.from_json({"type": "box", "low": [-2.0], "high": [2.0]}).parse("0.5, -2")
    ((0.5,), (-2.0,))
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.records import ControlAction, ControlCorrection
from rlhf_env.validation import check_int, is_number

if TYPE_CHECKING:
    from rlhf_env.feedback.store import QueueItem

KIND = ControlCorrection.KIND
"""The queue item kind (the answer is a record of the same kind)."""
PROMPT = ("Watch the agent. Find the first step where it went wrong and give the actions it "
          "should have taken from there.")
"""The default prompt of a control correction item."""


@dataclass(frozen=True)
class ActionSpec:
    """An env's action space as a person types it: named choices or bounded numbers."""

    kind: str
    """``"discrete"`` or ``"box"``."""
    names: tuple[str, ...] = ()
    """Discrete: the name of each action index."""
    low: tuple[float, ...] = ()
    """Box: the lower bound of each (flattened) component."""
    high: tuple[float, ...] = ()
    """Box: the upper bound of each component."""

    @classmethod
    def from_json(cls, data: Any) -> ActionSpec:
        """The spec described by ``data`` (an item's ``action_space``); FeedbackError if bad."""
        where = f"{KIND} item: action_space"
        if not isinstance(data, Mapping) or data.get("type") not in ("discrete", "box"):
            raise FeedbackError(f"{where} must be {{'type': 'discrete', 'n': N, 'names': [...]}}"
                                f" or {{'type': 'box', 'low': [...], 'high': [...]}}, got "
                                f"{data!r:.80}.")
        if data["type"] == "discrete":
            n = check_int(f"{where}.n", data.get("n"), minimum=1, error=FeedbackError)
            names = data.get("names") or [str(i) for i in range(n)]
            if not (isinstance(names, list) and len(names) == n
                    and all(isinstance(x, str) and re.fullmatch(r"[\w.+-]+", x) for x in names)
                    and len({x.lower() for x in names}) == n):
                raise FeedbackError(f"{where}.names must be {n} different single words, got "
                                    f"{names!r:.80}.")
            return cls("discrete", names=tuple(names))
        low, high = (_numbers(f"{where}.{k}", data.get(k)) for k in ("low", "high"))
        if len(low) != len(high) or not all(lo <= hi for lo, hi in zip(low, high, strict=True)):
            raise FeedbackError(f"{where}: low and high must have the same length and low <= "
                                f"high, got {low} and {high}.")
        return cls("box", low=low, high=high)

    def to_json(self) -> dict[str, Any]:
        """The ``action_space`` metadata of this spec."""
        if self.kind == "discrete":
            return {"type": "discrete", "n": len(self.names), "names": list(self.names)}
        return {"type": "box", "low": list(self.low), "high": list(self.high)}

    def describe(self) -> str:
        """What a person may type, in one line."""
        if self.kind == "discrete":
            return "actions by name or number: " + ", ".join(
                f"{name} ({i})" for i, name in enumerate(self.names))
        bounds = ", ".join(f"[{lo:g}, {hi:g}]" for lo, hi in zip(self.low, self.high,
                                                                  strict=True))
        if len(self.low) == 1:
            return f"one number per action in {bounds}"
        return f"{len(self.low)} numbers per action ({bounds}), actions separated by ';'"

    def name(self, action: ControlAction) -> str:
        """An action as a person reads it (``"LANE_LEFT"``, ``"0.5"``, ``"0.5 -1"``)."""
        if isinstance(action, int):
            return self.names[action] if 0 <= action < len(self.names) else str(action)
        return " ".join(f"{v:g}" for v in action)

    def check(self, value: Any, where: str = "action") -> ControlAction:
        """A JSON action (an index or a name; a number or a list of numbers) as a record
        action; FeedbackError naming what is accepted."""
        if self.kind == "discrete":
            if isinstance(value, str):
                return self.parse(value)[0] if value.strip() and " " not in value.strip() \
                    else self._bad(value, where)
            if isinstance(value, bool) or not isinstance(value, int) or \
                    not 0 <= value < len(self.names):
                return self._bad(value, where)
            return int(value)
        values = [value] if is_number(value) and not isinstance(value, bool) else value
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or \
                len(values) != len(self.low) or \
                not all(is_number(v) and not isinstance(v, bool) for v in values):
            return self._bad(value, where)
        out = tuple(float(v) for v in values)
        if not all(math.isfinite(v) and lo <= v <= hi
                   for v, lo, hi in zip(out, self.low, self.high, strict=True)):
            return self._bad(value, where)
        return out

    def _bad(self, value: Any, where: str) -> ControlAction:
        raise FeedbackError(f"{where} {value!r:.40} is not an action of this env; use "
                            f"{self.describe()}.")

    def parse(self, text: str) -> tuple[ControlAction, ...]:
        """Actions typed on one line (see :meth:`describe`); FeedbackError if any is bad."""
        if self.kind == "box" and len(self.low) > 1:
            groups = [g for g in text.split(";") if g.strip()]
            parsed: list[Any] = [[_number(t, self) for t in re.split(r"[\s,]+", g.strip())]
                                 for g in groups]
        else:
            tokens = [t for t in re.split(r"[\s,;]+", text.strip()) if t]
            parsed = [self._token(t) for t in tokens]
        if not parsed:
            raise FeedbackError(f"no actions given; type {self.describe()}.")
        return tuple(self.check(v, f"action {i + 1}") for i, v in enumerate(parsed))

    def _token(self, token: str) -> Any:
        if self.kind == "box":
            return _number(token, self)
        lowered = [n.lower() for n in self.names]
        if token.lower() in lowered:
            return lowered.index(token.lower())
        if token.isdigit():
            return int(token)
        return self._bad(token, "action")


def _number(token: str, spec: ActionSpec) -> float:
    try:
        return float(token)
    except ValueError:
        raise FeedbackError(f"{token!r:.40} is not a number; type {spec.describe()}.") from None


def _numbers(name: str, value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or not value or not all(
            is_number(v) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise FeedbackError(f"{name} must be a non-empty list of finite numbers, got "
                            f"{value!r:.60}.")
    return tuple(float(v) for v in value)


@dataclass(frozen=True)
class ControlItem:
    """The metadata of a control correction item, checked (see the module docstring)."""

    env_id: str
    seed: int
    actions: tuple[ControlAction, ...]
    horizon: int | None
    space: ActionSpec
    max_actions: int
    first_step: int
    last_step: int
    state_digests: tuple[str, ...] | None

    @classmethod
    def from_metadata(cls, metadata: Any) -> ControlItem:
        """Check an item's metadata; FeedbackError says which field is wrong."""
        if not isinstance(metadata, Mapping):
            raise FeedbackError(f"{KIND} item needs metadata (env_id, seed, actions, "
                                "action_space, max_actions).")
        seed: Any = metadata.get("seed")  # ControlCorrection checks it
        probe = ControlCorrection(str(metadata.get("env_id", "")), seed,
                                  _as_actions(metadata.get("actions")), 0,
                                  _other_first(metadata.get("actions")),
                                  horizon=metadata.get("horizon"))
        space = ActionSpec.from_json(metadata.get("action_space"))
        for i, a in enumerate(probe.actions):
            space.check(list(a) if isinstance(a, tuple) else a, f"{KIND} item: actions[{i}]")
        n = len(probe.actions)
        err = FeedbackError
        k = check_int(f"{KIND} item: max_actions", metadata.get("max_actions"), minimum=1,
                      error=err)
        first = check_int(f"{KIND} item: first_step", metadata.get("first_step", 0),
                          minimum=0, maximum=n - 1, error=err)
        last = check_int(f"{KIND} item: last_step", metadata.get("last_step", n - 1),
                         minimum=first, maximum=n - 1, error=err)
        digests = metadata.get("state_digests")
        if digests is not None and not (isinstance(digests, list) and len(digests) == n
                                        and all(isinstance(d, str) and d for d in digests)):
            raise FeedbackError(f"{KIND} item: state_digests must hold one text per action "
                                f"({n}), got {digests!r:.60}.")
        return cls(probe.env_id, probe.seed, probe.actions, probe.horizon, space, k, first,
                   last, None if digests is None else tuple(digests))

    def check_step(self, step: Any) -> int:
        """``step`` as an int within the steps this item lets a person correct."""
        return check_int("step", step, minimum=self.first_step, maximum=self.last_step,
                         error=FeedbackError)

    def check_correction(self, step: Any, actions: Sequence[ControlAction]
                         ) -> tuple[int, tuple[ControlAction, ...]]:
        """A (step, corrective actions) answer, checked against this item."""
        step = self.check_step(step)
        if not 1 <= len(actions) <= self.max_actions:
            raise FeedbackError(f"give 1 to {self.max_actions} corrective actions, got "
                                f"{len(actions)}.")
        end = self.horizon if self.horizon is not None else len(self.actions)
        if step + len(actions) > end:
            raise FeedbackError(f"{len(actions)} actions from step {step} run past the "
                                f"episode's end (step {end}); give fewer.")
        if actions[0] == self.actions[step]:
            raise FeedbackError(f"the agent already did {self.space.name(actions[0])} at step "
                                f"{step}; the first corrective action must differ (or pick "
                                "the step where it should have acted differently).")
        return step, tuple(actions)


def _as_actions(value: Any) -> Any:
    return [tuple(a) if isinstance(a, list) else a for a in value] if isinstance(
        value, list) else value


def _other_first(actions: Any) -> tuple[ControlAction, ...]:
    """Some action unlike ``actions[0]`` and of its form (only to check the metadata with
    ControlCorrection's own validation)."""
    first = _as_actions(actions)[0] if isinstance(actions, list) and actions else 0
    if isinstance(first, tuple):
        return (tuple(float(v) + 1.0 if is_number(v) else 0.0 for v in first),)
    return (first + 1 if isinstance(first, int) and not isinstance(first, bool) else 0,)


def check_item(metadata: Any, gold: Any) -> None:
    """Refuse a control correction item no labeler could answer (``enqueue`` calls this)."""
    ControlItem.from_metadata(metadata)
    if gold is not None:
        raise FeedbackError(f"{KIND} items take no gold answer; enqueue them without gold.")


def answer_record(item: QueueItem, answer: Any, **envelope: Any) -> ControlCorrection:
    """The record answering ``item``: ``answer`` is ``(step, corrective actions)``."""
    info = ControlItem.from_metadata(item.metadata)
    step, actions = info.check_correction(*answer)
    digest = None if info.state_digests is None else info.state_digests[step]
    return ControlCorrection(info.env_id, info.seed, info.actions, step, actions,
                             horizon=info.horizon, state_digest=digest, **envelope)


def check_answer(item: QueueItem, record: Any) -> None:
    """``record`` corrects the very episode ``item`` shows, within what the item allows."""
    info = ControlItem.from_metadata(item.metadata)
    same = (record.env_id, record.seed, record.actions, record.horizon) == (
        info.env_id, info.seed, info.actions, info.horizon)
    if not same:
        raise FeedbackError(f"queue item {item.item_id}: the correction is about another "
                            "episode (env id, seed, actions or horizon differ).")
    for i, a in enumerate(record.corrected_actions):
        info.space.check(list(a) if isinstance(a, tuple) else a, f"corrected action {i + 1}")
    info.check_correction(record.step, record.corrected_actions)


__all__ = ["KIND", "PROMPT", "ActionSpec", "ControlItem", "answer_record", "check_answer",
           "check_item"]
