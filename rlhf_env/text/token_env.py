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

from rlhf_env.text.bandit import format_episode
from rlhf_env.text.core import TextBanditCore, TextEnvConfig
from rlhf_env.text.prompts import pick_prompts
from rlhf_env.text.reference import CachedReference
from rlhf_env.text.spaces import check_token_actions, left_pad, token_spaces


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

    The reference log-probs come from a
    :class:`~rlhf_env.text.reference.CachedReference` (``kv_cache=True``): one length-1
    forward per step for all rows, plus one batched prefill for the rows that started a new
    prompt. With ``kv_cache=False`` (or a model whose cache layout it does not
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
        self.episodes[row] = _Episode(index, self.core.encode_prompt(index)[0])
        self._fresh.add(row)
        return self.core.reset_info(index)

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
        ids, mask = left_pad([self.context(row) for row in rows],
                             self.core.tokenizer.pad_token_id, self.length)
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
            for row, info in zip(ended, self._finish(ended, truncated[ended]), strict=True):
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

    def _finish(self, rows: np.ndarray, hit_limit: np.ndarray) -> list[dict[str, Any]]:
        """The episode infos of ``rows`` (one reward call, one gold call for all of them)."""
        episodes = [self._episode(int(row)) for row in rows]
        ref = None if self.core.reference is None else np.array(
            [e.ref_logprob for e in episodes], dtype=np.float64)
        return self.core.judge([e.index for e in episodes],
                               [np.asarray(e.tokens, np.int64) for e in episodes],
                               hit_limit, ref).infos

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


class TextTokenEnv(gym.Env):
    """Write a response one token per step; a learned reward model judges the whole of it.

    ## Description
    Each episode answers one prompt. ``reset()`` draws a prompt from the task's prompt source
    (through ``self.np_random``); every ``step(action)`` appends one token to the response.
    The episode ends at EOS or at ``max_response_tokens``, when the decoded response is
    scored by the reward model. With ``kl_coef > 0`` every token also earns its
    reference log-probability, which keeps the text close to what the reference LM writes.

    ## Action Space
    ``Discrete(A)`` (a :class:`~rlhf_env.text.spaces.TokenDiscrete`): the next token. ``A``
    is the vocabulary size, or the size of the restricted action vocabulary
    (``action_vocab``), where index ``i`` means token ``action_vocab[i]``
    (``action_space.token_ids[i]``). EOS ends the response.

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
    ``use_chat_template``, ``system_prompt``, ``long_prompt``, ``device``,
    ``frozen_precision``, ``render_mode`` ("ansi"), ``reward_kwargs``.
    ``reset(options={"prompt_index": i})`` answers a chosen prompt.

    ``info`` every step: ``token`` (the token id). At the end also ``prompt``, ``response``,
    ``score``, ``kl_term`` (sum of the KL rewards), ``kl_coef``, ``ref_logprob`` (with a
    reference model, as in ``RLHF-Text-v0``: the response's summed ``log π_ref``, nats),
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
        self.core = TextBanditCore(TextEnvConfig.from_kwargs(kwargs, "RLHF-TextToken-v0"))
        self.render_mode = self.core.config.render_mode
        self.episodes = TokenEpisodes(self.core, 1)
        self.observation_space, self.action_space = token_spaces(self.core.vocab,
                                                                 self.episodes.length)
        self._last: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        [index] = pick_prompts(options, self.core.prompts, [self.np_random])
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


__all__ = ["TextTokenEnv", "TokenEpisodes", "TokenStep"]
