"""PPO losses over response tokens: clipped policy loss, clipped value loss, entropy."""

from __future__ import annotations

from typing import NamedTuple

import torch

from agents.token_ppo.advantages import masked_mean


class PolicyLoss(NamedTuple):
    """The clipped surrogate loss and its diagnostics (scalars)."""

    loss: torch.Tensor
    """``−E[min(ρ·A, clip(ρ, 1±ε)·A)]`` over real tokens (minimise it)."""
    clip_fraction: torch.Tensor
    """Share of tokens whose ratio lay outside ``[1 − ε, 1 + ε]``."""
    approx_kl: torch.Tensor
    """``E[(ρ − 1) − log ρ]``: how far the update moved the policy (≥ 0)."""


def policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor, clip_range: float) -> PolicyLoss:
    """PPO clipped objective. All inputs ``(B, R)``."""
    log_ratio = logprobs - old_logprobs
    ratio = log_ratio.exp()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip_range, 1.0 + clip_range) * advantages
    loss = -masked_mean(torch.minimum(unclipped, clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean(((ratio - 1.0).abs() > clip_range).float(), mask)
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask)
    return PolicyLoss(loss, clip_fraction, approx_kl)


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               mask: torch.Tensor, clip_range: float) -> torch.Tensor:
    """Half the squared error to ``returns``; with ``clip_range > 0`` the pessimistic maximum
    of the unclipped and the clipped (around ``old_values``) errors, as in PPO."""
    error = (values - returns) ** 2
    if clip_range > 0:
        clipped = old_values + (values - old_values).clamp(-clip_range, clip_range)
        error = torch.maximum(error, (clipped - returns) ** 2)
    return 0.5 * masked_mean(error, mask)


def entropy(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean entropy of the (transformed) next-token distributions over real tokens.

    Tokens removed by the sampling transform have ``-inf`` logits and contribute 0.
    """
    logp = logits.log_softmax(-1)
    p = logp.exp()
    per_token = -torch.where(p > 0, p * logp, torch.zeros_like(p)).sum(-1)
    return masked_mean(per_token, mask)


def explained_variance(predicted: torch.Tensor, target: torch.Tensor,
                       mask: torch.Tensor) -> float:
    """``1 − Var[target − predicted] / Var[target]`` over real tokens (nan if Var is 0)."""
    t_mean = masked_mean(target, mask)
    var_t = masked_mean((target - t_mean) ** 2, mask)
    resid = target - predicted
    var_r = masked_mean((resid - masked_mean(resid, mask)) ** 2, mask)
    return float("nan") if float(var_t) == 0 else float(1.0 - var_r / var_t)
