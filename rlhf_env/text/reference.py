"""Log-probabilities under a frozen reference model: whole responses, or token by token.

:class:`ReferenceScorer` scores finished responses in one batched forward pass (the bandit
env, with a cache of prompt key/values); :class:`CachedReference` keeps a KV cache per row
and scores one next token per step (the token env).

The env's KL leash: with a reference model the reward gets ``kl_coef · log π_ref(response |
prompt)``. The env never sees the agent's log-probs; the agent supplies the ``− log π`` side
(an entropy bonus for factorised SB3 policies, the exact per-token log-ratio in a token-level
trainer), so that together they form the usual ``− kl_coef · (log π − log π_ref)`` penalty.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from rlhf_env.errors import ConfigError
from rlhf_env.text.spaces import left_pad


class ReferenceScorer:
    """Per-token ``log π_ref`` of response tokens given prompt tokens, batched.

    Prompts repeat across episodes, so each prompt's key/value cache and next-token
    log-probs are computed once and kept (LRU, ``prefix_cache_size`` prompts): a batch then
    runs only its response tokens through the model, on top of the cached prompts left-padded
    into one batch cache. This cuts the reference's work per episode from ``P + R`` tokens to
    ``R``. Models whose cache is not a plain ``DynamicCache`` (and ``prefix_cache_size=0``)
    take the uncached path: prompts left-padded and responses right-padded into one
    ``(B, P + R)`` forward, position ids from the mask, and only the ``R + 1`` last positions
    through the LM head (``logits_to_keep``), which matters with a 49k vocabulary.
    """

    def __init__(self, model: Any, pad_id: int, vocab_size: int, batch_size: int = 64,
                 prefix_cache_size: int = 256, freeze: bool = True) -> None:
        model_vocab = int(model.get_input_embeddings().weight.shape[0])
        if model_vocab < vocab_size:
            raise ConfigError(
                f"the reference model has {model_vocab} token embeddings but the env's tokenizer "
                f"has {vocab_size} tokens; the reference must share the policy tokenizer's "
                f"vocabulary (pass reference_model= a model of the same family)."
            )
        if batch_size < 1 or prefix_cache_size < 0:
            raise ConfigError(f"batch_size must be ≥ 1 and prefix_cache_size ≥ 0, got "
                              f"{batch_size} and {prefix_cache_size}.")
        # ``freeze=False`` scores with a model that is still being trained (a LoRA policy with
        # its adapters off): it is left as it is; scoring runs under inference mode anyway.
        self.model = model.eval().requires_grad_(False) if freeze else model
        self.pad_id = int(pad_id)
        self.batch_size = batch_size
        self.prefix_cache_size = prefix_cache_size
        self._prefixes: OrderedDict[bytes, tuple[list[tuple[Any, Any]], Any]] = OrderedDict()

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
        if max(len(r) for r in responses) == 0:
            return [np.zeros(0, np.float32) for _ in responses]
        entries = self._cached_prompts(prompts) if self.prefix_cache_size else None
        if entries is not None:
            return self._batch_cached(entries, [len(p) for p in prompts], responses)
        return self._batch_full(prompts, responses)

    # -- cached prompts ---------------------------------------------------------------------
    def _cached_prompts(self, prompts: Sequence[np.ndarray]) -> list | None:
        """Every prompt's cached ``(KV per layer, next-token log-probs)``, computing the missing
        ones in one forward; ``None`` when the model's cache cannot be taken apart (the caller
        then runs full forwards)."""
        import torch

        keys = [np.asarray(p, np.int64).tobytes() for p in prompts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._prefixes))
        if missing:
            rows = [np.frombuffer(k, np.int64) for k in missing]
            ids, mask = left_pad(rows, self.pad_id)
            ids_t, mask_t = (torch.from_numpy(a).to(self._device) for a in (ids, mask))
            with torch.inference_mode():
                out = self.model(input_ids=ids_t, attention_mask=mask_t,
                                 position_ids=(mask_t.cumsum(-1) - 1).clamp(min=0),
                                 use_cache=True, logits_to_keep=1)
            layers = kv_layers(out.past_key_values)
            if layers is None:
                self.prefix_cache_size = 0
                return None
            next_logp = out.logits[:, -1].float().log_softmax(-1)
            for i, (key, row) in enumerate(zip(missing, rows, strict=True)):
                kv = [(k[i : i + 1, :, -row.size :].clone(), v[i : i + 1, :, -row.size :].clone())
                      for k, v in layers]
                self._prefixes[key] = (kv, next_logp[i].clone())
        for key in keys:
            self._prefixes.move_to_end(key)
        entries = [self._prefixes[key] for key in keys]
        while len(self._prefixes) > self.prefix_cache_size:
            self._prefixes.popitem(last=False)
        return entries

    def _batch_cached(self, entries: list, p_lens: list[int],
                      responses: Sequence[np.ndarray]) -> list:
        import torch
        from transformers import DynamicCache

        p_max, r_max = max(p_lens), max(len(r) for r in responses)
        def stacked(layer: int, kv: int) -> Any:  # the layer's keys (0) or values (1)
            return torch.cat([pad_cache_left(e[0][layer][kv], p_max - n)
                              for e, n in zip(entries, p_lens, strict=True)])

        cache = DynamicCache(ddp_cache_data=[(stacked(layer, 0), stacked(layer, 1))
                                             for layer in range(len(entries[0][0]))])
        ids = np.full((len(entries), r_max), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(entries), p_max + r_max), dtype=np.int64)
        for i, (n, r) in enumerate(zip(p_lens, responses, strict=True)):
            ids[i, : len(r)] = r
            mask[i, p_max - n : p_max + len(r)] = 1
        ids_t, mask_t = (torch.from_numpy(a).to(self._device) for a in (ids, mask))
        positions = torch.as_tensor(p_lens, device=self._device)[:, None] + torch.arange(
            r_max, device=self._device)
        with torch.inference_mode():
            logits = self.model(input_ids=ids_t, attention_mask=mask_t, position_ids=positions,
                                past_key_values=cache).logits[:, :-1].float()
            first = torch.stack([e[1] for e in entries])  # log-probs of response token 0
            rest = logits.gather(-1, ids_t[:, 1:, None]).squeeze(-1) - logits.logsumexp(-1)
            picked = torch.cat([first.gather(-1, ids_t[:, :1]), rest], dim=1).cpu().numpy()
        return [picked[i, : len(r)].astype(np.float32) for i, r in enumerate(responses)]

    @property
    def _device(self) -> Any:
        return next(self.model.parameters()).device

    # -- no cache -----------------------------------------------------------------------------
    def _batch_full(self, prompts: Sequence[np.ndarray], responses: Sequence[np.ndarray]) -> list:
        import torch

        lengths = [len(r) for r in responses]
        r_max = max(lengths)
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


def kv_layers(cache: Any) -> list[tuple[Any, Any]] | None:
    """``(keys, values)`` per layer of a plain ``DynamicCache``, else ``None``."""
    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer).__name__ != "DynamicLayer" for layer in layers):
        return None
    pairs = [(getattr(layer, "keys", None), getattr(layer, "values", None)) for layer in layers]
    return None if any(k is None or v is None for k, v in pairs) else pairs


def pad_cache_left(tensor: Any, extra: int) -> Any:
    """Prepend ``extra`` zero time steps to a ``(B, H, T, D)`` cache tensor."""
    import torch

    return torch.nn.functional.pad(tensor, (0, 0, extra, 0))


class CachedReference:
    """``log π_ref`` of each next token from a KV cache kept per row (sub-env).

    The cache of all rows lives in one batch, left-padded along time: row ``b``'s real
    positions are where ``mask[b]`` is 1, its position ids count them (``lengths[b]``), so
    RoPE and attention see exactly its unpadded context. After every forward the log-softmax
    of each row's next-token logits is kept (``next_logp``), so a step's reference log-prob
    is a lookup; then one forward of the ``B`` new tokens (length 1 each) extends the cache.
    A new episode in a row is prefilled (all new rows of a step in one forward) and written
    over that row. Models whose cache is not a plain ``DynamicCache`` (sliding windows,
    recurrent layers) are not handled: :meth:`prefill` returns ``False`` and the caller
    falls back to full forwards.
    """

    def __init__(self, model: Any, pad_id: int, rows: int) -> None:
        import torch

        self.model = model
        self.pad_id = int(pad_id)
        self.device = next(model.parameters()).device
        self.keys: list[Any] = []
        self.values: list[Any] = []
        self.mask = torch.zeros(rows, 0, dtype=torch.long, device=self.device)
        self.lengths = torch.zeros(rows, dtype=torch.long, device=self.device)
        self.next_logp: Any = None

    def prefill(self, rows: Sequence[int], contexts: Sequence[np.ndarray]) -> bool:
        """Encode ``contexts`` (one per row) into the cache; ``False`` if unsupported."""
        import torch

        ids, mask = left_pad(contexts, self.pad_id)
        width = ids.shape[1]
        ids_t, mask_t = (torch.from_numpy(a).to(self.device) for a in (ids, mask))
        with torch.no_grad():  # (inference tensors could not be updated in place)
            out = self.model(input_ids=ids_t, attention_mask=mask_t,
                             position_ids=(mask_t.cumsum(-1) - 1).clamp(min=0),
                             use_cache=True, logits_to_keep=1)
        layers = kv_layers(out.past_key_values)
        if layers is None:
            return False
        self._widen(width, layers, out.logits.shape[-1])
        index = torch.as_tensor(list(rows), device=self.device)
        start = self.mask.shape[1] - width
        for store, fresh in ((self.keys, [k for k, _ in layers]),
                             (self.values, [v for _, v in layers])):
            for cached, new in zip(store, fresh, strict=True):
                cached[index] = 0
                cached[index, :, start:] = new
        self.mask[index] = 0
        self.mask[index, start:] = mask_t
        self.lengths[index] = mask_t.sum(-1)
        self.next_logp[index] = out.logits[:, -1].float().log_softmax(-1)
        return True

    def _widen(self, width: int, layers: list[tuple[Any, Any]], vocab: int) -> None:
        """Allocate the batch on first use; left-pad it with masked columns to ``width``."""
        import torch

        rows = self.mask.shape[0]
        if not self.keys:
            self.keys = [k.new_zeros(rows, k.shape[1], 0, k.shape[3]) for k, _ in layers]
            self.values = [v.new_zeros(rows, v.shape[1], 0, v.shape[3]) for _, v in layers]
            self.next_logp = torch.zeros(rows, vocab, device=self.device)
        extra = width - self.mask.shape[1]
        if extra > 0:
            self.keys = [pad_cache_left(t, extra) for t in self.keys]
            self.values = [pad_cache_left(t, extra) for t in self.values]
            self.mask = torch.nn.functional.pad(self.mask, (extra, 0))

    def logprobs(self, tokens: np.ndarray) -> np.ndarray:
        """``log π_ref(tokens[b] | context of row b)``, float64 ``(B,)``."""
        import torch

        index = torch.as_tensor(np.asarray(tokens), device=self.device)
        picked = self.next_logp.gather(-1, index[:, None])[:, 0]
        return picked.cpu().numpy().astype(np.float64)

    def advance(self, tokens: np.ndarray) -> None:
        """Append one token per row: one forward of length 1 over the cached contexts."""
        import torch
        from transformers import DynamicCache

        cache = DynamicCache(ddp_cache_data=list(zip(self.keys, self.values, strict=True)))
        ones = torch.ones_like(self.mask[:, :1])
        mask = torch.cat([self.mask, ones], dim=1)
        ids = torch.as_tensor(np.asarray(tokens), device=self.device)[:, None]
        with torch.no_grad():
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=self.lengths[:, None],
                             past_key_values=cache, use_cache=True, logits_to_keep=1)
        layers = kv_layers(out.past_key_values)
        if layers is None:  # pragma: no cover - the same model passed prefill
            raise RuntimeError("the reference model's KV cache changed layout.")
        self.keys, self.values = [k for k, _ in layers], [v for _, v in layers]
        self.mask, self.lengths = mask, self.lengths + 1
        self.next_logp = out.logits[:, -1].float().log_softmax(-1)
        self._trim()

    def _trim(self) -> None:
        """Drop leading columns that no row uses any more."""
        used = self.mask.any(dim=0)
        first = int(used.int().argmax()) if bool(used.any()) else self.mask.shape[1]
        if first:
            self.keys = [t[:, :, first:] for t in self.keys]
            self.values = [t[:, :, first:] for t in self.values]
            self.mask = self.mask[:, first:]
