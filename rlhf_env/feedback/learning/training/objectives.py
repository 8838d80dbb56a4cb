"""Loss functions of the reward-model trainer: pure torch, scores in, scalar loss out.

==========================  ==============================================================
:func:`pairwise_loss`       Bradley–Terry: ``−[t·log σ(d − m) + (1−t)·log σ(−(d − m))]``
                            with ``d = r_a − r_b``, target ``t`` (1 = a wins, ½ = tie) and
                            an optional margin ``m``
:func:`plackett_luce_loss`  Plackett–Luce over best-first rankings, ties by Breslow's rule;
                            equals Bradley–Terry for K = 2 without ties
:func:`regression_loss`     squared error against normalised ratings
:func:`ordinal_loss`        all-threshold ordinal logistic loss with learned cut points
==========================  ==============================================================

Every loss takes per-example ``weights`` and returns the weighted mean.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def _weighted_mean(losses: Tensor, weights: Tensor | None) -> Tensor:
    if weights is None:
        return losses.mean()
    return (losses * weights).sum() / weights.sum().clamp(min=1e-12)


def pairwise_loss(
    scores_a: Tensor,
    scores_b: Tensor,
    targets: Tensor | None = None,
    margins: Tensor | None = None,
    weights: Tensor | None = None,
    lapse: float = 0.0,
) -> Tensor:
    """Bradley–Terry loss of ``P(a ≻ b) = σ(r_a − r_b − margin)`` against ``targets``.

    Shapes: all ``(P,)``. ``targets`` defaults to 1 (a preferred); ties use 0.5. With
    ``lapse`` = ε > 0 the likelihood is ``ε/2 + (1 − ε)·σ(…)``: a share ε of labels is taken
    to be a coin flip (Christiano et al. 2017 assume 10%), so a few contrary labels no longer
    cap how far apart the model may put two clearly different items.
    """
    diff = scores_a - scores_b
    if margins is not None:
        diff = diff - margins
    if targets is None:
        targets = torch.ones_like(diff)
    if lapse > 0.0:
        p = lapse / 2 + (1.0 - lapse) * torch.sigmoid(diff)
        losses = -(targets * torch.log(p) + (1.0 - targets) * torch.log1p(-p))
    else:
        losses = F.binary_cross_entropy_with_logits(diff, targets, reduction="none")
    return _weighted_mean(losses, weights)


def plackett_luce_loss(
    scores: Tensor, ranks: Tensor, valid: Tensor, weights: Tensor | None = None
) -> Tensor:
    """Negative log-likelihood of rankings under Plackett–Luce (Breslow ties).

    Shapes: ``scores``, ``ranks`` and ``valid`` are ``(N, K)``; ``ranks`` holds each
    response's rank (0 = best, equal ranks = tie), ``valid`` masks padding. Each stage
    removes the responses of one rank from the remaining set ``R`` and adds
    ``Σ_{i∈G} (−r_i) + |G|·log Σ_{j∈R} exp r_j``.
    """
    valid = valid.bool()
    # later[n, i, j]: response j is still in the choice set when response i is placed.
    later = (ranks.unsqueeze(1) >= ranks.unsqueeze(2)) & valid.unsqueeze(1) & valid.unsqueeze(2)
    # keep the diagonal so padded rows stay finite (no NaN gradients through -inf)
    later = later | torch.eye(scores.shape[1], dtype=torch.bool, device=scores.device)
    masked = scores.unsqueeze(1).expand_as(later).masked_fill(~later, float("-inf"))
    lse = torch.logsumexp(masked, dim=2)  # (N, K)
    per_item = torch.where(valid, lse - scores, torch.zeros_like(scores))
    return _weighted_mean(per_item.sum(dim=1), weights)


def regression_loss(scores: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
    """Weighted mean squared error between scores and (normalised) rating targets."""
    return _weighted_mean((scores - targets) ** 2, weights)


def cut_points(raw: Tensor) -> Tensor:
    """Increasing cut points from unconstrained parameters: ``c_0, c_0 + softplus(...)…``."""
    return torch.cat([raw[:1], raw[:1] + torch.cumsum(F.softplus(raw[1:]), dim=0)])


def ordinal_loss(
    scores: Tensor, levels: Tensor, raw_cuts: Tensor, weights: Tensor | None = None
) -> Tensor:
    """All-threshold ordinal logistic loss for ratings on ``L`` levels.

    ``levels`` are integers ``0..L−1`` (shape ``(R,)``); ``raw_cuts`` has ``L − 1``
    unconstrained parameters turned into increasing cut points by :func:`cut_points`. For
    every cut ``k`` the model should say ``level > k`` exactly when it is.
    """
    cuts = cut_points(raw_cuts)  # (L-1,)
    logits = scores.unsqueeze(1) - cuts.unsqueeze(0)  # (R, L-1)
    above = (levels.unsqueeze(1) > torch.arange(len(cuts), device=scores.device)).to(
        scores.dtype
    )
    losses = F.binary_cross_entropy_with_logits(logits, above, reduction="none").sum(dim=1)
    return _weighted_mean(losses, weights)


def init_cuts(n_levels: int, **kwargs: Any) -> Tensor:
    """Unconstrained parameters for ``n_levels − 1`` evenly spaced cut points around 0."""
    n = n_levels - 1
    raw = torch.zeros(n, **kwargs)
    if n > 0:
        raw[0] = -(n - 1) / 2.0
        # softplus(0.5413) ≈ 1: unit spacing
        raw[1:] = 0.5413
    return raw


__all__ = [
    "cut_points",
    "init_cuts",
    "ordinal_loss",
    "pairwise_loss",
    "plackett_luce_loss",
    "regression_loss",
]
