"""What the single and the batched text-bandit envs share: configuration and batch logic.

One :class:`TextBanditCore` owns the tokenizer, prompt source, spaces, reward model, gold
scorer and reference model. Both envs call :meth:`TextBanditCore.evaluate` with a batch (of one,
or of ``num_envs``), which decodes every response and makes exactly one reward-model call,
one gold call and one reference forward pass for the whole batch.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlhf_env.errors import ConfigError, PromptError
from rlhf_env.text.prompts import PromptSource
from rlhf_env.text.spaces import ActionVocab, action_space, observation_space
from rlhf_env.text.tasks import Task, get_task


@dataclass(frozen=True)
class TextEnvConfig:
    """Keyword arguments of ``RLHF-Text-v0`` (and its vector version)."""

    task: str | Task = "sentiment"
    """Task name or :class:`Task`: default prompts, reward model, gold scorer, action words."""
    prompts: Any = None
    """Override the task's prompts: a list, a .txt/.jsonl path, or ``(hf_dataset, column)``."""
    model: Any = "smollm2-135m-instruct"
    """The policy's model family: bundled name, path or hub id. Supplies the tokenizer and the
    default reference model."""
    tokenizer: Any = None
    """A tokenizer object or name/path; defaults to ``model``'s tokenizer."""
    reward_model: Any = None
    """Override the task's reward model: object, callable, registered name or path."""
    gold: Any = "task"
    """Gold scorer: ``"task"`` (the task's, if any), ``None`` (off), or a reward-model spec."""
    kl_coef: float = 0.0
    """Weight of ``log π_ref(response | prompt)`` added to the reward (0 disables it)."""
    reference_model: Any = None
    """Reference LM for the KL term (object, name, path); defaults to ``model``."""
    max_prompt_tokens: int = 64
    """Observation length; longer prompts follow ``long_prompt``."""
    max_response_tokens: int = 16
    """Number of action positions (response tokens, the first EOS ends the response)."""
    action_vocab: Any = None
    """``None`` (full vocabulary), ``"task"``, an int K, or a list of token ids / words."""
    use_chat_template: bool | None = None
    """Wrap prompts in the tokenizer's chat template (``None``: when it has one)."""
    system_prompt: str | None = None
    """System message for chat-formatted prompts (``None``: the template's default)."""
    long_prompt: str = "truncate"
    """``"truncate"`` (keep the last tokens, warn once) or ``"error"``."""
    device: Any = None
    """Device of the reference model (the reward model keeps its own)."""
    render_mode: str | None = None
    """``None`` or ``"ansi"``."""
    reward_kwargs: dict = field(default_factory=dict)
    """Extra keyword arguments for a reward model given by name."""

    def __post_init__(self) -> None:
        if self.max_prompt_tokens < 1 or self.max_response_tokens < 1:
            raise ConfigError(
                f"max_prompt_tokens and max_response_tokens must be ≥ 1, got "
                f"{self.max_prompt_tokens} and {self.max_response_tokens}."
            )
        if not np.isfinite(self.kl_coef) or self.kl_coef < 0:
            raise ConfigError(f"kl_coef must be a finite number ≥ 0, got {self.kl_coef}.")
        if self.long_prompt not in ("truncate", "error"):
            raise ConfigError(
                f"long_prompt must be 'truncate' or 'error', got {self.long_prompt!r}.")
        if self.render_mode not in (None, "ansi"):
            raise ConfigError(f"render_mode must be None or 'ansi', got {self.render_mode!r}.")


@functools.lru_cache(maxsize=8)
def _cached_tokenizer(name: str) -> Any:
    from rlhf_env.models import load_tokenizer

    return load_tokenizer(name)


@functools.lru_cache(maxsize=4)
def _cached_lm(name: str, device: str | None) -> Any:
    from rlhf_env.models import load_causal_lm

    return load_causal_lm(name, device=device)


@functools.lru_cache(maxsize=16)
def _cached_reward_model(spec: str, kwargs: tuple) -> Any:
    from rlhf_env.rewards import make_reward_model

    return make_reward_model(spec, **dict(kwargs))


_SCORERS: dict[tuple[int, int, int], Any] = {}


def shared_reference_scorer(model: Any, pad_id: int, vocab_size: int) -> Any:
    """One :class:`~rlhf_env.text.reference.ReferenceScorer` per reference model, so every env
    on that model (N ``gym.make`` envs, say) shares its cache of prompt key/values."""
    from rlhf_env.text.reference import ReferenceScorer

    key = (id(model), int(pad_id), int(vocab_size))
    scorer = _SCORERS.get(key)
    if scorer is None or scorer.model is not model:
        scorer = _SCORERS[key] = ReferenceScorer(model, pad_id, vocab_size)
    return scorer


def _freeze(kwargs: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))


def resolve_reward_model(spec: Any, kwargs: dict | None = None) -> Any:
    """A reward model from a spec; string specs are loaded once per process and shared."""
    kwargs = kwargs or {}
    if isinstance(spec, str):
        return _cached_reward_model(spec, _freeze(kwargs))
    from rlhf_env.rewards import make_reward_model

    return make_reward_model(spec, **kwargs)


class TextBanditCore:
    """Shared state and batch logic of the text-bandit envs (see module docstring)."""

    def __init__(self, config: TextEnvConfig) -> None:
        self.config = config
        self.task = get_task(config.task)
        self.tokenizer = self._tokenizer()
        self.prompts = (PromptSource.from_spec(config.prompts) if config.prompts is not None
                        else self.task.prompt_source())
        self.vocab = ActionVocab.from_spec(
            config.action_vocab, self.tokenizer, candidate_words=self.task.action_words,
            corpus=list(self.prompts),
        )
        self.observation_space = observation_space(len(self.tokenizer), config.max_prompt_tokens)
        self.action_space = action_space(self.vocab, config.max_response_tokens)
        self.reward_model = self._reward_model()
        self.gold = self._gold()
        self.reference = self._reference() if config.kl_coef > 0 else None
        self._encoded: dict[int, tuple[np.ndarray, bool]] = {}
        self._warned_long = False

    # -- construction ---------------------------------------------------------------------
    def _tokenizer(self) -> Any:
        from rlhf_env.models import prepare_tokenizer

        spec = self.config.tokenizer if self.config.tokenizer is not None else self.config.model
        if isinstance(spec, str):
            return _cached_tokenizer(spec)
        if hasattr(spec, "config") and not hasattr(spec, "encode"):
            raise ConfigError("pass the policy model's name or path as model=, or a tokenizer "
                              "object as tokenizer=; a model object carries no tokenizer.")
        return prepare_tokenizer(spec, "left")

    def _reward_model(self) -> Any:
        if self.config.reward_model is not None:
            return resolve_reward_model(self.config.reward_model, self.config.reward_kwargs)
        kwargs = {**self.task.reward_kwargs, **self.config.reward_kwargs}
        return resolve_reward_model(self.task.reward_model, kwargs)

    def _gold(self) -> Any:
        spec = self.task.gold if self.config.gold == "task" else self.config.gold
        return None if spec is None else resolve_reward_model(spec)

    def _reference(self) -> Any:
        spec = self.config.reference_model or self.config.model
        if isinstance(spec, str):
            device = None if self.config.device is None else str(self.config.device)
            model = _cached_lm(spec, device)
        else:
            model = spec
        return shared_reference_scorer(model, self.tokenizer.pad_token_id, len(self.tokenizer))

    # -- prompts --------------------------------------------------------------------------
    def encode_prompt(self, index: int) -> tuple[np.ndarray, bool]:
        """Token ids of prompt ``index`` as the policy sees it, and whether it was truncated."""
        cached = self._encoded.get(index)
        if cached is not None:
            return cached
        from rlhf_env.models import format_prompt

        text = format_prompt(self.tokenizer, self.prompts[index], self.config.use_chat_template,
                             self.config.system_prompt)
        chat = text != self.prompts[index]
        ids = np.asarray(self.tokenizer.encode(text, add_special_tokens=not chat), np.int64)
        limit = self.config.max_prompt_tokens
        truncated = ids.size > limit
        if truncated:
            ids = self._truncate(index, ids, limit)
        self._encoded[index] = (ids, truncated)
        return ids, truncated

    def _truncate(self, index: int, ids: np.ndarray, limit: int) -> np.ndarray:
        msg = (f"prompt {index} is {ids.size} tokens long (with formatting), more than "
               f"max_prompt_tokens={limit}")
        if self.config.long_prompt == "error":
            raise PromptError(f"{msg}; raise max_prompt_tokens or shorten the prompt.")
        if not self._warned_long:
            warnings.warn(f"{msg}: keeping its last {limit} tokens (further prompts truncated "
                          f"silently; info['prompt_truncated'] marks them).", stacklevel=4)
            self._warned_long = True
        return ids[-limit:]

    def observation(self, indices: list[int]) -> dict[str, np.ndarray]:
        """Left-padded ``input_ids`` and ``attention_mask``, shape ``(len(indices), P)``."""
        limit = self.config.max_prompt_tokens
        ids = np.full((len(indices), limit), self.tokenizer.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(indices), limit), dtype=np.int64)
        for row, index in enumerate(indices):
            tokens, _ = self.encode_prompt(index)
            ids[row, limit - tokens.size :] = tokens
            mask[row, limit - tokens.size :] = 1
        return {"input_ids": ids, "attention_mask": mask}

    # -- responses and rewards ------------------------------------------------------------
    def response_tokens(self, actions: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Token ids of each response, up to and including the first EOS; and whether each
        response hit the token limit without an EOS. ``actions``: ``(B, R)`` indices."""
        tokens = self.vocab.to_token_ids(actions)
        is_eos = tokens == self.vocab.eos_id
        has_eos = is_eos.any(axis=1)
        ends = np.where(has_eos, is_eos.argmax(axis=1) + 1, tokens.shape[1])
        return [tokens[i, :n] for i, n in enumerate(ends)], ~has_eos

    def decode(self, responses: list[np.ndarray]) -> list[str]:
        """Response texts (EOS and other special tokens dropped, outer whitespace stripped)."""
        texts = self.tokenizer.batch_decode([r.tolist() for r in responses],
                                            skip_special_tokens=True)
        return [t.strip() for t in texts]

    def evaluate(self, indices: list[int], actions: np.ndarray) -> tuple[np.ndarray, list[dict]]:
        """Rewards ``(B,)`` float32 and one info dict per episode, for validated actions."""
        from rlhf_env.rewards.base import score_checked

        responses, hit_limit = self.response_tokens(actions)
        texts = self.decode(responses)
        prompts = [self.prompts[i] for i in indices]
        scores = score_checked(self.reward_model, prompts, texts)
        gold = None if self.gold is None else score_checked(self.gold, prompts, texts)
        ref = None
        if self.reference is not None:
            prompt_ids = [self.encode_prompt(i)[0] for i in indices]
            ref = self.reference.sequence_logprobs(prompt_ids, responses)
        kl_term = np.zeros_like(scores) if ref is None else self.config.kl_coef * ref
        rewards = (scores + kl_term).astype(np.float32)
        infos = []
        for b, index in enumerate(indices):
            info = {
                "prompt": prompts[b], "response": texts[b], "score": float(scores[b]),
                "kl_term": float(kl_term[b]), "response_tokens": int(responses[b].size),
                "hit_token_limit": bool(hit_limit[b]), "prompt_index": int(index),
                "prompt_truncated": bool(self.encode_prompt(index)[1]),
            }
            if gold is not None:
                info["gold_score"] = float(gold[b])
            if ref is not None:
                info["ref_logprob"] = float(ref[b])
            infos.append(info)
        return rewards, infos
