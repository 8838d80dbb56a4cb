"""What the text envs share: configuration, batch logic, and the accessor for both.

One :class:`TextBanditCore` owns the tokenizer, prompt source, spaces, reward model, gold
scorer and reference model. Every text env (bandit and token, single and vector) keeps one
as ``env.unwrapped.core``; code outside the envs reaches it with :func:`text_core`. Finished
episodes, a batch of one or of ``num_envs``, go through :meth:`TextBanditCore.judge`, which
decodes every response and makes exactly one reward-model call and one gold call for the
whole batch, and builds each episode's ``info``. The bandit's :meth:`TextBanditCore.evaluate`
adds one reference forward pass for the batch before judging.
"""

from __future__ import annotations

import difflib
import functools
import numbers
import os
import warnings
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

import numpy as np

from rlhf_env.errors import ConfigError, PromptError
from rlhf_env.models import (
    check_precision,
    encode_prompt,
    frozen_copy,
    load_causal_lm,
    load_tokenizer,
    prepare_tokenizer,
)
from rlhf_env.rewards import make_reward_model, reward_at_precision
from rlhf_env.rewards.base import score_checked
from rlhf_env.text.prompts import PromptSource
from rlhf_env.text.reference import ReferenceScorer
from rlhf_env.text.spaces import ActionVocab, action_space, left_pad, observation_space
from rlhf_env.text.tasks import Task, get_task
from rlhf_env.text.types import (
    ActionVocabSpec,
    DeviceSpec,
    GoldSpec,
    ModelSpec,
    PromptsSpec,
    RewardSpec,
    TokenizerSpec,
)
from rlhf_env.validation import check_device, check_fields, check_instance, check_int, check_mapping

MAX_TOKENS = 65536
"""Upper bound of ``max_prompt_tokens`` / ``max_response_tokens`` (the spaces are arrays of
that length; a typo like ``10**12`` must fail with a message, not a MemoryError)."""
MAX_NUM_ENVS = 65536
"""Upper bound of a vector text env's ``num_envs`` (its batches are arrays of that many)."""


@dataclass(frozen=True)
class TextEnvConfig:
    """Keyword arguments of ``RLHF-Text-v0`` and ``RLHF-TextToken-v0`` (and their vector
    versions). Build it from an env's keyword arguments with :meth:`from_kwargs`."""

    task: str | Task = "sentiment"
    """Task name or :class:`Task`: default prompts, reward model, gold scorer, action words."""
    prompts: PromptsSpec | None = None
    """Override the task's prompts: a list, a .txt/.jsonl path, or ``(hf_dataset, column)``."""
    model: ModelSpec = "smollm2-135m-instruct"
    """The policy's model family: bundled name, path or hub id. Supplies the tokenizer and the
    default reference model."""
    tokenizer: TokenizerSpec | None = None
    """A tokenizer object or name/path; defaults to ``model``'s tokenizer."""
    reward_model: RewardSpec | None = None
    """Override the task's reward model: object, callable, registered name or path."""
    gold: GoldSpec = "task"
    """Gold scorer: ``"task"`` (the task's, if any), ``None`` (off), or a reward-model spec."""
    kl_coef: float = 0.0
    """Weight of ``log π_ref(response | prompt)`` added to the reward (0 disables it)."""
    reference_model: ModelSpec | None = None
    """Reference LM for the KL term (object, name, path); defaults to ``model``. Given with
    ``kl_coef=0``, it still scores every response, so ``info["ref_logprob"]`` lets a learner
    log its KL (``rlhf/kl``) without a KL term in the reward."""
    max_prompt_tokens: int = 64
    """Observation length; longer prompts follow ``long_prompt``."""
    max_response_tokens: int = 16
    """Number of action positions (response tokens, the first EOS ends the response)."""
    action_vocab: ActionVocabSpec = None
    """``None`` (full vocabulary), ``"task"``, an int K, or a list of token ids / words."""
    use_chat_template: bool | None = None
    """Wrap prompts in the tokenizer's chat template (``None``: when it has one)."""
    system_prompt: str | None = None
    """System message for chat-formatted prompts (``None``: the template's default)."""
    long_prompt: str = "truncate"
    """``"truncate"`` (keep the last tokens, warn once) or ``"error"``."""
    device: DeviceSpec = None
    """Device of the reference model (the reward model keeps its own)."""
    frozen_precision: str = "float32"
    """Precision of the frozen networks the env runs: the reference model and the reward
    model's encoder (when the reward model can run lower, see
    :class:`~rlhf_env.rewards.base.LowerPrecisionReward`: the encoder-head models, the
    default ``sentiment`` one included; rule scorers, VADER, callables, Hugging Face
    classifiers and ensembles run as they are). The gold scorer is the independent judge and
    always stays as given. ``"bfloat16"`` is faster and close (on CPUs with bfloat16 units, a
    first measurement on the defaults: 2.2-2.7x, ~0.08 nats per token and ~0.01 score error),
    ``"int8"`` faster on any CPU but far less accurate; see :mod:`rlhf_env.models.precision`.
    Models are converted as copies, shared by every env that asks for the same model at the
    same precision."""
    render_mode: str | None = None
    """``None`` or ``"ansi"``."""
    reward_kwargs: dict = field(default_factory=dict)
    """Extra keyword arguments for a reward model given by name."""

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("max_prompt_tokens", "max_response_tokens"):
            check_int(name, getattr(self, name), minimum=1, maximum=MAX_TOKENS)
        check_instance("task", self.task, (str, Task), "a task name or a Task")
        for name in ("model", "tokenizer", "reference_model"):
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                object.__setattr__(self, name, value := os.fspath(value))
            if (value is None and name == "model") or isinstance(
                    value, (numbers.Number, list, tuple, dict, set, bytes)):
                thing = "tokenizer" if name == "tokenizer" else "model"
                check_instance(name, value, (), f"a bundled name, a local folder, a hub id or "
                                                f"a loaded {thing}")
        check_device("device", self.device)
        check_precision("frozen_precision", self.frozen_precision)
        object.__setattr__(self, "reward_kwargs", check_mapping("reward_kwargs",
                                                                self.reward_kwargs))
        if not np.isfinite(self.kl_coef) or self.kl_coef < 0:
            raise ConfigError(f"kl_coef must be a finite number ≥ 0, got {self.kl_coef}.")
        if self.long_prompt not in ("truncate", "error"):
            raise ConfigError(
                f"long_prompt must be 'truncate' or 'error', got {self.long_prompt!r}.")
        if self.render_mode not in (None, "ansi"):
            raise ConfigError(f"render_mode must be None or 'ansi', got {self.render_mode!r}.")

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any], env_id: str = "RLHF-Text-v0") -> TextEnvConfig:
        """The config of an env built with ``kwargs``; a misspelt keyword raises a
        :class:`ConfigError` that names ``env_id`` and suggests the closest known one."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            hints = [difflib.get_close_matches(k, known, n=1) for k in unknown]
            said = ", ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "")
                             for k, h in zip(unknown, hints, strict=True))
            raise ConfigError(f"unknown {env_id} argument(s): {said}. Known: {sorted(known)}.")
        return cls(**kwargs)


class Judgement(NamedTuple):
    """Scores of a batch of ``B`` finished responses (:meth:`TextBanditCore.judge`)."""

    scores: np.ndarray
    """``(B,)`` float32 raw reward-model scores."""
    kl_terms: np.ndarray
    """``(B,)`` ``kl_coef · log π_ref(response | prompt)`` (zeros without a reference)."""
    infos: list[dict[str, Any]]
    """One episode info per response (keys listed in the envs' docstrings)."""


@functools.lru_cache(maxsize=8)
def _cached_tokenizer(name: str) -> Any:
    return load_tokenizer(name)


@functools.lru_cache(maxsize=4)
def _cached_lm(name: str, device: str | None, precision: str = "float32") -> Any:
    model = load_causal_lm(name, device=device)
    return model if precision == "float32" else frozen_copy(model, precision, copy=False)


_CONVERTED: dict[tuple[int, str], tuple[Any, Any]] = {}
"""``(id(model), precision) → (model, its converted copy)``: one copy per model and
precision for every env (the original is kept so that its id is not reused)."""


def converted(model: Any, precision: str, convert: Any) -> Any:
    """``convert(model, precision)``, made once per model object and precision and shared;
    ``model`` itself at ``"float32"``."""
    if precision == "float32":
        return model
    key = (id(model), precision)
    entry = _CONVERTED.get(key)
    if entry is None or entry[0] is not model:
        entry = _CONVERTED[key] = (model, convert(model, precision))
    return entry[1]


@functools.lru_cache(maxsize=16)
def _cached_reward_model(spec: str, kwargs: tuple) -> Any:
    return make_reward_model(spec, **dict(kwargs))


_SCORERS: dict[tuple[int, int, int], Any] = {}


def shared_reference_scorer(model: Any, pad_id: int, vocab_size: int) -> Any:
    """One :class:`~rlhf_env.text.reference.ReferenceScorer` per reference model, so every env
    on that model (N ``gym.make`` envs, say) shares its cache of prompt key/values."""
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
        monitored = config.kl_coef > 0 or config.reference_model is not None
        self.reference = self._reference() if monitored else None
        self._encoded: dict[int, tuple[np.ndarray, bool]] = {}
        self._warned_long = False

    # -- construction ---------------------------------------------------------------------
    def _tokenizer(self) -> Any:
        spec = self.config.tokenizer if self.config.tokenizer is not None else self.config.model
        if isinstance(spec, str):
            return _cached_tokenizer(spec)
        if hasattr(spec, "config") and not hasattr(spec, "encode"):
            raise ConfigError("pass the policy model's name or path as model=, or a tokenizer "
                              "object as tokenizer=; a model object carries no tokenizer.")
        return prepare_tokenizer(spec, "left")

    def _reward_model(self) -> Any:
        if self.config.reward_model is not None:
            model = resolve_reward_model(self.config.reward_model, self.config.reward_kwargs)
        else:
            kwargs = {**self.task.reward_kwargs, **self.config.reward_kwargs}
            model = resolve_reward_model(self.task.reward_model, kwargs)
        return converted(model, self.config.frozen_precision, reward_at_precision)

    def _gold(self) -> Any:
        spec = self.task.gold if self.config.gold == "task" else self.config.gold
        return None if spec is None else resolve_reward_model(spec)

    def _reference(self) -> Any:
        spec = self.config.reference_model or self.config.model
        precision = self.config.frozen_precision
        if isinstance(spec, str):
            device = None if self.config.device is None else str(self.config.device)
            model = _cached_lm(spec, device, precision)
        else:
            model = converted(spec, precision, frozen_copy)
        return shared_reference_scorer(model, self.tokenizer.pad_token_id, len(self.tokenizer))

    # -- prompts --------------------------------------------------------------------------
    def encode_prompt(self, index: int) -> tuple[np.ndarray, bool]:
        """Token ids of prompt ``index`` as the policy sees it, and whether it was truncated
        (:func:`rlhf_env.models.encode_prompt` with this env's settings)."""
        cached = self._encoded.get(index)
        if cached is not None:
            return cached
        c = self.config
        encoded = encode_prompt(self.tokenizer, self.prompts[index],
                                use_chat_template=c.use_chat_template,
                                system_prompt=c.system_prompt, max_tokens=c.max_prompt_tokens)
        if encoded.truncated:
            self._on_long_prompt(index, encoded.length)
        self._encoded[index] = (encoded.ids, encoded.truncated)
        return self._encoded[index]

    def _on_long_prompt(self, index: int, length: int) -> None:
        limit = self.config.max_prompt_tokens
        msg = (f"prompt {index} is {length} tokens long (with formatting), more than "
               f"max_prompt_tokens={limit}")
        if self.config.long_prompt == "error":
            raise PromptError(f"{msg}; raise max_prompt_tokens or shorten the prompt.")
        if not self._warned_long:
            warnings.warn(f"{msg}: keeping its last {limit} tokens (further prompts truncated "
                          f"silently; info['prompt_truncated'] marks them).", stacklevel=4)
            self._warned_long = True

    def reset_info(self, index: int) -> dict[str, Any]:
        """The ``info`` of a reset onto prompt ``index``."""
        return {"prompt": self.prompts[index], "prompt_index": index,
                "prompt_truncated": self.encode_prompt(index)[1]}

    def observation(self, indices: list[int]) -> dict[str, np.ndarray]:
        """Left-padded ``input_ids`` and ``attention_mask``, shape ``(len(indices), P)``."""
        ids, mask = left_pad([self.encode_prompt(i)[0] for i in indices],
                             self.tokenizer.pad_token_id, self.config.max_prompt_tokens)
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
        """Response texts, as :func:`decode_responses` makes them."""
        return decode_responses(self.tokenizer, responses)

    def evaluate(self, indices: list[int], actions: np.ndarray) -> tuple[np.ndarray, list[dict]]:
        """Bandit rewards ``(B,)`` float32 (score + KL term) and one info dict per episode,
        for validated actions ``(B, R)``: one reference pass, then :meth:`judge`."""
        responses, hit_limit = self.response_tokens(actions)
        ref = None
        if self.reference is not None:
            prompt_ids = [self.encode_prompt(i)[0] for i in indices]
            ref = self.reference.sequence_logprobs(prompt_ids, responses)
        judged = self.judge(indices, responses, hit_limit, ref)
        return (judged.scores + judged.kl_terms).astype(np.float32), judged.infos

    def judge(self, indices: list[int], responses: list[np.ndarray], hit_limit: np.ndarray,
              ref_logprobs: np.ndarray | None) -> Judgement:
        """Score ``B`` finished responses in one reward-model call (and one gold call).

        ``indices``: their prompts; ``responses``: their token ids (EOS included when
        emitted); ``hit_limit``: ``(B,)`` whether each stopped at the token limit without
        EOS; ``ref_logprobs``: ``(B,)`` summed ``log π_ref`` of each response, or ``None``
        without a reference model. Both envs build their finished episodes' infos here.
        """
        texts = self.decode(responses)
        prompts = [self.prompts[i] for i in indices]
        scores = score_checked(self.reward_model, prompts, texts)
        gold = None if self.gold is None else score_checked(self.gold, prompts, texts)
        kl_terms = (np.zeros_like(scores) if ref_logprobs is None
                    else self.config.kl_coef * ref_logprobs)
        infos = []
        for b, index in enumerate(indices):
            info = {
                "prompt": prompts[b], "response": texts[b], "score": float(scores[b]),
                "kl_term": float(kl_terms[b]), "kl_coef": float(self.config.kl_coef),
                "response_tokens": int(responses[b].size),
                "hit_token_limit": bool(hit_limit[b]), "prompt_index": int(index),
                "prompt_truncated": bool(self.encode_prompt(index)[1]),
            }
            if gold is not None:
                info["gold_score"] = float(gold[b])
            if ref_logprobs is not None:
                info["ref_logprob"] = float(ref_logprobs[b])
            infos.append(info)
        return Judgement(scores, kl_terms, infos)


def decode_responses(tokenizer: Any, responses: list[np.ndarray]) -> list[str]:
    """Response texts as the text envs show them to the reward model: EOS and other special
    tokens dropped, outer whitespace stripped."""
    texts = tokenizer.batch_decode([r.tolist() for r in responses], skip_special_tokens=True)
    return [t.strip() for t in texts]


def text_core(env: Any) -> TextBanditCore:
    """The :class:`TextBanditCore` behind a text env: ``RLHF-Text-v0`` or
    ``RLHF-TextToken-v0``, single or vector, under any wrappers (or a core itself).

    This is the one supported way for code outside the envs (trainers, best-of-n, the
    checker, benchmarks) to reach the env's tokenizer, prompts, reward model and settings.
    Raises :class:`ConfigError` for any other env.
    """
    if isinstance(env, TextBanditCore):
        return env
    core = getattr(getattr(env, "unwrapped", env), "core", None)
    if not isinstance(core, TextBanditCore):
        raise ConfigError(
            f"expected an RLHF-Text-v0 or RLHF-TextToken-v0 env (single or vector, wrapped or "
            f"not), got {type(env).__name__}, which has no text core; build one with "
            f"gym.make('RLHF-Text-v0', ...) or gym.make_vec('RLHF-Text-v0', num_envs=N, ...).")
    return core
