"""Typed feedback records: the data that crosses the feedback modules.

Every record is a frozen dataclass with the same envelope:

- ``annotator``  who gave the label (an :class:`Annotator` id),
- ``task``       which task/prompt set it belongs to,
- ``timestamp``  when it was given (UNIX seconds, UTC),
- ``duration_s`` how long the annotator took (optional),
- ``metadata``   a free, JSON-serialisable dict (segment references for control tasks,
  model names, the id of the queue item it answers…).

Kinds:

=====================  ==========================================================
``Comparison``         prompt, ``response_a``, ``response_b``, preference a/b/tie
``Ranking``            prompt, groups of responses best-first (a group = a tie)
``Rating``             prompt, response, ``score`` on a declared ``scale``
``Demonstration``      prompt, a response written by a person
``Correction``         prompt, ``original`` response and its ``edited`` version
``ControlCorrection``  a control episode (env id, seed, actions) and the actions
                       someone took over with from the step where it went wrong
=====================  ==========================================================

Each record has a ``content_hash`` (SHA-256 of its canonical JSON form, the envelope
included) that the store uses to spot duplicates, and an :meth:`item_key` that names the
*question* independently of the answer, the annotator and the order the responses were
shown in, so labels of the same item by several annotators can be compared.

Invalid input raises :class:`~rlhf_env.errors.FeedbackError` with the field named.

    >>> c = Comparison("Say hi", "Hello!", "Go away.", "a", annotator="ann1")
    >>> c.chosen, c.rejected
    ('Hello!', 'Go away.')
    >>> record_from_dict(c.to_dict()) == c
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal, TypeVar

from rlhf_env.errors import FeedbackError
from rlhf_env.validation import check_int, check_optional_int, is_number

Preference = Literal["a", "b", "tie"]
PREFERENCES: tuple[str, ...] = ("a", "b", "tie")

_ENVELOPE = ("annotator", "task", "timestamp", "duration_s", "metadata")

_R = TypeVar("_R", bound="FeedbackRecord")


def _canonical_json(obj: Any) -> str:
    """Sorted, compact, strict JSON (``NaN``/``Infinity`` and texts that UTF-8 cannot
    encode, such as lone surrogates, are refused with a ``ValueError``)."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)
    text.encode("utf-8")  # UnicodeEncodeError (a ValueError) for lone surrogates
    return text


def _sha256(obj: Any) -> str:
    return hashlib.sha256(_canonical_json(obj).encode("utf-8")).hexdigest()


def _check_text(kind: str, name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise FeedbackError(f"{kind}: {name} must be a string, got {type(value).__name__}.")
    if not value.strip():
        raise FeedbackError(f"{kind}: {name} is empty; every {name} needs some text.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FeedbackError(
            f"{kind}: {name} cannot be stored as UTF-8 (character {exc.start + 1} is a lone "
            f"surrogate, {value[exc.start]!r}); fix the text's encoding.") from None


def _check_number(kind: str, name: str, value: Any) -> float:
    if not is_number(value):
        raise FeedbackError(f"{kind}: {name} must be a number, got {value!r}.")
    if not math.isfinite(value):
        raise FeedbackError(f"{kind}: {name} must be finite, got {value!r}.")
    return float(value)


def parse_timestamp(value: Any) -> float:
    """UNIX seconds from a number or an ISO-8601 string (naive strings are read as UTC)."""
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise FeedbackError(
                f"timestamp {value!r} is not ISO-8601 (e.g. '2024-05-01T12:00:00Z') "
                "nor UNIX seconds."
            ) from exc
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    return _check_number("record", "timestamp", value)


@dataclass(frozen=True, kw_only=True, eq=False)
class FeedbackRecord:
    """The envelope shared by every feedback record (use a concrete kind, not this)."""

    KIND: ClassVar[str] = ""

    annotator: str = "anonymous"
    """Id of the annotator (human, synthetic labeler or AI judge) who gave the label."""
    task: str = "default"
    """Task or prompt set the item belongs to (e.g. ``"sentiment"``, ``"CartPole"``)."""
    timestamp: float = field(default_factory=time.time)
    """When the label was given, UNIX seconds (UTC)."""
    duration_s: float | None = None
    """Seconds the annotator spent on this label, when known."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Free JSON-serialisable extras (segment references, model names, queue item id…)."""

    def __post_init__(self) -> None:
        kind = self.KIND or type(self).__name__
        _check_text(kind, "annotator", self.annotator)
        _check_text(kind, "task", self.task)
        object.__setattr__(self, "timestamp", parse_timestamp(self.timestamp))
        if self.duration_s is not None:
            d = _check_number(kind, "duration_s", self.duration_s)
            if d < 0:
                raise FeedbackError(f"{kind}: duration_s must be >= 0, got {d}.")
            object.__setattr__(self, "duration_s", d)
        if not isinstance(self.metadata, Mapping):
            raise FeedbackError(f"{kind}: metadata must be a dict, got {self.metadata!r}.")
        try:
            meta = json.loads(_canonical_json(dict(self.metadata)))
        except (TypeError, ValueError) as exc:
            raise FeedbackError(f"{kind}: metadata must be JSON-serialisable, with finite "
                                f"numbers and UTF-8 text ({exc}).") from exc
        object.__setattr__(self, "metadata", meta)
        self._validate()

    def _validate(self) -> None:
        """Kind-specific checks (overridden by each record kind)."""

    # -- serialisation -------------------------------------------------------------------
    def payload(self) -> dict[str, Any]:
        """The kind-specific fields (everything but the envelope), JSON-ready."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name not in _ENVELOPE:
                value = getattr(self, f.name)
                out[f.name] = _jsonable(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with a ``"kind"`` key; :func:`record_from_dict` reads it back."""
        out: dict[str, Any] = {"kind": self.KIND, **self.payload()}
        for name in _ENVELOPE:
            out[name] = _jsonable(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls: type[_R], data: Mapping[str, Any]) -> _R:
        """Build a record from :meth:`to_dict` output; unknown keys raise, naming the key."""
        data = dict(data)
        kind = data.pop("kind", cls.KIND)
        if kind != cls.KIND:
            raise FeedbackError(f"expected a {cls.KIND!r} record, got kind {kind!r}.")
        data.pop("id", None)  # exports may carry the content hash; it is recomputed
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FeedbackError(
                f"{cls.KIND}: unknown key(s) {', '.join(repr(k) for k in unknown)}; "
                f"allowed keys are {', '.join(sorted(known | {'kind', 'id'}))}."
            )
        missing = sorted(
            f.name
            for f in dataclasses.fields(cls)
            if f.init
            and f.name not in data
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if missing:
            raise FeedbackError(f"{cls.KIND}: missing key(s) {', '.join(map(repr, missing))}.")
        try:
            return cls(**cls._convert(data))
        except TypeError as exc:  # wrong value shapes that slipped past _convert
            raise FeedbackError(f"{cls.KIND}: {exc}") from exc

    @classmethod
    def _convert(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Turn JSON lists back into the tuples the dataclass stores (overridden)."""
        return data

    # -- identity --------------------------------------------------------------------------
    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON form: equal records have equal hashes."""
        return _sha256(self.to_dict())

    @property
    def id(self) -> str:
        """Short record id: the first 16 hex digits of :attr:`content_hash`."""
        return self.content_hash[:16]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FeedbackRecord) or type(other) is not type(self):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:  # by content: metadata is a dict, so fields are unhashable
        return hash(self.content_hash)

    def item_key(self) -> str:
        """Id of the *question* (not the answer, annotator or display order)."""
        return _sha256([self.KIND, self.task, *self._item_parts()])[:16]

    def _item_parts(self) -> list[Any]:
        raise NotImplementedError


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, eq=False)
class Comparison(FeedbackRecord):
    """A pairwise preference between two responses to the same prompt.

    ``preference`` is ``"a"``, ``"b"`` or ``"tie"``. ``strength`` (optional, >= 0) says how
    strongly: a margin for Bradley–Terry losses or a Likert-style "much better" grade.
    """

    KIND: ClassVar[str] = "comparison"

    prompt: str
    response_a: str
    response_b: str
    preference: Preference
    strength: float | None = None

    def _validate(self) -> None:
        _check_text(self.KIND, "prompt", self.prompt)
        _check_text(self.KIND, "response_a", self.response_a)
        _check_text(self.KIND, "response_b", self.response_b)
        if self.preference not in PREFERENCES:
            raise FeedbackError(
                f"comparison: unknown preference {self.preference!r}; use 'a', 'b' or 'tie'."
            )
        if self.response_a == self.response_b:
            raise FeedbackError(
                "comparison: response_a and response_b are identical; a comparison needs "
                "two different responses."
            )
        if self.strength is not None:
            s = _check_number(self.KIND, "strength", self.strength)
            if s < 0:
                raise FeedbackError(f"comparison: strength must be >= 0, got {s}.")
            object.__setattr__(self, "strength", s)

    @property
    def chosen(self) -> str | None:
        """The preferred response (``None`` for a tie)."""
        return {"a": self.response_a, "b": self.response_b}.get(self.preference)

    @property
    def rejected(self) -> str | None:
        """The other response (``None`` for a tie)."""
        return {"a": self.response_b, "b": self.response_a}.get(self.preference)

    def swapped(self) -> Comparison:
        """The same judgement with the two responses shown the other way round."""
        flip = {"a": "b", "b": "a", "tie": "tie"}[self.preference]
        return dataclasses.replace(
            self,
            response_a=self.response_b,
            response_b=self.response_a,
            preference=flip,  # type: ignore[arg-type]
        )

    def _item_parts(self) -> list[Any]:
        return [self.prompt, *sorted((self.response_a, self.response_b))]


@dataclass(frozen=True, eq=False)
class Ranking(FeedbackRecord):
    """A K-way ranking, best first. Each entry of ``groups`` is a tuple of tied responses.

    Build one without ties from a plain order with :meth:`from_order`.
    """

    KIND: ClassVar[str] = "ranking"

    prompt: str
    groups: tuple[tuple[str, ...], ...]

    @classmethod
    def from_order(cls, prompt: str, responses: Sequence[str], **envelope: Any) -> Ranking:
        """A ranking without ties from responses listed best first."""
        return cls(prompt, tuple((r,) for r in responses), **envelope)

    def _validate(self) -> None:
        _check_text(self.KIND, "prompt", self.prompt)
        if isinstance(self.groups, (str, bytes)) or not isinstance(self.groups, Sequence):
            raise FeedbackError("ranking: groups must be a list of lists of responses.")
        groups = []
        for i, g in enumerate(self.groups):
            if isinstance(g, str):
                g = (g,)
            if not g:
                raise FeedbackError(f"ranking: group {i} is empty.")
            for r in g:
                _check_text(self.KIND, f"response in group {i}", r)
            groups.append(tuple(g))
        object.__setattr__(self, "groups", tuple(groups))
        flat = self.responses
        if len(flat) < 2:
            raise FeedbackError(f"ranking: needs at least 2 responses, got {len(flat)}.")
        dupes = sorted({r for r in flat if flat.count(r) > 1})
        if dupes:
            raise FeedbackError(f"ranking: response(s) listed twice: {dupes!r}.")

    @classmethod
    def _convert(cls, data: dict[str, Any]) -> dict[str, Any]:
        if isinstance(data.get("groups"), list):
            data["groups"] = tuple(tuple(g) if isinstance(g, list) else g for g in data["groups"])
        return data

    @property
    def responses(self) -> tuple[str, ...]:
        """All responses, best first (tied ones in the order given)."""
        return tuple(r for g in self.groups for r in g)

    @property
    def ranks(self) -> dict[str, int]:
        """Response → rank (0 = best; tied responses share a rank)."""
        return {r: i for i, g in enumerate(self.groups) for r in g}

    def _item_parts(self) -> list[Any]:
        return [self.prompt, *sorted(self.responses)]


@dataclass(frozen=True, eq=False)
class Rating(FeedbackRecord):
    """A scalar score for one response on a declared ``scale`` (inclusive ``(min, max)``)."""

    KIND: ClassVar[str] = "rating"

    prompt: str
    response: str
    score: float
    scale: tuple[float, float] = (1.0, 7.0)

    def _validate(self) -> None:
        _check_text(self.KIND, "prompt", self.prompt)
        _check_text(self.KIND, "response", self.response)
        score = _check_number(self.KIND, "score", self.score)
        if not isinstance(self.scale, Sequence) or len(self.scale) != 2:
            raise FeedbackError(f"rating: scale must be (min, max), got {self.scale!r}.")
        lo = _check_number(self.KIND, "scale min", self.scale[0])
        hi = _check_number(self.KIND, "scale max", self.scale[1])
        if not lo < hi:
            raise FeedbackError(f"rating: scale min must be below max, got ({lo}, {hi}).")
        if not lo <= score <= hi:
            raise FeedbackError(f"rating: score {score:g} is outside the scale [{lo:g}, {hi:g}].")
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "scale", (lo, hi))

    @classmethod
    def _convert(cls, data: dict[str, Any]) -> dict[str, Any]:
        if isinstance(data.get("scale"), list):
            data["scale"] = tuple(data["scale"])
        return data

    @property
    def normalized(self) -> float:
        """The score mapped to [0, 1] on its scale."""
        lo, hi = self.scale
        return (self.score - lo) / (hi - lo)

    def _item_parts(self) -> list[Any]:
        return [self.prompt, self.response, list(self.scale)]


@dataclass(frozen=True, eq=False)
class Demonstration(FeedbackRecord):
    """A response to ``prompt`` written (or chosen as ideal) by a person."""

    KIND: ClassVar[str] = "demonstration"

    prompt: str
    response: str

    def _validate(self) -> None:
        _check_text(self.KIND, "prompt", self.prompt)
        _check_text(self.KIND, "response", self.response)

    def _item_parts(self) -> list[Any]:
        return [self.prompt]


@dataclass(frozen=True, eq=False)
class Correction(FeedbackRecord):
    """An ``original`` response and the ``edited`` version a person made of it."""

    KIND: ClassVar[str] = "correction"

    prompt: str
    original: str
    edited: str

    def _validate(self) -> None:
        _check_text(self.KIND, "prompt", self.prompt)
        _check_text(self.KIND, "original", self.original)
        _check_text(self.KIND, "edited", self.edited)
        if self.original == self.edited:
            raise FeedbackError(
                "correction: edited is identical to original; record an unchanged "
                "response as a rating or demonstration instead."
            )

    def _item_parts(self) -> list[Any]:
        return [self.prompt, self.original]


ControlAction = int | tuple[float, ...]
"""One action of a control episode: an integer (``Discrete``) or a vector (``Box``)."""


def _check_action(name: str, value: Any) -> ControlAction:
    kind = ControlCorrection.KIND
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        value = value.tolist()
    if isinstance(value, (bool, float)):
        raise FeedbackError(f"{kind}: {name} must be an integer (a Discrete action) or a list "
                            f"of numbers (a Box action), got {value!r}.")
    if isinstance(value, int):
        return value
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise FeedbackError(f"{kind}: {name} must be an integer (a Discrete action) or a "
                            f"non-empty list of numbers (a Box action), got {value!r:.60}.")
    return tuple(_check_number(kind, f"{name}[{i}]", v) for i, v in enumerate(value))


def _action_form(action: ControlAction) -> int:
    """-1 for a Discrete action, the length of a Box action."""
    return -1 if isinstance(action, int) else len(action)


def _check_actions(name: str, value: Any) -> tuple[ControlAction, ...]:
    kind = ControlCorrection.KIND
    if hasattr(value, "ndim") and value.ndim >= 1:  # a numpy array: one action per row
        value = list(value)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise FeedbackError(f"{kind}: {name} must be a non-empty list of actions, got "
                            f"{value!r:.60}.")
    actions = tuple(_check_action(f"{name}[{i}]", a) for i, a in enumerate(value))
    forms = {_action_form(a) for a in actions}
    if len(forms) > 1:
        raise FeedbackError(f"{kind}: {name} mixes action forms (integers and vectors, or "
                            "vectors of different lengths); record one env's actions.")
    return actions


@dataclass(frozen=True, eq=False)
class ControlCorrection(FeedbackRecord):
    """Someone took over a control policy for a few steps, from where it went wrong.

    The record replays on its own in a deterministic env: reset ``env_id`` (made with
    ``horizon``) with ``seed`` and play ``actions`` to see what the policy did; from
    ``step`` (0-based) on, the corrector played ``corrected_actions`` instead (a short
    takeover; the policy may drive again afterwards). ``state_digest`` (optional) fingerprints
    the observation at ``step`` so a replay can tell when it reached another state.
    :mod:`rlhf_env.control.corrections` replays records into ``corrected ≻ original`` segment
    pairs for the reward-model trainer.

        >>> c = ControlCorrection("RLHF-Highway-v0", 3, (1, 1, 3, 3), 2, (2, 1))
        >>> c.corrected_actions, record_from_dict(c.to_dict()) == c
        ((2, 1), True)
    """

    KIND: ClassVar[str] = "control_correction"

    env_id: str
    seed: int
    actions: tuple[ControlAction, ...]
    """What the policy did from the reset on (at least ``step + 1`` actions)."""
    step: int
    """The first step the corrector changed (an index into ``actions``)."""
    corrected_actions: tuple[ControlAction, ...]
    """What the corrector did from ``step`` on."""
    horizon: int | None = None
    """Episode length of the env (``None``: the id's default)."""
    state_digest: str | None = None
    """Fingerprint of the observation at ``step`` (see ``corrections.observation_digest``)."""

    def _validate(self) -> None:
        kind = self.KIND
        _check_text(kind, "env_id", self.env_id)
        seed = check_int(f"{kind}: seed", self.seed, minimum=0, error=FeedbackError)
        actions = _check_actions("actions", self.actions)
        corrected = _check_actions("corrected_actions", self.corrected_actions)
        if _action_form(actions[0]) != _action_form(corrected[0]):
            raise FeedbackError(f"{kind}: corrected_actions do not have the form of actions; "
                                "both must be actions of the same env.")
        step = check_int(f"{kind}: step", self.step, minimum=0, maximum=len(actions) - 1,
                         error=FeedbackError)
        if corrected[0] == actions[step]:
            raise FeedbackError(
                f"{kind}: the first corrected action equals the original action at step "
                f"{step}; step must be the first step the correction changes.")
        horizon = check_optional_int(f"{kind}: horizon", self.horizon, minimum=1,
                                     error=FeedbackError)
        if horizon is not None and max(len(actions), step + len(corrected)) > horizon:
            raise FeedbackError(f"{kind}: the actions run past the horizon ({horizon} steps).")
        if self.state_digest is not None:
            _check_text(kind, "state_digest", self.state_digest)
        for name, value in (("seed", seed), ("actions", actions), ("step", step),
                            ("corrected_actions", corrected), ("horizon", horizon)):
            object.__setattr__(self, name, value)

    @property
    def takeover(self) -> int:
        """How many steps the corrector drove."""
        return len(self.corrected_actions)

    def _item_parts(self) -> list[Any]:
        return [self.env_id, self.seed, self.horizon, _jsonable(self.actions)]


Record = Comparison | Ranking | Rating | Demonstration | Correction | ControlCorrection
"""Any concrete feedback record."""

RECORD_TYPES: dict[str, type[FeedbackRecord]] = {
    cls.KIND: cls
    for cls in (Comparison, Ranking, Rating, Demonstration, Correction, ControlCorrection)
}
"""Record kind name → class."""


def record_from_dict(data: Mapping[str, Any]) -> FeedbackRecord:
    """Build the right record kind from a dict with a ``"kind"`` key."""
    if not isinstance(data, Mapping):
        raise FeedbackError(f"a feedback record must be a JSON object, got {data!r:.60}.")
    kind = data.get("kind")
    if kind not in RECORD_TYPES:
        raise FeedbackError(
            f"unknown record kind {kind!r}; expected one of {', '.join(RECORD_TYPES)}."
        )
    return RECORD_TYPES[kind].from_dict(data)


@dataclass(frozen=True)
class Annotator:
    """Who labels: an id and free attributes (expertise, language, background…).

    Reward models can condition on the attributes ("score this as a doctor would"), and
    :mod:`rlhf_env.feedback.quality` samples annotators stratified by them.
    """

    id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_text("annotator", "id", self.id)
        if not isinstance(self.attributes, Mapping):
            raise FeedbackError(f"annotator {self.id!r}: attributes must be a dict.")
        try:
            attrs = json.loads(_canonical_json(dict(self.attributes)))
        except (TypeError, ValueError) as exc:
            raise FeedbackError(
                f"annotator {self.id!r}: attributes must be JSON-serialisable, with finite "
                f"numbers and UTF-8 text ({exc})."
            ) from exc
        object.__setattr__(self, "attributes", attrs)

    def __hash__(self) -> int:
        return hash((self.id, _canonical_json(self.attributes)))

    def to_dict(self) -> dict[str, Any]:
        """``{"id": ..., "attributes": {...}}``."""
        return {"id": self.id, "attributes": dict(self.attributes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Annotator:
        """Inverse of :meth:`to_dict`; unknown keys raise."""
        unknown = sorted(set(data) - {"id", "attributes"})
        if unknown:
            raise FeedbackError(f"annotator: unknown key(s) {', '.join(map(repr, unknown))}.")
        if "id" not in data:
            raise FeedbackError("annotator: missing key 'id'.")
        return cls(data["id"], data.get("attributes", {}))


__all__ = [
    "PREFERENCES",
    "RECORD_TYPES",
    "Annotator",
    "Comparison",
    "ControlAction",
    "ControlCorrection",
    "Correction",
    "Demonstration",
    "FeedbackRecord",
    "Preference",
    "Ranking",
    "Rating",
    "Record",
    "parse_timestamp",
    "record_from_dict",
]
