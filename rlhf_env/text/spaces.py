"""Observation and action spaces of the text envs, their checks, and the left-padded layout.

Spaces are chosen to survive Stable-Baselines3's preprocessing: token ids are integer
``Box`` arrays (SB3 would one-hot a ``MultiDiscrete`` observation over the whole vocabulary),
next to an ``attention_mask``, in a flat ``Dict``. :func:`left_pad` is the one place that lays
token rows out that way (observations, reference-model batches, SFT and best-of-n batches).

- bandit (``RLHF-Text-v0``): :func:`observation_space`, :func:`action_space`,
  :func:`check_actions`;
- token env (``RLHF-TextToken-v0``): :func:`token_spaces`, :class:`TokenDiscrete`,
  :func:`check_token_actions`;
- both: :class:`ActionVocab` (action index → token id).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from rlhf_env.errors import ConfigError, InvalidActionError
from rlhf_env.models.prompt import eos_token_id


def single_token_id(tokenizer: Any, word: str) -> int | None:
    """The id of ``" " + word`` (or ``word``) when it is exactly one token, else ``None``."""
    for text in (" " + word, word):
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) == 1:
            return int(ids[0])
    return None


class ActionVocab:
    """Which token each action index stands for.

    ``token_ids=None`` means the full vocabulary (action index == token id). A restricted
    vocabulary is an array of distinct token ids that always contains EOS, so a response can
    end early.
    """

    def __init__(self, vocab_size: int, eos_id: int, token_ids: Sequence[int] | None = None):
        self.vocab_size = int(vocab_size)
        self.eos_id = int(eos_id)
        if token_ids is None:
            self.token_ids: np.ndarray | None = None
            self.size = self.vocab_size
            self.eos_action = self.eos_id
            return
        ids = np.asarray(list(dict.fromkeys(int(t) for t in token_ids)), dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ConfigError(
                f"action_vocab token ids must lie in [0, {self.vocab_size - 1}]; got "
                f"{ids[(ids < 0) | (ids >= self.vocab_size)][:5].tolist()}."
            )
        if self.eos_id not in ids:
            ids = np.concatenate([ids, [self.eos_id]])
        if ids.size < 2:
            raise ConfigError("action_vocab needs at least one token besides EOS.")
        self.token_ids = ids
        self.size = int(ids.size)
        self.eos_action = int(np.flatnonzero(ids == self.eos_id)[0])

    @property
    def restricted(self) -> bool:
        return self.token_ids is not None

    def to_token_ids(self, actions: np.ndarray) -> np.ndarray:
        """Map action indices (any shape) to token ids."""
        return actions if self.token_ids is None else self.token_ids[actions]

    @classmethod
    def from_spec(cls, spec: Any, tokenizer: Any, *, candidate_words: Sequence[str] = (),
                  corpus: Sequence[str] = ()) -> ActionVocab:
        """Build from ``None`` (full), ``"task"``, an int ``K``, token ids, or words.

        - ``"task"``: every candidate word of the task that is a single token, plus EOS.
        - ``K``: the ``K - 1`` most useful tokens plus EOS: the task's words first, then the
          most frequent tokens of ``corpus`` (the task's prompts).
        - a list of ints: those token ids; a list of strings: those words, each of which must
          be a single token.
        """
        vocab_size, eos = len(tokenizer), eos_token_id(tokenizer)
        if spec is None:
            return cls(vocab_size, eos)
        if isinstance(spec, str):
            if spec != "task":
                raise ConfigError(
                    f"action_vocab={spec!r} is not understood; use None (full vocabulary), "
                    f"'task', an int K, or a list of token ids or words."
                )
            return cls(vocab_size, eos, _word_ids(tokenizer, candidate_words, strict=False))
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            return cls(vocab_size, eos, _top_k(tokenizer, int(spec), candidate_words, corpus))
        if not isinstance(spec, (list, tuple, np.ndarray)):
            raise ConfigError(
                f"action_vocab must be None, 'task', an int K, or a list of token ids or words; "
                f"got {spec!r} ({type(spec).__name__})."
            )
        items = list(spec)
        if items and all(isinstance(t, str) for t in items):
            return cls(vocab_size, eos, _word_ids(tokenizer, items, strict=True))
        if items and all(isinstance(t, (int, np.integer)) for t in items):
            return cls(vocab_size, eos, [int(t) for t in items])
        raise ConfigError(
            "action_vocab must be None, 'task', an int, or a non-empty list of token ids or of "
            "words."
        )


def _word_ids(tokenizer: Any, words: Sequence[str], strict: bool) -> list[int]:
    ids, bad = [], []
    for word in words:
        tid = single_token_id(tokenizer, word)
        if tid is None:
            bad.append(word)
        else:
            ids.append(tid)
    if strict and bad:
        raise ConfigError(
            f"these action words are not single tokens for this tokenizer: {bad[:10]}; "
            f"drop them or pass token ids instead."
        )
    return ids


def _top_k(tokenizer: Any, k: int, words: Sequence[str], corpus: Sequence[str]) -> list[int]:
    if k < 2:
        raise ConfigError(f"action_vocab={k} is too small: it needs EOS and at least one token.")
    if k > len(tokenizer):
        raise ConfigError(f"action_vocab={k} exceeds the vocabulary size {len(tokenizer)}.")
    ranked = _word_ids(tokenizer, words, strict=False)
    counts: Counter[int] = Counter()
    for text in corpus:
        counts.update(tokenizer.encode(text, add_special_tokens=False))
    ranked += [t for t, _ in counts.most_common()]
    special = set(tokenizer.all_special_ids)
    chosen = [t for t in dict.fromkeys(ranked) if t not in special][: k - 1]
    if len(chosen) < k - 1:  # small corpora: fill with the lowest ids that are not special
        extra = (t for t in range(len(tokenizer)) if t not in special and t not in chosen)
        chosen += [next(extra) for _ in range(k - 1 - len(chosen))]
    return chosen


def left_pad(rows: Sequence[Sequence[int] | np.ndarray], pad_id: int,
             width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Token rows right-aligned in one batch: ``(ids, mask)``, both int64 ``(len(rows), T)``.

    ``T`` is ``width`` (default: the longest row). Row ``b`` fills the last ``len(rows[b])``
    columns; the columns before it hold ``pad_id`` in ``ids`` and 0 in ``mask`` (1 on real
    tokens). Left padding makes every row end in the last column, which batched generation
    and the text envs' observations need.
    """
    lengths = [len(row) for row in rows]
    width = max(lengths, default=0) if width is None else width
    if lengths and max(lengths) > width:
        raise ValueError(f"a row of {max(lengths)} tokens does not fit width {width}.")
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for b, (row, n) in enumerate(zip(rows, lengths, strict=True)):
        if n:
            ids[b, width - n:] = row
            mask[b, width - n:] = 1
    return ids, mask


def observation_space(vocab_size: int, max_prompt_tokens: int) -> spaces.Dict:
    """``{"input_ids": Box(0, V-1, (P,), int64), "attention_mask": Box(0, 1, (P,), int64)}``."""
    return spaces.Dict(
        {
            "input_ids": spaces.Box(0, vocab_size - 1, (max_prompt_tokens,), np.int64),
            "attention_mask": spaces.Box(0, 1, (max_prompt_tokens,), np.int64),
        }
    )


def action_space(vocab: ActionVocab, max_response_tokens: int) -> spaces.MultiDiscrete:
    """One categorical choice per response position over the (restricted) vocabulary."""
    return spaces.MultiDiscrete(np.full(max_response_tokens, vocab.size, dtype=np.int64))


def check_actions(actions: Any, space: Any, batch: int | None) -> np.ndarray:
    """Validate a (batch of) action(s) for the ``MultiDiscrete`` ``space``; return int64 or
    raise :class:`InvalidActionError` saying what was expected."""
    arr = np.asarray(actions)
    want = space.shape if batch is None else (batch, *space.shape)
    if arr.shape != want:
        raise InvalidActionError(
            f"the action has shape {arr.shape}, expected {want}: one action index per response "
            f"position ({space.shape[0]} positions)."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidActionError(
            f"the action has dtype {arr.dtype}; actions are integer action indices "
            f"(cast with `.astype(np.int64)`)."
        )
    high = int(space.nvec.flat[0])
    if arr.size and (arr.min() < 0 or arr.max() >= high):
        bad = arr[(arr < 0) | (arr >= high)]
        raise InvalidActionError(
            f"{bad.size} action indices are outside [0, {high - 1}] (e.g. {bad[:3].tolist()}); "
            f"with a restricted action vocabulary, index i means token action_vocab[i]."
        )
    return arr.astype(np.int64, copy=False)


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


def token_spaces(vocab: ActionVocab, length: int) -> tuple[spaces.Dict, TokenDiscrete]:
    """Observation (``length = P + R`` columns) and action space of the token env."""
    token_ids = None if vocab.token_ids is None else vocab.token_ids.tolist()
    return (observation_space(vocab.vocab_size, length),
            TokenDiscrete(vocab.size, token_ids))


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
