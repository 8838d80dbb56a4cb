"""The policy's side of KL(π‖π_ref) for SB3 policies on the text bandit.

SB3's ``MultiInputPolicy`` on ``RLHF-Text-v0`` is factorised: one categorical distribution
per response position, drawn independently. The env cuts the response at the first EOS, so
the positions after it are padding that any value fills; summed over them, their
probabilities are 1. The probability of the response the env scored is therefore the
product over its *kept* positions (up to and including the first EOS, or all of them when it
hit the limit), and

    log π(response | prompt) = Σ_{t < response_tokens} log π_t(a_t | prompt).

Minus the env's ``info["ref_logprob"]`` (the reference LM's summed log-probability of the
same tokens) this is a one-sample, unbiased estimate of KL(π‖π_ref) over responses, in
nats; like the token trainer's k1 it can be negative on a single response.

Limits: it is the KL between the two distributions over token sequences the env can emit.
With a restricted action vocabulary π puts no mass outside it while π_ref does, which the
estimate handles (it only needs log π_ref of sampled responses); but the policy cannot
represent dependence between positions, so this is the KL a factorised policy pays, not the
smallest one reachable by an autoregressive policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def position_logprobs(distribution: Any, actions: torch.Tensor) -> torch.Tensor:
    """``(B, R)`` log-probability of each position's action under an SB3
    ``MultiCategoricalDistribution`` (``actions``: ``(B, R)`` action indices)."""
    parts = distribution.distribution
    return torch.stack([d.log_prob(a) for d, a in zip(parts, actions.T, strict=True)], dim=1)


def response_logprobs(distribution: Any, actions: torch.Tensor,
                      lengths: Sequence[int]) -> np.ndarray:
    """``(B,)`` float64 ``log π(response)``: the first ``lengths[b]`` positions' log-probs
    summed (``lengths``: the env's ``response_tokens``, EOS included when emitted)."""
    logp = position_logprobs(distribution, actions).detach().cpu().double().numpy()
    kept = np.arange(logp.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return (logp * kept).sum(axis=1)


@torch.no_grad()
def policy_response_logprobs(policy: Any, obs: Any, actions: Any,
                             lengths: Sequence[int]) -> np.ndarray:
    """:func:`response_logprobs` of ``actions`` (array or tensor, ``(B, R)``) under an SB3
    policy's distribution at ``obs`` (an observation tensor dict, as in a rollout)."""
    acts = torch.as_tensor(actions, device=policy.device).long()
    return response_logprobs(policy.get_distribution(obs), acts, lengths)
