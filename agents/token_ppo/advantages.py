"""Credit assignment: per-token rewards, GAE, RLOO and group-relative baselines, whitening.

Shapes: ``B`` responses, ``R`` response positions; ``mask`` ``(B, R)`` marks real tokens
(up to and including EOS). Every function returns zeros at masked positions.
"""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over positions where ``mask`` is true (0 if there are none)."""
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1.0)


def whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """``x`` normalised to unit variance (and zero mean if ``shift_mean``) over ``mask``."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        out = out + mean
    return out * mask.to(x.dtype)


def last_index(mask: torch.Tensor) -> torch.Tensor:
    """``(B,)`` index of each row's last real token (0 for an empty row)."""
    return (mask.long().sum(-1) - 1).clamp(min=0)


def token_rewards(scores: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor,
                  kl_coef: float) -> torch.Tensor:
    """``r_t = −kl_coef · KL_t`` on every response token, plus the score on the last one.

    ``scores`` ``(B,)``; ``kl`` ``(B, R)`` per-token estimates. Returns ``(B, R)``.
    """
    rewards = -kl_coef * kl * mask.to(kl.dtype)
    rows = torch.arange(rewards.shape[0], device=rewards.device)
    rewards[rows, last_index(mask)] += scores.to(rewards.dtype)
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns ``(B, R)``, the value after the last
    real token taken as 0 (the episode ends there)."""
    m = mask.to(values.dtype)
    values = values * m
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * m[:, t]
        advantages[:, t] = running
    return advantages, (advantages + values) * m


def sequence_returns(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Undiscounted return of each response: the sum of its token rewards, ``(B,)``."""
    return (rewards * mask.to(rewards.dtype)).sum(-1)


def rloo(returns: torch.Tensor, group_size: int) -> torch.Tensor:
    """Leave-one-out advantages ``(B,)``: each return minus the mean of the other returns of
    its group. Rows ``[g·k, (g+1)·k)`` (``k = group_size ≥ 2``) share a prompt."""
    grouped = returns.view(-1, group_size)
    others = (grouped.sum(-1, keepdim=True) - grouped) / (group_size - 1)
    return (grouped - others).reshape(-1)


def group_relative(returns: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """Group-relative (GRPO-style) advantages ``(B,)``: returns standardised within groups."""
    grouped = returns.view(-1, group_size)
    mean = grouped.mean(-1, keepdim=True)
    std = grouped.std(-1, keepdim=True)
    return ((grouped - mean) / (std + eps)).reshape(-1)


def broadcast(seq_adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A per-response advantage ``(B,)`` spread over its tokens ``(B, R)``."""
    return seq_adv[:, None] * mask.to(seq_adv.dtype)
