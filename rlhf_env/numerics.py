"""Guards that stop training when numbers stop being numbers.

A NaN or infinite loss or gradient (a too-high learning rate, ``inf`` in a config, a reward
model gone wrong) would otherwise turn every weight into NaN one optimizer step later, and
the next checkpoint would save them over the last good one. Every trainer calls these before
its optimizer step, so the run stops with a :class:`~rlhf_env.errors.TrainingError` and the
weights (and any checkpoint on disk) stay as they were.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from rlhf_env.errors import TrainingError

_ADVICE = ("nothing was updated or saved; lower the learning rate, check the inputs and "
           "the reward model's scores, or enable gradient clipping")


def check_loss(loss: Any, where: str, step: int | None = None) -> None:
    """Raise :class:`TrainingError` when ``loss`` (a number or a one-element tensor) is
    NaN or infinite."""
    value = float(loss.detach()) if hasattr(loss, "detach") else float(loss)
    if not math.isfinite(value):
        at = "" if step is None else f" at step {step}"
        raise TrainingError(f"{where}: the loss is {value}{at}; {_ADVICE}.")


def grad_norm(params: Iterable[Any]) -> float:
    """The global L2 norm of the gradients of ``params`` (``nan``/``inf`` when any is)."""
    import torch

    norms = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    if not norms:
        return 0.0
    return float(torch.stack(norms).norm())


def check_grads(params: Iterable[Any], where: str, step: int | None = None) -> float:
    """Raise :class:`TrainingError` when a gradient of ``params`` is NaN or infinite;
    returns the global gradient norm."""
    norm = grad_norm(params)
    if not math.isfinite(norm):
        at = "" if step is None else f" at step {step}"
        raise TrainingError(f"{where}: a gradient is {norm}{at}; {_ADVICE}.")
    return norm


def check_parameters(module: Any, where: str) -> None:
    """Raise :class:`TrainingError` when a parameter of ``module`` is NaN or infinite (run
    before writing a checkpoint)."""
    import torch

    for name, p in module.named_parameters():
        if not bool(torch.isfinite(p.detach()).all()):
            raise TrainingError(f"{where}: parameter {name!r} holds NaN or inf; the "
                                f"checkpoint was not written. {_ADVICE.capitalize()}.")


__all__ = ["check_grads", "check_loss", "check_parameters", "grad_norm"]
