"""Batched, KV-cached sampling that also returns the sampling policy's log-probs and values.

The same :class:`SamplingTransform` (temperature, allowed tokens, top-k, top-p) shapes the
logits when sampling and when the trainer recomputes log-probs, so the PPO ratio
``π_new / π_old`` compares the distributions the tokens were actually drawn from. The
log-probs returned here are ``log π_old`` for the first minibatch of the first epoch: the
trainer never recomputes them with a second forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from agents.token_ppo.policy import LMStep


@dataclass(frozen=True)
class SamplingTransform:
    """Turns raw next-token logits into the (masked, tempered) logits actually sampled from."""

    temperature: float = 1.0
    """Logits are divided by this."""
    top_k: int = 0
    """Keep the k largest logits (0: all)."""
    top_p: float = 1.0
    """Keep the smallest set of tokens whose probability mass reaches ``top_p`` (1: all)."""
    allowed: torch.Tensor | None = None
    """Boolean ``(V,)`` mask of tokens that may be sampled (``None``: all)."""

    def __call__(self, logits: torch.Tensor, *, truncate: bool = True) -> torch.Tensor:
        """Transformed float logits, same shape ``(..., V)``; removed tokens get ``-inf``.

        ``truncate=False`` applies only temperature and the allowed-token mask (for the
        reference model, whose log-probs must stay finite on every sampled token).
        """
        logits = logits.float() / self.temperature
        if self.allowed is not None:
            logits = logits.masked_fill(~self.allowed, float("-inf"))
        if truncate and 0 < self.top_k < logits.shape[-1]:
            kth = logits.topk(self.top_k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if truncate and self.top_p < 1.0:
            logits = _nucleus(logits, self.top_p)
        return logits


def _nucleus(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Mask tokens outside the top-p nucleus (the most likely token always stays)."""
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    mass_before = probs.cumsum(-1) - probs
    drop_sorted = mass_before >= top_p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


@dataclass(frozen=True)
class Generation:
    """Sampled responses. ``B`` = batch, ``R`` = longest response in this batch (≤ limit)."""

    tokens: torch.Tensor
    """``(B, R)`` int64 response ids; positions after a row's EOS hold EOS."""
    mask: torch.Tensor
    """``(B, R)`` bool: the response tokens, up to and including the first EOS."""
    logprobs: torch.Tensor
    """``(B, R)`` float32 ``log π_old`` of each token under the sampling transform."""
    values: torch.Tensor
    """``(B, R)`` float32 value-head estimates of the state before each token."""
    hit_limit: torch.Tensor
    """``(B,)`` bool: the response reached the token limit without EOS."""


def position_ids(mask: torch.Tensor) -> torch.Tensor:
    """Positions counted over real tokens only, so left padding never shifts them."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def _sample_step(logits: torch.Tensor, transform: SamplingTransform,
                 generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    logp_all = transform(logits).log_softmax(-1)
    token = torch.multinomial(logp_all.exp(), 1, generator=generator).squeeze(-1)
    return token, logp_all.gather(-1, token[:, None]).squeeze(-1)


def shared_group_size(input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      group_size: int) -> int:
    """``group_size`` if the rows come in consecutive groups of that many identical prompts
    (as :func:`~agents.token_ppo.rollout.pick_prompts` lays them out), else 1.

    Such a batch needs the prompt run through the model once per group, not once per row:
    the prompt's keys and values are computed for one row of each group and repeated.
    """
    batch = input_ids.shape[0]
    if group_size <= 1 or batch % group_size:
        return 1
    for t in (input_ids, attention_mask):
        grouped = t.reshape(batch // group_size, group_size, -1)
        if not bool((grouped == grouped[:, :1]).all()):
            return 1
    return group_size


class Sampler(Protocol):
    """What :func:`generate` samples from: one incremental, KV-cached step of a causal LM
    (:class:`PolicyWithValue` with its values, or :class:`LMSampler` with values 0)."""

    def lm_step(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                positions: torch.Tensor, cache: Any) -> LMStep: ...


class LMSampler:
    """A plain causal LM (no value head) behind :func:`generate`: its ``lm_step`` with
    values 0. For sampling from a model that is not a :class:`PolicyWithValue` (best-of-n's
    draws, a benchmark's evaluation of an SB3 LM policy)."""

    def __init__(self, lm: Any) -> None:
        self.lm = lm

    def lm_step(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                positions: torch.Tensor, cache: Any) -> LMStep:
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask,
                      position_ids=positions, past_key_values=cache, use_cache=True,
                      logits_to_keep=1)
        logits = out.logits[:, -1]
        return LMStep(logits, logits.new_zeros(logits.shape[0]), out.past_key_values)


@torch.no_grad()
def generate(policy: Sampler, input_ids: torch.Tensor, attention_mask: torch.Tensor,
             *, max_new_tokens: int, eos_id: int, transform: SamplingTransform,
             generator: torch.Generator | None = None, group_size: int = 1) -> Generation:
    """Sample up to ``max_new_tokens`` per left-padded prompt, reusing the KV cache.

    Stops as soon as every row has emitted EOS. Returns tokens, masks, the log-probs of the
    sampled tokens under ``transform`` and the value estimates, from this single pass. With
    ``group_size`` ``g`` > 1 and consecutive groups of ``g`` identical prompts, each prompt
    is prefilled once and its cache shared by the group (:func:`shared_group_size`); the
    samples are the same as without sharing.
    """
    batch = input_ids.shape[0]
    mask = attention_mask.long()
    pos = position_ids(mask)
    g = shared_group_size(input_ids, mask, group_size)
    step: Any = policy.lm_step(input_ids[::g], mask[::g], pos[::g], cache=None)
    if g > 1:  # one row per group was prefilled: repeat it (and its cache) for the group
        step.cache.batch_repeat_interleave(g)
        step = LMStep(step.logits.repeat_interleave(g, 0), step.values.repeat_interleave(g, 0),
                      step.cache)
    done = torch.zeros(batch, dtype=torch.bool, device=input_ids.device)
    tokens, logps, values, valid = [], [], [], []
    next_pos = pos[:, -1:] + 1
    for _ in range(max_new_tokens):
        token, logp = _sample_step(step.logits, transform, generator)
        token = token.masked_fill(done, eos_id)
        tokens.append(token)
        logps.append(logp.masked_fill(done, 0.0))
        values.append(step.values)
        valid.append(~done)
        done = done | (token == eos_id)
        if bool(done.all()):
            break
        mask = torch.cat([mask, mask.new_ones(batch, 1)], dim=1)
        step = policy.lm_step(token[:, None], mask, next_pos, cache=step.cache)
        next_pos = next_pos + 1
    return Generation(tokens=torch.stack(tokens, 1), mask=torch.stack(valid, 1),
                      logprobs=torch.stack(logps, 1).float(),
                      values=torch.stack(values, 1).float(), hit_limit=~done)
