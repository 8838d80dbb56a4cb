"""Wrap a plain Python function as a reward model.

Two shapes of function are accepted:

* **batched** ``fn(prompts: list[str], responses: list[str]) -> array-like (n,)``
* **per pair** ``fn(prompt: str, response: str) -> float``, called once per pair.

With ``batched=None`` the shape is detected once, on the first call: a function whose first
parameter is annotated ``str`` (or whose return annotation is ``float``) is per pair; one
annotated with a sequence type is batched; otherwise the function is tried on the whole
batch, and if that raises, or returns a single number instead of one score per pair, it is
treated as per pair. Pass ``batched=`` explicitly to skip the probe (it calls ``fn`` twice on
the first batch when the guess is "per pair").
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rlhf_env.errors import RewardModelError
from rlhf_env.rewards.base import check_pairs, validate_scores

_SEQUENCE_HINTS = ("list", "sequence", "tuple", "iterable", "ndarray")


def _annotation_text(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    if isinstance(annotation, str):
        return annotation.lower()
    return (getattr(annotation, "__name__", None) or repr(annotation)).lower()


def guess_batched(fn: Callable[..., Any]) -> bool | None:
    """``True``/``False`` when annotations tell whether ``fn`` is batched, else ``None``."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    first = _annotation_text(params[0].annotation) if params else ""
    ret = _annotation_text(sig.return_annotation)
    if first == "str" or ret in ("float", "int"):
        return False
    if any(hint in first for hint in _SEQUENCE_HINTS):
        return True
    return None


def _name_of(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


class CallableReward:
    """A reward model around a function (batched or per pair; see the module docstring).

    Args:
        fn: the function.
        name: used in error messages and logs; defaults to the function's ``__name__``.
        batched: ``True``/``False`` to say which shape ``fn`` has; ``None`` to detect it.
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None,
                 batched: bool | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"CallableReward needs a callable, got {type(fn).__name__}.")
        self.fn = fn
        self.name = name or _name_of(fn)
        self.batched = batched if batched is not None else guess_batched(fn)

    def __repr__(self) -> str:
        return f"CallableReward({self.name!r}, batched={self.batched})"

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Scores of each pair, float32 ``(n,)``, validated (NaN/inf/shape raise)."""
        prompts, responses = list(prompts), list(responses)
        check_pairs(prompts, responses, self)
        if self.batched is None:
            raw = self._detect_and_score(prompts, responses)
        elif self.batched:
            raw = self.fn(prompts, responses)
        else:
            raw = self._score_pairs(prompts, responses)
        return validate_scores(raw, len(responses), self)

    def _score_pairs(self, prompts: list[str], responses: list[str]) -> list[float]:
        out = []
        for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
            value = self.fn(p, r)
            try:
                out.append(float(value))
            except (TypeError, ValueError) as exc:
                raise RewardModelError(
                    f"reward model {self.name!r} returned {type(value).__name__} for pair {i}; "
                    f"a per-pair function must return one number. If it is batched, pass "
                    f"batched=True."
                ) from exc
        return out

    def _detect_and_score(self, prompts: list[str], responses: list[str]) -> Any:
        """Try ``fn`` on the whole batch; fall back to per pair (and remember the answer)."""
        try:
            raw = self.fn(prompts, responses)
        except Exception as batch_exc:
            try:
                out = self._score_pairs(prompts, responses)
            except Exception as pair_exc:
                raise pair_exc from batch_exc
            self.batched = False
            return out
        if np.ndim(raw) == 0 or (hasattr(raw, "__len__") and len(raw) != len(responses)):
            try:
                out = self._score_pairs(prompts, responses)
            except Exception:
                validate_scores(raw, len(responses), self)  # report the batched shape error
                raise
            self.batched = False
            return out
        self.batched = True
        return raw
