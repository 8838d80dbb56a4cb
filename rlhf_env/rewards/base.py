"""The reward-model contract every scorer follows.

A reward model maps a batch of (prompt, response) *texts* to one float32 score each::

    score(prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray  # shape (n,)

Text in, so a reward model never has to share the policy's tokenizer. Implementations may
be plain callables (wrapped by :class:`CallableReward`), Hugging Face classifiers, encoder +
head models trained here, ensembles and normalisers. Whatever they return goes through
:func:`validate_scores` before an agent sees it: NaN/inf or wrong shapes raise
:class:`~rlhf_env.errors.RewardModelError` naming the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rlhf_env.errors import RewardModelError


@runtime_checkable
class RewardModel(Protocol):
    """Anything with a batched ``score(prompts, responses) -> float32 (n,)`` method."""

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class LowerPrecisionReward(Protocol):
    """A reward model whose frozen network can run at a lower precision (see
    :mod:`rlhf_env.models.precision`): :class:`~rlhf_env.rewards.encoder_head.EncoderHeadReward`,
    and so the default ``sentiment`` model."""

    def at_precision(self, precision: str) -> Any:
        """This model with its frozen network at ``precision`` (``self`` when it already
        runs there; else a new model, this one left as it is)."""
        ...


def reward_at_precision(model: Any, precision: str) -> Any:
    """``model`` with its frozen network at ``precision`` when it is a
    :class:`LowerPrecisionReward`; any other reward model (rules, VADER, callables, models
    without that method) is returned as it is."""
    if isinstance(model, LowerPrecisionReward):
        return model.at_precision(precision)
    return model


def describe(model: Any) -> str:
    """A short human name for a reward model, used in error messages and logs."""
    name = getattr(model, "name", None)
    if isinstance(name, str) and name:
        return name
    fn = getattr(model, "__name__", None) or type(model).__name__
    return str(fn)


def validate_scores(raw: Any, n: int, model: Any) -> np.ndarray:
    """Return ``raw`` as a float32 array of shape ``(n,)`` or raise a clear error.

    Accepts lists, numpy arrays and (CPU or GPU) torch tensors; a trailing singleton
    dimension ``(n, 1)`` is squeezed.
    """
    who = describe(model)
    if hasattr(raw, "detach"):  # torch tensor, without importing torch
        raw = raw.detach().float().cpu().numpy()
    try:
        scores = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise RewardModelError(
            f"reward model {who!r} returned {type(raw).__name__}, which is not an array of "
            f"numbers; score() must return a float array of shape ({n},)."
        ) from exc
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.shape != (n,):
        raise RewardModelError(
            f"reward model {who!r} returned scores of shape {scores.shape} for {n} responses; "
            f"expected shape ({n},): one score per (prompt, response) pair."
        )
    bad = ~np.isfinite(scores)
    if bad.any():
        kinds = "NaN" if np.isnan(scores).all() else "NaN or inf"
        raise RewardModelError(
            f"reward model {who!r} returned {kinds} for {int(bad.sum())} of {n} responses "
            f"(indices {np.flatnonzero(bad)[:8].tolist()}). Check the model's inputs (empty "
            f"responses?) and its numerical stability; a non-finite reward would corrupt training."
        )
    return scores


def check_pairs(prompts: Sequence[str], responses: Sequence[str], model: Any = None) -> None:
    """Raise :class:`RewardModelError` unless there is one prompt per response."""
    if len(prompts) != len(responses):
        who = f"reward model {describe(model)!r} " if model is not None else ""
        raise RewardModelError(
            f"{who}got {len(prompts)} prompts but {len(responses)} responses; pass one prompt "
            f"per response."
        )


def score_checked(model: RewardModel, prompts: Sequence[str],
                  responses: Sequence[str]) -> np.ndarray:
    """Call ``model.score`` and validate the result (see :func:`validate_scores`)."""
    check_pairs(prompts, responses)
    return validate_scores(model.score(list(prompts), list(responses)), len(responses), model)
