"""The row layouts feedback files come in, and how each maps to our records.

A *format* is a family of layouts that a file sticks to; a *layout* is one kind of row in
it. :mod:`rlhf_env.feedback.io` reads and writes the files; this module only turns one row
(a JSON object) into a record and back.

==================  ============================  ============================================
format              layout (keys)                 record
==================  ============================  ============================================
``rlhf-env``        ``kind`` + the record fields  every kind (and ``annotator`` lines)
``trl``             prompt, chosen, rejected      :class:`Comparison` (``"a"`` = chosen)
                    chosen, rejected              :class:`Comparison`, prompt = shared prefix
                    prompt, completion, label     :class:`Rating` 1 (true) / 0 on (0, 1)
                    prompt, completion            :class:`Demonstration`
``trl-conv…``       the same, values are lists    the same; messages become text (below)
                    of ``{"role", "content"}``
``hh-rlhf``         chosen, rejected transcripts  :class:`Comparison`, prompt = shared turns
==================  ============================  ============================================

**Detection** (:func:`detect_format`): a ``kind`` key means ours; list values mean
conversational TRL; ``chosen``/``rejected`` strings without a ``prompt`` are HH-RLHF when
they hold ``"\\n\\nHuman:"``/``"\\n\\nAssistant:"`` turns and TRL's implicit-prompt layout
otherwise. Keys beyond a layout's own are kept in the record's ``metadata["extra"]`` (and
written back on export), so real datasets with extra columns import whole.

**Prompts as text.** Our records hold text. A conversation of exactly one user message is
stored as that message; any longer one (a system message, earlier turns) as an HH-style
transcript ``"\\n\\nSystem: …\\n\\nHuman: …\\n\\nAssistant: …\\n\\nHuman: …\\n\\nAssistant:"``,
which :func:`prompt_messages` turns back into messages on export. HH-RLHF prompts follow the
same rule, so a one-turn HH prompt is stored as its plain question.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.records import (
    Annotator,
    Comparison,
    Demonstration,
    FeedbackRecord,
    Rating,
    parse_timestamp,
    record_from_dict,
)

Format = Literal["rlhf-env", "trl", "trl-conversational", "hh-rlhf"]
FORMATS: tuple[str, ...] = ("rlhf-env", "trl", "trl-conversational", "hh-rlhf")
"""The formats files are read and written in."""
IMPORT_FORMATS: tuple[str, ...] = ("auto", *FORMATS)
"""What an import's ``format`` may be: a format, or ``"auto"`` (detect it per file)."""

HH_ASSISTANT = "\n\nAssistant:"
_TURN_LABELS = {"system": "System", "user": "Human", "assistant": "Assistant"}
_TURN_ROLES = {label: role for role, label in _TURN_LABELS.items()}
_TURN = re.compile(r"\n\n(System|Human|Assistant):")
_LAYOUT_KEYS = frozenset({"kind", "prompt", "chosen", "rejected", "completion", "label",
                          "text", "messages", "completions", "labels"})
"""Keys that decide a row's layout: never carried as an extra column."""
BINARY_SCALE = (0.0, 1.0)
"""The scale of the ratings TRL's unpaired layout maps to (``label`` true → 1, false → 0)."""


@dataclass(frozen=True)
class ImportDefaults:
    """The envelope given to records read from formats that carry none (TRL, HH-RLHF).

    Our own records keep their own envelope; these apply to the other formats only.
    """

    task: str | None = None
    """Task of the imported records; ``None``: the format's name (``"trl"``, ``"hh-rlhf"``)."""
    annotator: str | None = None
    """Annotator id of the imported records; ``None``: the format's name."""
    timestamp: float = 0.0
    """Timestamp of the imported records. 0 (not "now") so that importing the same public
    file twice is spotted as duplicates by the store."""

    def __post_init__(self) -> None:
        for name in ("task", "annotator"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise FeedbackError(f"import {name} must be a non-empty string, got {value!r}.")
        object.__setattr__(self, "timestamp", parse_timestamp(self.timestamp))

    def envelope(self, fmt: str, extra: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments for a record read from ``fmt`` with ``extra`` columns."""
        family = "trl" if fmt.startswith("trl") else fmt
        metadata: dict[str, Any] = {"source": fmt}
        if extra:
            metadata["extra"] = dict(extra)
        return {"task": self.task or family, "annotator": self.annotator or family,
                "timestamp": self.timestamp, "metadata": metadata}


Converter = Callable[[Mapping[str, Any], ImportDefaults], "FeedbackRecord | Annotator"]


@dataclass(frozen=True)
class Layout:
    """One kind of row of a format: the keys it needs and the record it becomes."""

    format: str
    name: str
    """What the layout is called in messages (``"trl preference"``)."""
    keys: tuple[str, ...]
    """Keys every row of this layout has."""
    example: Mapping[str, Any]
    """A short real row, shown when a line matches no layout."""
    convert: Converter
    without: frozenset[str] = field(default_factory=frozenset)
    """Keys a row of this layout must not have (they would make it another layout)."""

    def fits(self, row: Mapping[str, Any]) -> bool:
        """Whether ``row`` has this layout's keys, none of its excluded ones, and (for the
        foreign formats) conversational values exactly when the format is conversational."""
        if not all(k in row for k in self.keys) or any(k in row for k in self.without):
            return False
        if self.format == "rlhf-env":
            return True
        return _is_conversational(row, self.keys) == (self.format == "trl-conversational")

    def to_record(self, row: Mapping[str, Any], defaults: ImportDefaults
                  ) -> FeedbackRecord | Annotator:
        """The record (or annotator) ``row`` stands for; bad values raise FeedbackError."""
        return self.convert(row, defaults)

    def example_line(self) -> str:
        """The example as one JSON line."""
        return json.dumps(self.example, ensure_ascii=False)


def _is_conversational(row: Mapping[str, Any], keys: Sequence[str]) -> bool:
    return any(isinstance(row[k], list) for k in keys if k != "label")


def _extra(row: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}


# -- text and messages ---------------------------------------------------------------------
def _text(layout: str, row: Mapping[str, Any], key: str) -> str:
    value = row[key]
    if not isinstance(value, str):
        raise FeedbackError(f"{layout}: {key!r} must be a string, got {type(value).__name__} "
                            f"{json.dumps(value, default=str)[:40]}.")
    return value


def _messages(layout: str, value: Any, key: str) -> list[dict[str, str]]:
    """``value`` checked as a list of ``{"role", "content"}`` messages with text content."""
    if not isinstance(value, list) or not value:
        raise FeedbackError(f"{layout}: {key!r} must be a non-empty list of "
                            f'{{"role": ..., "content": ...}} messages.')
    out = []
    for i, msg in enumerate(value):
        if not isinstance(msg, Mapping) or "role" not in msg or "content" not in msg:
            raise FeedbackError(f"{layout}: {key!r} message {i} must be an object with 'role' "
                                f"and 'content', got {json.dumps(msg, default=str)[:60]}.")
        if msg["role"] not in _TURN_LABELS:
            raise FeedbackError(f"{layout}: {key!r} message {i} has role {msg['role']!r}; "
                                f"supported roles are {', '.join(_TURN_LABELS)}.")
        if not isinstance(msg["content"], str):
            raise FeedbackError(f"{layout}: {key!r} message {i}: content must be text, got "
                                f"{type(msg['content']).__name__}.")
        out.append({"role": msg["role"], "content": msg["content"]})
    return out


def _reply(layout: str, messages: list[dict[str, str]], key: str) -> str:
    """The one assistant message a completion must be."""
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        roles = [m["role"] for m in messages]
        raise FeedbackError(f"{layout}: {key!r} must be one assistant message, got roles "
                            f"{roles}; multi-message completions are not supported.")
    return messages[0]["content"]


def messages_text(messages: Sequence[Mapping[str, str]]) -> str:
    """A conversation as prompt text: one user message as itself, anything longer as an
    HH-style transcript that ends by opening the assistant's turn.

        >>> messages_text([{"role": "user", "content": "Hi"}])
        'Hi'
        >>> messages_text([{"role": "system", "content": "Be brief."},
        ...                {"role": "user", "content": "Hi"}])
        '\\n\\nSystem: Be brief.\\n\\nHuman: Hi\\n\\nAssistant:'
    """
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return _transcript(messages)


def _transcript(messages: Sequence[Mapping[str, str]]) -> str:
    text = "".join(f"\n\n{_TURN_LABELS[m['role']]}: {m['content']}" for m in messages)
    return text if messages[-1]["role"] == "assistant" else text + HH_ASSISTANT


def is_transcript(text: str) -> bool:
    """Whether ``text`` is an HH-style transcript (it starts with a Human or System turn and
    has an Assistant turn)."""
    return text.startswith(("\n\nHuman:", "\n\nSystem:")) and HH_ASSISTANT in text


def prompt_messages(prompt: str) -> list[dict[str, str]]:
    """Inverse of :func:`messages_text`: a transcript's turns, or one user message."""
    if not is_transcript(prompt):
        return [{"role": "user", "content": prompt}]
    parts = _TURN.split(prompt)[1:]  # label, content, label, content, …
    messages = []
    for label, content in zip(parts[::2], parts[1::2], strict=True):
        content = content[1:] if content.startswith(" ") else content
        messages.append({"role": _TURN_ROLES[label], "content": content})
    if messages[-1]["role"] == "assistant" and not messages[-1]["content"]:
        messages.pop()  # the opened assistant turn the reply goes into
    return messages


def hh_prompt(prompt: str) -> str:
    """``prompt`` as an HH-RLHF transcript prefix ending in ``"\\n\\nAssistant:"``."""
    return _transcript(prompt_messages(prompt))


def split_hh_transcript(chosen: str, rejected: str) -> tuple[str, str, str]:
    """Split HH-RLHF ``chosen``/``rejected`` transcripts into (prompt, chosen, rejected).

    The prompt is the shared transcript up to and including the final ``"\\n\\nAssistant:"``;
    the responses are the two final replies, stripped of surrounding whitespace.
    """
    parts = []
    for name, text in (("chosen", chosen), ("rejected", rejected)):
        if not isinstance(text, str):
            raise FeedbackError(f"HH-RLHF: {name!r} must be a string, got {text!r:.40}.")
        cut = text.rfind(HH_ASSISTANT)
        if cut < 0:
            raise FeedbackError(f"HH-RLHF: the {name!r} transcript has no '\\n\\nAssistant:' turn.")
        parts.append((text[: cut + len(HH_ASSISTANT)], text[cut + len(HH_ASSISTANT) :].strip()))
    (prompt_c, resp_c), (prompt_r, resp_r) = parts
    if prompt_c != prompt_r:
        raise FeedbackError(
            "HH-RLHF: 'chosen' and 'rejected' differ before their final Assistant turn; "
            "they must share the conversation and differ only in the last reply."
        )
    return prompt_c, resp_c, resp_r


def split_shared_prefix(chosen: str, rejected: str) -> tuple[str, str, str]:
    """(prompt, chosen, rejected) from two texts that share their beginning (TRL's implicit
    prompt). The cut goes at the last whitespace before they differ, so no word is split and
    the responses keep their leading space (``prompt + chosen`` is the original text).

        >>> split_shared_prefix("The sky is blue.", "The sky is blurry.")
        ('The sky is', ' blue.', ' blurry.')
    """
    if chosen == rejected:
        raise FeedbackError("trl implicit-prompt preference: 'chosen' and 'rejected' are "
                            "identical; a comparison needs two different responses.")
    n = 0
    limit = min(len(chosen), len(rejected))
    while n < limit and chosen[n] == rejected[n]:
        n += 1
    cut = n if n < limit else limit - 1  # leave each response at least one character
    while cut > 0 and not chosen[cut].isspace():
        cut -= 1
    if cut <= 0 < n < limit:
        cut = n  # no word boundary in the shared part: cut where they differ
    if cut <= 0 or not chosen[:cut].strip():
        raise FeedbackError("trl implicit-prompt preference: 'chosen' and 'rejected' share no "
                            "prompt text; add a 'prompt' key with the prompt.")
    return chosen[:cut], chosen[cut:], rejected[cut:]


def _shared_messages(layout: str, chosen: list[dict[str, str]], rejected: list[dict[str, str]],
                     need_prompt: bool = True) -> tuple[list[dict[str, str]], str, str]:
    """(shared leading messages, chosen reply, rejected reply). Datasets that give a
    ``prompt`` often repeat it at the start of ``chosen``/``rejected``: that part is dropped."""
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    if n == 0 and need_prompt:
        raise FeedbackError(f"{layout}: 'chosen' and 'rejected' share no messages, so there is "
                            "no prompt; add a 'prompt' key with the prompt messages.")
    return chosen[:n], _reply(layout, chosen[n:], "chosen"), _reply(layout, rejected[n:],
                                                                     "rejected")


# -- row → record --------------------------------------------------------------------------
def _ours(row: Mapping[str, Any], defaults: ImportDefaults) -> FeedbackRecord:
    return record_from_dict(row)


def _annotator(row: Mapping[str, Any], defaults: ImportDefaults) -> Annotator:
    return Annotator.from_dict({k: v for k, v in row.items() if k != "kind"})


def _trl_preference(conv: bool) -> Converter:
    fmt = "trl-conversational" if conv else "trl"
    name = f"{fmt} preference"
    keys = ("prompt", "chosen", "rejected")

    def convert(row: Mapping[str, Any], defaults: ImportDefaults) -> Comparison:
        if conv:
            prompt = (_text(name, row, "prompt") if isinstance(row["prompt"], str)
                      else messages_text(_messages(name, row["prompt"], "prompt")))
            _, chosen, rejected = _shared_messages(
                name, _messages(name, row["chosen"], "chosen"),
                _messages(name, row["rejected"], "rejected"), need_prompt=False)
        else:
            prompt, chosen, rejected = (_text(name, row, k) for k in keys)
        return Comparison(prompt, chosen, rejected, "a",
                          **defaults.envelope(fmt, _extra(row, keys)))

    return convert


def _trl_implicit(conv: bool) -> Converter:
    fmt = "trl-conversational" if conv else "trl"
    name = f"{fmt} implicit-prompt preference"

    def convert(row: Mapping[str, Any], defaults: ImportDefaults) -> Comparison:
        if conv:
            shared, chosen, rejected = _shared_messages(
                name, _messages(name, row["chosen"], "chosen"),
                _messages(name, row["rejected"], "rejected"))
            prompt = messages_text(shared)
        else:
            prompt, chosen, rejected = split_shared_prefix(_text(name, row, "chosen"),
                                                           _text(name, row, "rejected"))
        return Comparison(prompt, chosen, rejected, "a",
                          **defaults.envelope(fmt, _extra(row, ("chosen", "rejected"))))

    return convert


def _prompt_and_completion(name: str, row: Mapping[str, Any], conv: bool) -> tuple[str, str]:
    if not conv:
        return _text(name, row, "prompt"), _text(name, row, "completion")
    prompt = messages_text(_messages(name, row["prompt"], "prompt"))
    return prompt, _reply(name, _messages(name, row["completion"], "completion"), "completion")


def _trl_unpaired(conv: bool) -> Converter:
    fmt = "trl-conversational" if conv else "trl"
    name = f"{fmt} unpaired preference"

    def convert(row: Mapping[str, Any], defaults: ImportDefaults) -> Rating:
        prompt, completion = _prompt_and_completion(name, row, conv)
        if not isinstance(row["label"], bool):
            raise FeedbackError(f"{name}: 'label' must be true or false, got "
                                f"{json.dumps(row['label'], default=str)[:40]}.")
        score = BINARY_SCALE[1] if row["label"] else BINARY_SCALE[0]
        return Rating(prompt, completion, score, scale=BINARY_SCALE,
                      **defaults.envelope(fmt, _extra(row, ("prompt", "completion", "label"))))

    return convert


def _trl_completion(conv: bool) -> Converter:
    fmt = "trl-conversational" if conv else "trl"
    name = f"{fmt} prompt-completion"

    def convert(row: Mapping[str, Any], defaults: ImportDefaults) -> Demonstration:
        prompt, completion = _prompt_and_completion(name, row, conv)
        return Demonstration(prompt, completion,
                             **defaults.envelope(fmt, _extra(row, ("prompt", "completion"))))

    return convert


def _hh(row: Mapping[str, Any], defaults: ImportDefaults) -> Comparison:
    transcript, chosen, rejected = split_hh_transcript(row["chosen"], row["rejected"])
    prompt = messages_text(prompt_messages(transcript))
    return Comparison(prompt, chosen, rejected, "a",
                      **defaults.envelope("hh-rlhf", _extra(row, ("chosen", "rejected"))))


_SKY = "What color is the sky?"


def _msg(role: str, content: str) -> list[dict[str, str]]:
    return [{"role": role, "content": content}]


def _foreign(conv: bool) -> list[Layout]:
    fmt = "trl-conversational" if conv else "trl"

    def val(role: str, standard: str, conversational: str) -> Any:
        return _msg(role, conversational) if conv else standard

    prompt = val("user", "The sky is", _SKY)
    blue, green = val("assistant", " blue.", "It is blue."), val("assistant", " green.",
                                                                 "It is green.")
    implicit = ({"chosen": _msg("user", _SKY) + _msg("assistant", "It is blue."),
                 "rejected": _msg("user", _SKY) + _msg("assistant", "It is green.")} if conv
                else {"chosen": "The sky is blue.", "rejected": "The sky is green."})
    no_kind = frozenset({"kind"})
    return [
        Layout(fmt, f"{fmt} preference", ("prompt", "chosen", "rejected"),
               {"prompt": prompt, "chosen": blue, "rejected": green}, _trl_preference(conv),
               no_kind),
        Layout(fmt, f"{fmt} implicit-prompt preference", ("chosen", "rejected"), implicit,
               _trl_implicit(conv), no_kind | {"prompt"}),
        Layout(fmt, f"{fmt} unpaired preference", ("prompt", "completion", "label"),
               {"prompt": prompt, "completion": blue, "label": True}, _trl_unpaired(conv),
               no_kind | {"chosen", "rejected"}),
        Layout(fmt, f"{fmt} prompt-completion", ("prompt", "completion"),
               {"prompt": prompt, "completion": blue}, _trl_completion(conv),
               no_kind | {"chosen", "rejected", "label"}),
    ]


_RECORD = Layout("rlhf-env", "rlhf-env record", ("kind",),
                 {"kind": "comparison", "prompt": _SKY, "response_a": "Blue.",
                  "response_b": "Green.", "preference": "a", "annotator": "ann1", "task": "sky"},
                 _ours)
_ANNOTATOR = Layout("rlhf-env", "rlhf-env annotator", ("kind", "id"),
                    {"kind": "annotator", "id": "ann1", "attributes": {"expertise": "weather"}},
                    _annotator)
LAYOUTS: tuple[Layout, ...] = (
    _RECORD,
    _ANNOTATOR,
    *_foreign(conv=False),
    *_foreign(conv=True),
    Layout("hh-rlhf", "hh-rlhf", ("chosen", "rejected"),
           {"chosen": f"\n\nHuman: {_SKY}\n\nAssistant: Blue.",
            "rejected": f"\n\nHuman: {_SKY}\n\nAssistant: Green."}, _hh,
           frozenset({"kind", "prompt"})),
)
"""Every layout, in the order rows are matched against them."""


# -- detection -----------------------------------------------------------------------------
def _is_hh(row: Mapping[str, Any]) -> bool:
    texts = [t for t in (row.get("chosen"), row.get("rejected")) if isinstance(t, str)]
    return "prompt" not in row and len(texts) == 2 and any(
        "\n\nHuman:" in t or HH_ASSISTANT in t for t in texts)


def layout_for(row: Any, fmt: str) -> Layout | None:
    """The layout of format ``fmt`` that ``row`` fits, or ``None``."""
    if not isinstance(row, Mapping):
        return None
    if fmt == "rlhf-env" and "kind" in row:
        return _ANNOTATOR if row["kind"] == "annotator" else _RECORD
    return next((lay for lay in LAYOUTS if lay.format == fmt and lay.fits(row)), None)


def detect_format(row: Any) -> str | None:
    """The format ``row`` belongs to, or ``None`` when it fits no layout (see the module
    docstring for the rules)."""
    if not isinstance(row, Mapping):
        return None
    if "kind" in row:
        return "rlhf-env"
    if _is_hh(row):
        return "hh-rlhf"
    return next((lay.format for lay in LAYOUTS if lay.format != "rlhf-env" and lay.fits(row)),
                None)


def unusable_hint(row: Mapping[str, Any]) -> str:
    """Why a row of a known but feedback-free TRL layout cannot be imported, or ``""``."""
    keys = set(row)
    if keys == {"prompt"}:
        return ("it is a TRL prompt-only row, which holds no feedback; queue prompts for "
                "labeling with `rlhf-env feedback enqueue`")
    if keys in ({"text"}, {"messages"}):
        return "it is a TRL language-modeling row (no prompt/response split, no feedback)"
    if {"prompt", "completions", "labels"} <= keys:
        return "TRL stepwise-supervision rows (per-step labels) are not supported"
    return ""


def layouts_help() -> str:
    """One example line per accepted layout, for error messages."""
    lines = [f"  - {lay.name}: {lay.example_line()}" for lay in LAYOUTS]
    return "Accepted layouts, one JSON object a line:\n" + "\n".join(lines)


# -- record → row --------------------------------------------------------------------------
def record_row(record: FeedbackRecord, fmt: str) -> dict[str, Any] | None:
    """``record`` as a row of ``fmt``, or ``None`` when ``fmt`` cannot hold it (see
    :func:`skip_reason`). Extra columns an import kept are written back."""
    if fmt == "rlhf-env":
        return {**record.to_dict(), "id": record.id}
    if fmt == "hh-rlhf":
        row = _hh_row(record)
    elif fmt in ("trl", "trl-conversational"):
        row = _trl_row(record, conv=fmt == "trl-conversational")
    else:
        raise FeedbackError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if row is None:
        return None
    extra = record.metadata.get("extra")
    if isinstance(extra, Mapping):
        row = {**{k: v for k, v in extra.items() if k not in _LAYOUT_KEYS}, **row}
    return row


def _hh_row(record: FeedbackRecord) -> dict[str, Any] | None:
    if not isinstance(record, Comparison) or record.chosen is None:
        return None
    head = hh_prompt(record.prompt)

    def turn(reply: str) -> str:  # import strips the reply, so one space is enough
        return head + (reply if reply[:1].isspace() else f" {reply}")

    return {"chosen": turn(record.chosen), "rejected": turn(str(record.rejected))}


def _is_binary(record: FeedbackRecord) -> bool:
    return (isinstance(record, Rating) and record.scale == BINARY_SCALE
            and record.score in BINARY_SCALE)


def _trl_row(record: FeedbackRecord, conv: bool) -> dict[str, Any] | None:
    def prompt(text: str) -> Any:
        return prompt_messages(text) if conv else text

    def reply(text: str) -> Any:
        return _msg("assistant", text) if conv else text

    if isinstance(record, Comparison) and record.chosen is not None:
        return {"prompt": prompt(record.prompt), "chosen": reply(record.chosen),
                "rejected": reply(str(record.rejected))}
    if isinstance(record, Demonstration):
        return {"prompt": prompt(record.prompt), "completion": reply(record.response)}
    if isinstance(record, Rating) and _is_binary(record):
        return {"prompt": prompt(record.prompt), "completion": reply(record.response),
                "label": record.score == BINARY_SCALE[1]}
    return None


def skip_reason(record: FeedbackRecord, fmt: str) -> str:
    """A short name for a record that ``fmt`` cannot hold, for export summaries."""
    if isinstance(record, Comparison) and record.chosen is None:
        return "tie comparison"
    if isinstance(record, Rating) and fmt.startswith("trl"):
        return "rating not 0/1 on a (0, 1) scale"
    return record.KIND


__all__ = [
    "BINARY_SCALE",
    "FORMATS",
    "IMPORT_FORMATS",
    "LAYOUTS",
    "Format",
    "ImportDefaults",
    "Layout",
    "detect_format",
    "hh_prompt",
    "is_transcript",
    "layout_for",
    "layouts_help",
    "messages_text",
    "prompt_messages",
    "record_row",
    "skip_reason",
    "split_hh_transcript",
    "split_shared_prefix",
]
