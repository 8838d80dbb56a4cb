"""Best-of-n sampling reranked by a reward model: the non-RL reference point for PPO.

For each prompt, draw ``n`` responses from the policy, score them with the reward model and
keep the highest-scoring one. No weight changes, so it shows how much reward a policy can
reach from its own samples and at what KL cost: the best-of-n distribution is
``log n − (n − 1)/n`` nats from the policy (:func:`best_of_n_kl`; the usual analytic value,
an upper bound that is exact when no two samples tie). A PPO run that reaches the
best-of-n score at a lower KL has learned something reranking alone cannot.

Sampling is the token-level PPO trainer's own (:func:`agents.token_ppo.generate` with a
:class:`~agents.token_ppo.SamplingTransform`: same temperature, top-k, top-p and allowed
tokens), prompts are encoded and responses decoded as ``RLHF-Text-v0`` does, and the
reward model is anything following the :mod:`rlhf_env.rewards` protocol. With a gold scorer
the gold score of the chosen response is reported too, so over-optimisation of the proxy is
visible (:meth:`BestOfNResult.gold_at` along ``k``).

* :func:`best_of_n` — text prompts, a tokenizer and a reward model;
* :func:`best_of_n_baseline` — the prompts, reward model and gold scorer of an
  ``RLHF-Text-v0`` env (or a task name).

>>> round(best_of_n_kl(4), 4)
0.6363
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.token_ppo.config import TokenPPOConfig
from agents.token_ppo.generation import (
    Generation,
    LMSampler,
    Sampler,
    SamplingTransform,
    generate,
)
from agents.token_ppo.policy import PolicyWithValue, vocab_size
from rlhf_env.errors import ConfigError, PromptError
from rlhf_env.models import encode_prompt, eos_token_id
from rlhf_env.rewards.base import score_checked
from rlhf_env.text.core import (
    TextBanditCore,
    TextEnvConfig,
    decode_responses,
    resolve_reward_model,
    text_core,
)
from rlhf_env.text.spaces import left_pad
from rlhf_env.text.tasks import Task
from rlhf_env.validation import check_fields


def best_of_n_kl(n: int) -> float:
    """Analytic KL (nats) of best-of-``n`` sampling to the sampling policy:
    ``log n − (n − 1)/n`` (0 for ``n = 1``)."""
    if n < 1:
        raise ConfigError(f"n must be ≥ 1, got {n}.")
    return math.log(n) - (n - 1) / n


@dataclass(frozen=True)
class BestOfNConfig:
    """How best-of-n samples. Mirrors :class:`~agents.token_ppo.TokenPPOConfig`'s sampling
    fields (see :meth:`from_ppo`). Validated on construction."""

    max_new_tokens: int | None = None
    """Response length limit in tokens (``None``: the env's ``max_response_tokens``, or 16
    for text prompts)."""
    temperature: float = 1.0
    """Sampling temperature."""
    top_k: int = 0
    """Keep the k most likely tokens (0: off)."""
    top_p: float = 1.0
    """Nucleus sampling mass (1: off)."""
    allowed_token_ids: tuple[int, ...] | None = None
    """Restrict sampling to these ids (EOS is always allowed); ``None``: all tokens."""
    seed: int = 0
    """Seeds the sampling and the choice of env prompts."""
    batch_size: int = 64
    """Sequences per generation pass (and per reward-model call)."""
    max_prompt_tokens: int = 64
    """Text prompts keep their last tokens beyond this, as the env does (env prompts use the
    env's own setting)."""
    use_chat_template: bool | None = None
    """Chat-format text prompts as the env does (``None``: when the tokenizer has one)."""
    system_prompt: str | None = None
    """System message for chat-formatted text prompts."""

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("batch_size", "max_prompt_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1, got {getattr(self, name)}.")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be ≥ 1 or None, got {self.max_new_tokens}.")
        if not self.temperature > 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}.")
        if self.top_k < 0:
            raise ConfigError(f"top_k must be ≥ 0 (0 disables it), got {self.top_k}.")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must lie in (0, 1], got {self.top_p}.")
        if self.allowed_token_ids is not None and len(self.allowed_token_ids) == 0:
            raise ConfigError("allowed_token_ids must name at least one token, or be None.")

    @classmethod
    def from_ppo(cls, config: TokenPPOConfig) -> BestOfNConfig:
        """The sampling settings of a PPO run, so both sample the same distribution."""
        return cls(max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                   top_k=config.top_k, top_p=config.top_p,
                   allowed_token_ids=config.allowed_token_ids, seed=config.seed,
                   max_prompt_tokens=config.max_prompt_tokens)


@dataclass(frozen=True, eq=False, repr=False)
class BestOfNResult:
    """Best-of-n choices and every draw. ``P`` prompts, ``n`` draws per prompt."""

    prompts: tuple[str, ...]
    """``(P,)`` prompt texts."""
    responses: tuple[str, ...]
    """``(P,)`` the chosen (highest-scoring) response of each prompt."""
    scores: np.ndarray
    """``(P,)`` float32 reward-model scores of the chosen responses."""
    gold_scores: np.ndarray | None
    """``(P,)`` gold scores of the chosen responses (``None`` without a gold scorer)."""
    samples: tuple[tuple[str, ...], ...]
    """``(P, n)`` every drawn response, in draw order."""
    sample_scores: np.ndarray
    """``(P, n)`` their reward-model scores."""
    sample_gold: np.ndarray | None
    """``(P, n)`` their gold scores."""

    @property
    def n(self) -> int:
        """Draws per prompt."""
        return int(self.sample_scores.shape[1])

    @property
    def mean_score(self) -> float:
        """Mean reward-model score of the chosen responses."""
        return float(self.scores.mean())

    @property
    def mean_gold(self) -> float | None:
        """Mean gold score of the chosen responses."""
        return None if self.gold_scores is None else float(self.gold_scores.mean())

    @property
    def baseline_score(self) -> float:
        """The ``n = 1`` reference from the same draws: the mean score of a single sample."""
        return float(self.sample_scores.mean())

    @property
    def baseline_gold(self) -> float | None:
        """Mean gold score of a single sample."""
        return None if self.sample_gold is None else float(self.sample_gold.mean())

    @property
    def kl(self) -> float:
        """Analytic KL of best-of-n to the sampling policy, in nats."""
        return best_of_n_kl(self.n)

    def score_at(self, k: int) -> float:
        """Expected mean score of best-of-``k`` (``1 ≤ k ≤ n``), estimated without bias from
        these draws (the average over all ``k``-subsets); non-decreasing in ``k``, equal to
        :attr:`baseline_score` at 1 and :attr:`mean_score` at ``n``."""
        return float((expected_best_of(self.sample_scores, k) * self.sample_scores).sum(1)
                     .mean())

    def gold_at(self, k: int) -> float | None:
        """Expected mean gold score of the response best-of-``k`` picks by reward-model score
        (``None`` without a gold scorer): the over-optimisation curve along ``k``."""
        if self.sample_gold is None:
            return None
        return float((expected_best_of(self.sample_scores, k) * self.sample_gold).sum(1).mean())

    def __repr__(self) -> str:
        return f"BestOfNResult({self.summary()}, {len(self.prompts)} prompts)"

    def summary(self) -> str:
        """One line: ``best-of-n reference: score X (n=1: Y; KL Z nats)`` and the gold."""
        text = (f"best-of-{self.n} reference: score {self.mean_score:.3f} "
                f"(n=1: {self.baseline_score:.3f}; KL {self.kl:.3f} nats)")
        if self.mean_gold is not None:
            text += f", gold {self.mean_gold:.3f} (n=1: {self.baseline_gold:.3f})"
        return text


def expected_best_of(scores: np.ndarray, k: int) -> np.ndarray:
    """Weights ``(P, n)``: the probability that draw ``j`` is the one best-of-``k`` picks when
    ``k`` of the ``n`` draws are chosen at random (ties go to the earlier draw, as
    ``argmax`` does). Each row sums to 1."""
    n = scores.shape[1]
    if not 1 <= k <= n:
        raise ConfigError(f"k must lie in [1, {n}] (the draws per prompt), got {k}.")
    total = math.comb(n, k)
    by_rank = np.array([math.comb(i, k - 1) / total for i in range(n)])  # rank 0 = lowest
    weights = np.zeros(scores.shape)
    for row, s in enumerate(scores):
        order = np.lexsort((-np.arange(n), s))  # ascending score, earlier draw ranks higher
        weights[row, order] = by_rank
    return weights


# -- sampling ------------------------------------------------------------------------------
def _sampler(policy: Any) -> tuple[Sampler, Any]:
    """What :func:`generate` samples from, and the LM itself."""
    if isinstance(policy, PolicyWithValue):
        return policy, policy.lm
    return LMSampler(policy.eval()), policy


def _transform(config: BestOfNConfig, n_vocab: int, eos_id: int,
               device: torch.device) -> SamplingTransform:
    allowed = None
    if config.allowed_token_ids is not None:
        ids = [*config.allowed_token_ids, eos_id]
        if min(ids) < 0 or max(ids) >= n_vocab:
            raise ConfigError(f"allowed_token_ids must lie in [0, {n_vocab - 1}].")
        allowed = torch.zeros(n_vocab, dtype=torch.bool, device=device)
        allowed[ids] = True
    return SamplingTransform(config.temperature, config.top_k, config.top_p, allowed)


def _response_ids(gen: Generation) -> list[np.ndarray]:
    """Each response's ids up to and including its first EOS (what the env scores)."""
    tokens, mask = gen.tokens.cpu().numpy(), gen.mask.cpu().numpy()
    return [t[m] for t, m in zip(tokens, mask, strict=True)]


@dataclass(frozen=True)
class _Job:
    """Everything one best-of-n run needs, whatever supplied the prompts."""

    prompts: list[str]
    prompt_ids: Sequence[Sequence[int] | np.ndarray]
    decode: Callable[[list[np.ndarray]], list[str]]
    reward_model: Any
    gold: Any
    eos_id: int
    pad_id: int
    max_new_tokens: int


def _run(policy: Any, job: _Job, n: int, config: BestOfNConfig) -> BestOfNResult:
    """Sample ``n`` responses per prompt (prompt-major), score them, pick the best."""
    if n < 1:
        raise ConfigError(f"n must be ≥ 1, got {n}.")
    if not job.prompts:
        raise PromptError("best-of-n needs at least one prompt; the prompt list is empty.")
    sampler, lm = _sampler(policy)
    device = next(lm.parameters()).device
    transform = _transform(config, vocab_size(lm), job.eos_id, device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    rows = [p for p in range(len(job.prompts)) for _ in range(n)]
    texts: list[str] = []
    scores, gold = [], []
    for start in range(0, len(rows), config.batch_size):
        chunk = rows[start:start + config.batch_size]
        ids, mask = (torch.from_numpy(a).to(device)
                     for a in left_pad([job.prompt_ids[p] for p in chunk], job.pad_id))
        gen = generate(sampler, ids, mask, max_new_tokens=job.max_new_tokens,
                       eos_id=job.eos_id, transform=transform, generator=generator,
                       group_size=n)  # a prompt's draws are consecutive: prefill it once
        chunk_texts = job.decode(_response_ids(gen))
        chunk_prompts = [job.prompts[p] for p in chunk]
        scores.append(score_checked(job.reward_model, chunk_prompts, chunk_texts))
        if job.gold is not None:
            gold.append(score_checked(job.gold, chunk_prompts, chunk_texts))
        texts.extend(chunk_texts)
    return _pick(job.prompts, texts, np.concatenate(scores).reshape(-1, n),
                 np.concatenate(gold).reshape(-1, n) if gold else None)


def _pick(prompts: list[str], texts: list[str], scores: np.ndarray,
          gold: np.ndarray | None) -> BestOfNResult:
    n = scores.shape[1]
    best = scores.argmax(1)
    rows = np.arange(len(prompts))
    samples = tuple(tuple(texts[p * n:(p + 1) * n]) for p in rows)
    return BestOfNResult(
        prompts=tuple(prompts), responses=tuple(samples[p][best[p]] for p in rows),
        scores=scores[rows, best], gold_scores=None if gold is None else gold[rows, best],
        samples=samples, sample_scores=scores, sample_gold=gold)


# -- entry points ----------------------------------------------------------------------------
def best_of_n(policy: Any, tokenizer: Any, prompts: Sequence[str], reward_model: Any, n: int,
              config: BestOfNConfig | None = None, *, gold: Any = None) -> BestOfNResult:
    """Best-of-``n`` over text ``prompts``.

    ``policy``: a causal LM or a :class:`~agents.token_ppo.PolicyWithValue`. ``reward_model``
    and ``gold``: anything :func:`rlhf_env.rewards.make_reward_model` accepts (an object, a
    function, a registered name, a folder); ``gold=None`` skips the gold scores.
    """
    config = config or BestOfNConfig()
    eos = eos_token_id(tokenizer)
    ids = [encode_prompt(tokenizer, p, use_chat_template=config.use_chat_template,
                         system_prompt=config.system_prompt,
                         max_tokens=config.max_prompt_tokens).ids for p in prompts]
    pad = tokenizer.pad_token_id
    job = _Job(list(prompts), ids, functools.partial(decode_responses, tokenizer),
               resolve_reward_model(reward_model),
               None if gold is None else resolve_reward_model(gold), eos,
               eos if pad is None else int(pad), config.max_new_tokens or 16)
    return _run(policy, job, n, config)


def best_of_n_baseline(policy: Any, env_or_task: Any, n: int, num_prompts: int | None = None,
                       config: BestOfNConfig | None = None, *,
                       model: str | None = None) -> BestOfNResult:
    """Best-of-``n`` on an ``RLHF-Text-v0`` env's prompts with its reward model and gold.

    ``env_or_task``: the env (single or vector, as built for ``TokenPPOTrainer``) or a task
    name / :class:`~rlhf_env.text.Task`; then ``model`` names the tokenizer's model family,
    as the env's ``model=`` (default: the env's default). Prompts are encoded (chat format,
    truncation) and responses decoded by the env's own code. ``num_prompts``: a seeded random
    subset of the env's prompts (``None``: all of them).
    """
    config = config or BestOfNConfig()
    core = _core(env_or_task, model)
    n_vocab = vocab_size(_sampler(policy)[1])
    if n_vocab < len(core.tokenizer):
        raise ConfigError(f"the policy has {n_vocab} token embeddings but the env's tokenizer "
                          f"has {len(core.tokenizer)}; build the env with the policy's model "
                          f"name.")
    limit = core.config.max_response_tokens
    if config.max_new_tokens is not None and config.max_new_tokens > limit:
        raise ConfigError(f"max_new_tokens={config.max_new_tokens} exceeds the env's "
                          f"max_response_tokens={limit}; the env would never score such "
                          f"responses.")
    indices = _prompt_indices(len(core.prompts), num_prompts, config.seed)
    eos = eos_token_id(core.tokenizer)
    job = _Job([core.prompts[i] for i in indices], [core.encode_prompt(i)[0] for i in indices],
               core.decode, core.reward_model, core.gold, eos, int(core.tokenizer.pad_token_id),
               config.max_new_tokens or limit)
    return _run(policy, job, n, config)


def _core(env_or_task: Any, model: str | None) -> TextBanditCore:
    """The env's :class:`~rlhf_env.text.core.TextBanditCore` (built for a task name)."""
    if isinstance(env_or_task, (str, Task)):
        config = TextEnvConfig(task=env_or_task) if model is None else TextEnvConfig(
            task=env_or_task, model=model)
        return TextBanditCore(config)
    return text_core(env_or_task)


def _prompt_indices(total: int, num_prompts: int | None, seed: int) -> list[int]:
    if num_prompts is None:
        return list(range(total))
    if not 1 <= num_prompts <= total:
        raise ConfigError(f"num_prompts must lie in [1, {total}] (the env's prompt count), got "
                          f"{num_prompts}; pass None for all prompts.")
    chosen = np.random.default_rng(seed).choice(total, size=num_prompts, replace=False)
    return sorted(int(i) for i in chosen)

