"""One rollout against ``RLHF-Text-v0``'s vector env: prompts → generate → score → reference.

The env supplies prompts (``reset`` observations, left-padded) and scores (``step`` with the
response token ids as the action, EOS-padded to the env's response length). The agent
generates, and computes the reference log-probs for the per-token KL itself in one batched
forward pass, so the env runs with ``kl_coef=0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.token_ppo.generation import (
    Generation,
    LMSampler,
    SamplingTransform,
    generate,
    position_ids,
    shared_group_size,
)
from agents.token_ppo.policy import PolicyWithValue
from agents.token_ppo.profiling import stage
from rlhf_env.errors import ConfigError


@dataclass(frozen=True)
class Rollout:
    """A batch of episodes ready for credit assignment. ``B`` episodes, ``P`` prompt
    columns (left padding trimmed), ``R`` response positions."""

    input_ids: torch.Tensor
    """``(B, P + R)`` prompt and response ids."""
    attention_mask: torch.Tensor
    """``(B, P + R)`` int64: real prompt tokens and response tokens up to EOS."""
    generation: Generation
    """Response tokens, mask, old log-probs and values ``(B, R)`` from the sampling pass."""
    ref_logprobs: torch.Tensor | None
    """``(B, R)`` reference log-probs of the response tokens; ``None`` when the rollout ran
    no reference pass (the KL is not in the reward, see ``TokenPPOConfig.reference_pass``)."""
    scores: torch.Tensor
    """``(B,)`` env (reward-model) scores, before any penalty."""
    gold_scores: np.ndarray | None
    """``(B,)`` gold scores when the task has a gold scorer."""
    prompts: list[str]
    """Prompt texts."""
    responses: list[str]
    """Response texts as the env decoded them."""


def pick_prompts(rng: np.random.Generator, n_prompts: int, batch_size: int,
                 group_size: int) -> list[int]:
    """Prompt indices for one rollout: ``batch_size / group_size`` prompts, each repeated
    ``group_size`` times in consecutive rows."""
    chosen = rng.integers(0, n_prompts, size=batch_size // group_size)
    return [int(i) for i in np.repeat(chosen, group_size)]


def trim_left(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the leading columns that are padding in every row (less wasted compute)."""
    used = mask.bool().any(0).nonzero()
    start = int(used[0]) if used.numel() else ids.shape[1]
    return ids[:, start:], mask[:, start:]


def response_actions(gen: Generation, eos_id: int, length: int) -> np.ndarray:
    """The env action: response ids ``(B, length)`` with positions after EOS set to EOS."""
    tokens = gen.tokens.cpu().numpy()
    if tokens.shape[1] > length:
        raise ConfigError(f"generated {tokens.shape[1]} tokens but the env accepts "
                          f"{length}; build the env with max_response_tokens ≥ max_new_tokens.")
    out = np.full((tokens.shape[0], length), eos_id, dtype=np.int64)
    out[:, : tokens.shape[1]] = np.where(gen.mask.cpu().numpy(), tokens, eos_id)
    return out


def score(env: Any, gen: Generation, eos_id: int) -> tuple[torch.Tensor, Any, list, list]:
    """Step the env with the responses: scores ``(B,)``, gold scores, prompts, responses."""
    length = int(env.single_action_space.shape[0])
    _, _, _, _, infos = env.step(response_actions(gen, eos_id, length))
    final = infos["final_info"]
    gold = np.asarray(final["gold_score"], np.float32) if "gold_score" in final else None
    scores = torch.as_tensor(np.asarray(final["score"], np.float32))
    return scores, gold, list(final["prompt"]), list(final["response"])


def reference_logprobs(policy: PolicyWithValue, ids: torch.Tensor, mask: torch.Tensor,
                       tokens: torch.Tensor, transform: SamplingTransform,
                       group_size: int = 1) -> torch.Tensor:
    """``log π_ref`` ``(B, R)`` of the response tokens (temperature and allowed-token mask
    applied, top-k/top-p not), in one batched pass of the reference (each group's shared
    prompt run once, see :func:`~agents.token_ppo.generation.shared_group_size`)."""
    n = tokens.shape[1]
    g = shared_group_size(ids[:, :-n], mask[:, :-n], group_size)
    logits = policy.reference_logits(ids, mask, position_ids(mask), n, group_size=g)
    logp = transform(logits, truncate=False).log_softmax(-1)
    return logp.gather(-1, tokens[..., None]).squeeze(-1)


def collect(env: Any, policy: PolicyWithValue, indices: list[int], *, max_new_tokens: int,
            eos_id: int, transform: SamplingTransform,
            generator: torch.Generator | None, group_size: int = 1,
            with_reference: bool = True, with_values: bool = True) -> Rollout:
    """Reset the env on prompts ``indices``, sample responses, score them, add reference
    log-probs. ``group_size``: responses per prompt in consecutive rows (their prompt is
    prefilled once per group). ``with_reference=False`` skips the reference pass;
    ``with_values=False`` samples without the value head (values are 0)."""
    obs, _ = env.reset(options={"prompt_index": indices})
    device = next(policy.parameters()).device
    ids, mask = trim_left(torch.as_tensor(obs["input_ids"], device=device),
                          torch.as_tensor(obs["attention_mask"], device=device))
    sampler = policy if with_values else LMSampler(policy.lm)
    with stage("generate"):
        gen = generate(sampler, ids, mask, max_new_tokens=max_new_tokens, eos_id=eos_id,
                       transform=transform, generator=generator, group_size=group_size)
    with stage("score"):
        scores, gold, prompts, responses = score(env, gen, eos_id)
    full_ids = torch.cat([ids, gen.tokens], dim=1)
    full_mask = torch.cat([mask.long(), gen.mask.long()], dim=1)
    ref = None
    if with_reference:
        with stage("reference"):
            ref = reference_logprobs(policy, full_ids, full_mask, gen.tokens, transform,
                                     group_size).float()
    return Rollout(full_ids, full_mask, gen, ref, scores.to(device), gold, prompts, responses)
