"""Log-probabilities of responses under a frozen reference model, one batched forward pass.

The env's KL leash: with a reference model the reward gets ``kl_coef · log π_ref(response |
prompt)``. The env never sees the agent's log-probs; the agent supplies the ``− log π`` side
(an entropy bonus for factorised SB3 policies, the exact per-token log-ratio in a token-level
trainer), so that together they form the usual ``− kl_coef · (log π − log π_ref)`` penalty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rlhf_env.errors import ConfigError


class ReferenceScorer:
    """Per-token ``log π_ref`` of response tokens given prompt tokens, batched.

    Prompts are left-padded and responses right-padded into one ``(B, P + R)`` batch, with
    position ids taken from the attention mask so padding never shifts positions. Only the
    ``R + 1`` last positions go through the LM head (``logits_to_keep``), which matters with a
    49k vocabulary.
    """

    def __init__(self, model: Any, pad_id: int, vocab_size: int, batch_size: int = 64) -> None:
        model_vocab = int(model.get_input_embeddings().weight.shape[0])
        if model_vocab < vocab_size:
            raise ConfigError(
                f"the reference model has {model_vocab} token embeddings but the env's tokenizer "
                f"has {vocab_size} tokens; the reference must share the policy tokenizer's "
                f"vocabulary (pass reference_model= a model of the same family)."
            )
        if batch_size < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}.")
        self.model = model.eval().requires_grad_(False)
        self.pad_id = int(pad_id)
        self.batch_size = batch_size

    def token_logprobs(self, prompts: Sequence[np.ndarray],
                       responses: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``log π_ref(r_t | prompt, r_<t)`` for every response token; float32 arrays."""
        out: list[np.ndarray] = []
        for start in range(0, len(prompts), self.batch_size):
            stop = start + self.batch_size
            out += self._batch(prompts[start:stop], responses[start:stop])
        return out

    def sequence_logprobs(self, prompts: Sequence[np.ndarray],
                          responses: Sequence[np.ndarray]) -> np.ndarray:
        """Summed response log-probability per pair: float32 ``(n,)`` (0 for empty responses)."""
        per_token = self.token_logprobs(prompts, responses)
        return np.array([t.sum() for t in per_token], dtype=np.float32)

    def _batch(self, prompts: Sequence[np.ndarray], responses: Sequence[np.ndarray]) -> list:
        import torch

        lengths = [len(r) for r in responses]
        r_max = max(lengths)
        if r_max == 0:
            return [np.zeros(0, np.float32) for _ in responses]
        p_max = max(len(p) for p in prompts)
        ids = np.full((len(prompts), p_max + r_max), self.pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
            ids[i, p_max - len(p) : p_max] = p
            ids[i, p_max : p_max + len(r)] = r
            mask[i, p_max - len(p) : p_max + len(r)] = 1
        device = next(self.model.parameters()).device
        ids_t = torch.from_numpy(ids).to(device)
        mask_t = torch.from_numpy(mask).to(device)
        positions = (mask_t.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = self.model(input_ids=ids_t, attention_mask=mask_t, position_ids=positions,
                                logits_to_keep=r_max + 1).logits[:, :-1].float()
            targets = ids_t[:, p_max:]
            picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            logp = (picked - logits.logsumexp(-1)).cpu().numpy()
        return [logp[i, :n].astype(np.float32) for i, n in enumerate(lengths)]
