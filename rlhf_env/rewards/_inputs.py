"""Turning (prompt, response) texts into padded token batches for text reward models.

Shared by :mod:`.hf_classifier` and :mod:`.encoder_head`. Texts are tokenized once without
padding, sorted by length and cut into batches, so each batch pads only to its own longest
member (little padding waste when lengths vary). BERT-style tokenizers have no EOS token;
nothing here assumes one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rlhf_env.errors import ConfigError

INPUT_FORMATS = ("prompt+response", "response")
"""``"prompt+response"``: the pair is encoded as a text pair (``[CLS] prompt [SEP] response``
for BERT); ``"response"``: the response alone (the prompt is ignored)."""


def check_input_format(value: str) -> str:
    """Return ``value`` if it is a known input format, else raise :class:`ConfigError`."""
    if value not in INPUT_FORMATS:
        raise ConfigError(
            f"input_format must be one of {INPUT_FORMATS}, got {value!r}."
        )
    return value


def text_keys(prompts: Sequence[str], responses: Sequence[str],
              input_format: str) -> list[tuple[str, ...]]:
    """The text(s) the model sees for each pair; also usable as cache keys."""
    if input_format == "response":
        return [(r,) for r in responses]
    return [(p, r) for p, r in zip(prompts, responses, strict=True)]


def resolve_device(device: Any) -> Any:
    """``None`` means CUDA when available, else CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass(frozen=True)
class TokenBatch:
    """One padded batch: ``indices`` (positions in the caller's list) and model inputs."""

    indices: list[int]
    """Where each row of the batch sits in the original list of texts."""
    tensors: dict[str, Any]
    """``input_ids``/``attention_mask`` (and ``token_type_ids`` if any), each ``(B, T)``."""


def tokenize(tokenizer: Any, keys: Sequence[tuple[str, ...]], max_length: int) -> list[dict]:
    """Tokenize every key (one text or a text pair) without padding, truncated to
    ``max_length`` tokens (longest part first for pairs)."""
    if not keys:
        return []
    firsts = [k[0] for k in keys]
    seconds = [k[1] for k in keys] if len(keys[0]) == 2 else None
    enc = tokenizer(firsts, seconds, truncation=True, max_length=max_length, padding=False)
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in enc]
    return [{n: enc[n][i] for n in names} for i in range(len(keys))]


def pad(rows: Sequence[dict], pad_token_id: int, device: Any) -> dict[str, Any]:
    """Right-pad token rows into ``(B, T)`` long tensors on ``device``."""
    import torch

    width = max(len(r["input_ids"]) for r in rows)
    out: dict[str, Any] = {}
    for name in rows[0]:
        fill = pad_token_id if name == "input_ids" else 0
        data = [list(r[name]) + [fill] * (width - len(r[name])) for r in rows]
        out[name] = torch.tensor(data, dtype=torch.long, device=device)
    return out


def length_sorted_batches(tokenizer: Any, keys: Sequence[tuple[str, ...]], *, max_length: int,
                          batch_size: int, device: Any) -> Iterator[TokenBatch]:
    """Yield padded batches of ``keys`` grouped by token length (longest first)."""
    rows = tokenize(tokenizer, keys, max_length)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]), reverse=True)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        yield TokenBatch(idx, pad([rows[i] for i in idx], pad_id, device))
