"""``RLHF-TextToken-v0``: text generation one token per step.

The env and its batched vector version (:mod:`rlhf_env.text.token_vector`) share
:class:`TokenEpisodes`, which holds ``B`` running episodes and steps them together: one
reference forward pass for the per-token KL term of all ``B`` rows, and one reward-model call
for every row whose response ended in that step. Tokenizer, prompts, reward model, gold
scorer and reference model come from a :class:`~rlhf_env.text.core.TextBanditCore`, so the
token env accepts the same arguments as ``RLHF-Text-v0`` and judges responses the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlhf_env.errors import InvalidActionError
from rlhf_env.text.bandit import _config, format_episode
from rlhf_env.text.core import TextBanditCore
from rlhf_env.text.reference import kv_layers as _kv_layers
from rlhf_env.text.reference import left_pad as _left_pad
from rlhf_env.text.spaces import observation_space


class TokenDiscrete(spaces.Discrete):
    """``Discrete(A)`` that also says which token each action index stands for.

    ``token_ids[i]`` is the token id of action ``i`` with a restricted action vocabulary;
    ``None`` means the full vocabulary (action index == token id). A policy over a language
    model (:class:`agents.lm_policy.CausalLMPolicy`) reads it to pick the matching logits.
    """

    def __init__(self, n: int, token_ids: Sequence[int] | None = None,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(n, seed=seed)
        self.token_ids = None if token_ids is None else tuple(int(t) for t in token_ids)
        if self.token_ids is not None and len(self.token_ids) != n:
            raise ValueError(f"{len(self.token_ids)} token ids for {n} actions.")

    def __repr__(self) -> str:
        restricted = "" if self.token_ids is None else ", restricted vocabulary"
        return f"TokenDiscrete({self.n}{restricted})"


@dataclass
class _Episode:
    """One running episode: prompt, response tokens so far, summed reference log-prob."""

    index: int
    prompt: np.ndarray
    tokens: list[int] = field(default_factory=list)
    ref_logprob: float = 0.0


@dataclass(frozen=True)
class TokenStep:
    """What one batched step returns: rewards ``(B,)`` float32, ``terminated`` / ``truncated``
    ``(B,)`` bool, and one info dict per row (the episode info for rows that ended)."""

    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    infos: list[dict[str, Any]]


class TokenEpisodes:
    """``B`` token-level episodes over one :class:`TextBanditCore`, stepped as a batch.

    Row ``b`` holds prompt ``b`` and its response so far. :meth:`step` appends one token per
    row, computes ``kl_coef · log π_ref(token | prompt, response so far)`` for all rows,
    ends rows at EOS (terminated) or at ``max_response_tokens`` (truncated), and scores every
    ended response in one reward-model (and gold) call.

    The reference log-probs come from a :class:`CachedReference` (``kv_cache=True``): one
    length-1 forward per step for all rows, plus one batched prefill for the rows that
    started a new prompt. With ``kv_cache=False`` (or a model whose cache layout it does not
    know) every step is one batched forward over the full left-padded contexts.
    """

    def __init__(self, core: TextBanditCore, rows: int, kv_cache: bool = True) -> None:
        self.core = core
        self.limit = core.config.max_response_tokens
        self.length = core.config.max_prompt_tokens + self.limit
        self.episodes: list[_Episode | None] = [None] * rows
        self.cache: CachedReference | None = None
        self._fresh: set[int] = set()  # rows whose new context is not in the cache yet
        if core.reference is not None:  # one forward pass for all rows of a step
            core.reference.batch_size = max(core.reference.batch_size, rows)
            if kv_cache:
                self.cache = CachedReference(core.reference.model,
                                             core.tokenizer.pad_token_id, rows)

    def start(self, row: int, index: int) -> dict[str, Any]:
        """Begin prompt ``index`` in ``row``; return the reset info."""
        ids, truncated = self.core.encode_prompt(index)
        self.episodes[row] = _Episode(index, ids)
        self._fresh.add(row)
        return {"prompt": self.core.prompts[index], "prompt_index": index,
                "prompt_truncated": truncated}

    def _episode(self, row: int) -> _Episode:
        episode = self.episodes[row]
        if episode is None:
            raise gym.error.ResetNeeded("call reset() before step().")
        return episode

    def context(self, row: int) -> np.ndarray:
        """Prompt ids followed by the response ids so far (int64)."""
        episode = self._episode(row)
        return np.concatenate([episode.prompt, np.asarray(episode.tokens, np.int64)])

    def observation(self, rows: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """Left-padded contexts: ``input_ids`` and ``attention_mask``, ``(len(rows), P + R)``."""
        rows = range(len(self.episodes)) if rows is None else rows
        pad = self.core.tokenizer.pad_token_id
        ids = np.full((len(rows), self.length), pad, dtype=np.int64)
        mask = np.zeros((len(rows), self.length), dtype=np.int64)
        for out, row in enumerate(rows):
            context = self.context(row)
            ids[out, self.length - context.size:] = context
            mask[out, self.length - context.size:] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def step(self, tokens: np.ndarray) -> TokenStep:
        """Append ``tokens`` (token ids, ``(B,)``) and return rewards, ends and infos."""
        episodes = [self._episode(row) for row in range(len(self.episodes))]
        ref = self._ref_logprobs(tokens)
        kl = self.core.config.kl_coef * ref
        for episode, token, logp in zip(episodes, tokens, ref, strict=True):
            episode.tokens.append(int(token))
            episode.ref_logprob += float(logp)
        lengths = np.array([len(e.tokens) for e in episodes])
        terminated = np.asarray(tokens) == self.core.vocab.eos_id
        truncated = ~terminated & (lengths >= self.limit)
        if self.cache is not None and not (terminated | truncated).all():
            self.cache.advance(tokens)
        rewards = kl.astype(np.float64)
        infos: list[dict[str, Any]] = [{"token": int(t)} for t in tokens]
        ended = np.flatnonzero(terminated | truncated)
        if ended.size:
            scores = self._finish(ended)
            for row, info in zip(ended, scores, strict=True):
                rewards[row] += info["score"]
                infos[row].update(info)
        return TokenStep(rewards.astype(np.float32), terminated, truncated, infos)

    def _ref_logprobs(self, tokens: np.ndarray) -> np.ndarray:
        """``log π_ref(token | context)`` per row (zeros without a reference model)."""
        reference = self.core.reference
        if reference is None:
            return np.zeros(len(tokens), dtype=np.float64)
        if self.cache is not None and self._fresh:
            rows = sorted(self._fresh)
            if not self.cache.prefill(rows, [self.context(row) for row in rows]):
                self.cache = None  # not a plain DynamicCache: full forwards from now on
            self._fresh.clear()
        if self.cache is not None:
            return self.cache.logprobs(tokens)
        contexts = [self.context(row) for row in range(len(tokens))]
        targets = [np.asarray([t], dtype=np.int64) for t in tokens]
        return np.array([lp[0] for lp in reference.token_logprobs(contexts, targets)],
                        dtype=np.float64)

    def _finish(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """Decode and score the responses of ``rows`` (one reward call, one gold call)."""
        from rlhf_env.rewards.base import score_checked

        episodes = [self._episode(int(row)) for row in rows]
        texts = self.core.decode([np.asarray(e.tokens, np.int64) for e in episodes])
        prompts = [self.core.prompts[e.index] for e in episodes]
        scores = score_checked(self.core.reward_model, prompts, texts)
        gold = None if self.core.gold is None else score_checked(self.core.gold, prompts, texts)
        coef = self.core.config.kl_coef
        infos = []
        for b, episode in enumerate(episodes):
            info: dict[str, Any] = {
                "prompt": prompts[b], "response": texts[b], "score": float(scores[b]),
                "kl_term": coef * episode.ref_logprob, "response_tokens": len(episode.tokens),
                "hit_token_limit": episode.tokens[-1] != self.core.vocab.eos_id,
                "prompt_index": episode.index,
                "prompt_truncated": bool(self.core.encode_prompt(episode.index)[1]),
            }
            if gold is not None:
                info["gold_score"] = float(gold[b])
            if self.core.reference is not None:
                info["ref_logprob"] = episode.ref_logprob
            infos.append(info)
        return infos

    def render_lines(self, row: int, last_info: dict[str, Any]) -> str:
        """The ended episode's summary, or the prompt and the response so far."""
        if "response" in last_info:
            return format_episode(last_info)
        episode = self.episodes[row]
        if episode is None:
            return ""
        so_far = self.core.decode([np.asarray(episode.tokens, np.int64)])[0]
        return format_episode({"prompt": self.core.prompts[episode.index]}) + \
            f"SO FAR   {so_far!r}\n"


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

        width = max(c.size for c in contexts)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, context in enumerate(contexts):
            ids[i, width - context.size:] = context
            mask[i, width - context.size:] = 1
        ids_t, mask_t = (torch.from_numpy(a).to(self.device) for a in (ids, mask))
        with torch.no_grad():  # (inference tensors could not be updated in place)
            out = self.model(input_ids=ids_t, attention_mask=mask_t,
                             position_ids=(mask_t.cumsum(-1) - 1).clamp(min=0),
                             use_cache=True, logits_to_keep=1)
        layers = _kv_layers(out.past_key_values)
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
            self.keys = [_left_pad(t, extra) for t in self.keys]
            self.values = [_left_pad(t, extra) for t in self.values]
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
        layers = _kv_layers(out.past_key_values)
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


def token_spaces(core: TextBanditCore) -> tuple[spaces.Dict, TokenDiscrete]:
    """Observation (length ``P + R``) and action space of the token env for ``core``."""
    length = core.config.max_prompt_tokens + core.config.max_response_tokens
    vocab = core.vocab
    token_ids = None if vocab.token_ids is None else vocab.token_ids.tolist()
    return observation_space(len(core.tokenizer), length), TokenDiscrete(vocab.size, token_ids)


def check_token_actions(actions: Any, n: int, batch: int | None) -> np.ndarray:
    """Validate one action (``batch=None``) or ``(batch,)`` actions for ``Discrete(n)``.

    Returns int64 action indices, or raises :class:`InvalidActionError` saying what was
    expected.
    """
    arr = np.asarray(actions)
    want: tuple[int, ...] = () if batch is None else (batch,)
    if batch is None and arr.shape == (1,):
        arr = arr.reshape(())
    if arr.shape != want:
        what = "one integer action index" if batch is None else f"{batch} action indices"
        raise InvalidActionError(f"the action has shape {arr.shape}, expected {want}: {what} "
                                 f"(one token per step).")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidActionError(f"the action has dtype {arr.dtype}; a token-env action is an "
                                 f"integer index (e.g. `int(a)` or `.astype(np.int64)`).")
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        raise InvalidActionError(
            f"action index {bad.ravel()[:3].tolist()} is outside [0, {n - 1}]; with a "
            f"restricted action vocabulary, index i means token action_vocab[i].")
    return arr.astype(np.int64)


def pick_prompt(options: dict | None, n_prompts: int) -> int | None:
    """``options["prompt_index"]`` validated, or ``None`` to draw a prompt."""
    unknown = set(options or {}) - {"prompt_index"}
    if unknown:
        raise ValueError(f"unknown reset option(s) {sorted(unknown)}; the only option is "
                         f"'prompt_index'.")
    if not options or "prompt_index" not in options:
        return None
    index = int(options["prompt_index"])
    if not 0 <= index < n_prompts:
        raise ValueError(f"options['prompt_index']={index} is outside [0, {n_prompts - 1}].")
    return index


class TextTokenEnv(gym.Env):
    """Write a response one token per step; a learned reward model judges the whole of it.

    ## Description
    Each episode answers one prompt. ``reset()`` draws a prompt from the task's prompt source
    (through ``self.np_random``); every ``step(action)`` appends one token to the response.
    The episode ends at EOS or at ``max_response_tokens``, when the decoded response is
    scored by the reward model. With ``kl_coef > 0`` every token also earns its
    reference log-probability, which keeps the text close to what the reference LM writes.

    ## Action Space
    ``Discrete(A)`` (a :class:`TokenDiscrete`): the next token. ``A`` is the vocabulary size,
    or the size of the restricted action vocabulary (``action_vocab``), where index ``i``
    means token ``action_vocab[i]`` (``action_space.token_ids[i]``). EOS ends the response.

    ## Observation Space
    ``Dict(input_ids=Box(0, V-1, (P + R,), int64), attention_mask=Box(0, 1, (P + R,), int64))``
    with ``P = max_prompt_tokens`` and ``R = max_response_tokens``: the prompt
    (chat-formatted for instruct models) followed by the response so far, left-padded with
    the pad token; mask 1 on real tokens. Long prompts follow ``long_prompt`` as in
    ``RLHF-Text-v0``.

    ## Rewards
    Every step: ``kl_coef · log π_ref(token | prompt, response so far)`` (0 with
    ``kl_coef=0``). The step that ends the episode adds the reward model's raw score of the
    decoded response, once. The agent supplies the ``− log π`` side of the KL penalty
    (entropy bonus, or exact per-token log-ratios in a token-level trainer).

    ## Starting State
    A uniformly drawn prompt of the task and an empty response.

    ## Episode End
    ``terminated=True`` when the token is EOS; ``truncated=True`` when the response reaches
    ``max_response_tokens`` tokens without EOS.

    ## Arguments
    Those of ``RLHF-Text-v0`` (:class:`~rlhf_env.text.core.TextEnvConfig`): ``task``,
    ``prompts``, ``model``, ``tokenizer``, ``reward_model``, ``gold``, ``kl_coef``,
    ``reference_model``, ``max_prompt_tokens``, ``max_response_tokens``, ``action_vocab``,
    ``use_chat_template``, ``system_prompt``, ``long_prompt``, ``device``, ``render_mode``
    ("ansi"), ``reward_kwargs``. ``reset(options={"prompt_index": i})`` answers a chosen prompt.

    ``info`` every step: ``token`` (the token id). At the end also ``prompt``, ``response``,
    ``score``, ``kl_term`` (sum of the KL rewards), ``ref_logprob`` (with a reference),
    ``gold_score`` (when the task has a gold scorer), ``response_tokens``,
    ``hit_token_limit``, ``prompt_index``, ``prompt_truncated``.

    ## Version History
    * v0: initial version.

    ## Example
    >>> import gymnasium as gym, rlhf_env
    >>> env = gym.make("RLHF-TextToken-v0", task="keyword", model="tiny-random-llama",
    ...                action_vocab="task", max_response_tokens=4)
    >>> obs, info = env.reset(seed=0)
    >>> obs["input_ids"].shape
    (68,)
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> sorted(obs), info["token"] in env.action_space.token_ids
    (['attention_mask', 'input_ids'], True)
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}  # noqa: RUF012 (gymnasium API)

    def __init__(self, **kwargs: Any) -> None:
        self.core = TextBanditCore(_config(kwargs, "RLHF-TextToken-v0"))
        self.render_mode = self.core.config.render_mode
        self.observation_space, self.action_space = token_spaces(self.core)
        self.episodes = TokenEpisodes(self.core, 1)
        self._last: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        index = pick_prompt(options, len(self.core.prompts))
        if index is None:
            index = self.core.prompts.sample(self.np_random)
        info = self.episodes.start(0, index)
        self._last = {}
        return self._obs(), info

    def step(self, action: Any):
        if self.episodes.episodes[0] is None:
            raise gym.error.ResetNeeded("call reset() before step(), and again after the "
                                        "episode ended.")
        index = check_token_actions(action, self.core.vocab.size, batch=None)
        tokens = self.core.vocab.to_token_ids(index.reshape(1))
        result = self.episodes.step(tokens)
        obs = self._obs()
        terminated, truncated = bool(result.terminated[0]), bool(result.truncated[0])
        if terminated or truncated:
            self.episodes.episodes[0] = None
        self._last = result.infos[0]
        return obs, float(result.rewards[0]), terminated, truncated, result.infos[0]

    def _obs(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.episodes.observation([0]).items()}

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return self.episodes.render_lines(0, self._last)


__all__ = ["CachedReference", "TextTokenEnv", "TokenDiscrete", "TokenEpisodes", "TokenStep",
           "check_token_actions"]
