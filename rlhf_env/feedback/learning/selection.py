"""Query selection: which pairs to ask annotators about.

Labels are the expensive part of RLHF; asking about the right pairs buys more accuracy per
label. Every selector follows one small protocol::

    selector.select(candidates: Sequence[ComparisonQuery], n: int, rng) -> np.ndarray  # indices

============================  ============================================================
:class:`RandomSelector`       uniform without replacement (the baseline)
:class:`UncertaintySelector`  the pairs an ensemble of reward models disagrees on most: the
                              variance across members of ``P(a ≻ b) = sigmoid(r_a − r_b)``
:class:`DiversitySelector`    farthest-point sampling on pair embeddings, so the chosen pairs
                              cover the space of responses instead of clumping
============================  ============================================================

    >>> import numpy as np
    >>> from rlhf_env.feedback.learning.labelers import ComparisonQuery
    >>> cands = [ComparisonQuery("p", f"a{i}", f"b{i}") for i in range(10)]
    >>> RandomSelector().select(cands, 3, np.random.default_rng(0)).shape
    (3,)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rlhf_env.errors import ConfigError
from rlhf_env.feedback.learning.labelers import ComparisonQuery

MemberScores = Callable[[Sequence[str], Sequence[str]], np.ndarray]
"""``f(prompts, responses) -> (K, n)`` scores of K ensemble members."""

Embedder = Callable[[Sequence[str]], np.ndarray]
"""``f(texts) -> (n, d)`` embeddings."""


@runtime_checkable
class QuerySelector(Protocol):
    """Picks ``n`` of the candidate queries to send to a labeler."""

    def select(
        self, candidates: Sequence[ComparisonQuery], n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Indices (int array, no repeats, at most ``n``) into ``candidates``."""
        ...


def _check_n(n: int, candidates: Sequence[Any]) -> int:
    if n < 0:
        raise ConfigError(f"cannot select {n} queries; n must be >= 0.")
    return min(int(n), len(candidates))


def candidate_pairs(
    prompts: Sequence[str],
    responses: Sequence[Sequence[str]],
    *,
    max_pairs: int | None = None,
    rng: np.random.Generator | None = None,
    task: str = "default",
) -> list[ComparisonQuery]:
    """All pairs of different responses to the same prompt, optionally subsampled.

    ``responses[i]`` holds the candidate responses to ``prompts[i]``.
    """
    if len(prompts) != len(responses):
        raise ConfigError(
            f"candidate_pairs: got {len(prompts)} prompts but {len(responses)} response lists."
        )
    pairs = [
        ComparisonQuery(p, a, b, task)
        for p, rs in zip(prompts, responses, strict=True)
        for a, b in itertools.combinations(dict.fromkeys(rs), 2)
    ]
    if max_pairs is not None and len(pairs) > max_pairs:
        rng = rng or np.random.default_rng(0)
        keep = np.sort(rng.choice(len(pairs), size=max_pairs, replace=False))
        pairs = [pairs[i] for i in keep]
    return pairs


class RandomSelector:
    """Uniformly random queries, without replacement."""

    def select(
        self, candidates: Sequence[ComparisonQuery], n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """``n`` distinct random indices."""
        n = _check_n(n, candidates)
        return rng.choice(len(candidates), size=n, replace=False).astype(np.int64)


def ensemble_disagreement(scores_a: np.ndarray, scores_b: np.ndarray) -> np.ndarray:
    """Variance across members of ``P(a ≻ b)``: ``(K, n), (K, n) -> (n,)``."""
    scores_a, scores_b = np.asarray(scores_a, np.float64), np.asarray(scores_b, np.float64)
    if scores_a.shape != scores_b.shape or scores_a.ndim != 2:
        raise ConfigError(
            f"ensemble scores must both have shape (members, n); got {scores_a.shape} and "
            f"{scores_b.shape}."
        )
    p = 1.0 / (1.0 + np.exp(-np.clip(scores_a - scores_b, -50, 50)))
    return p.var(axis=0)


def _member_scores_fn(ensemble: Any) -> MemberScores:
    fn = getattr(ensemble, "member_scores", None)
    if callable(fn):
        return fn
    if callable(ensemble):
        return ensemble
    if isinstance(ensemble, Sequence) and all(hasattr(m, "score") for m in ensemble):
        members = list(ensemble)
        if len(members) < 2:
            raise ConfigError("uncertainty selection needs an ensemble of at least 2 members.")
        return lambda p, r: np.stack([np.asarray(m.score(list(p), list(r))) for m in members])
    raise ConfigError(
        f"{ensemble!r} is not an ensemble: pass an object with member_scores(prompts, "
        "responses) -> (K, n), a list of reward models, or such a function."
    )


class UncertaintySelector:
    """The queries an ensemble disagrees on most (variance of ``P(a ≻ b)`` across members).

    Args:
        ensemble: an object with ``member_scores(prompts, responses) -> (K, n)`` (such as
            :class:`rlhf_env.rewards.EnsembleReward`), a list of reward models,
            or a function with that signature.
        pool_size: score only a random subset of this many candidates (``None``: all), to
            bound the cost on huge candidate sets.
    """

    def __init__(self, ensemble: Any, *, pool_size: int | None = None) -> None:
        if pool_size is not None and pool_size < 1:
            raise ConfigError(f"UncertaintySelector: pool_size must be >= 1, got {pool_size}.")
        self.member_scores = _member_scores_fn(ensemble)
        self.pool_size = pool_size

    def disagreement(self, candidates: Sequence[ComparisonQuery]) -> np.ndarray:
        """Disagreement score of each candidate, shape ``(n,)``."""
        n = len(candidates)
        prompts = [c.prompt for c in candidates]
        responses = [c.response_a for c in candidates] + [c.response_b for c in candidates]
        scores = np.asarray(self.member_scores(prompts + prompts, responses), np.float64)
        if scores.ndim != 2 or scores.shape[1] != 2 * n:
            raise ConfigError(
                f"member_scores returned shape {scores.shape}; expected (members, {2 * n})."
            )
        return ensemble_disagreement(scores[:, :n], scores[:, n:])

    def select(
        self, candidates: Sequence[ComparisonQuery], n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """The ``n`` most disputed candidates (ties broken at random)."""
        n = _check_n(n, candidates)
        pool = np.arange(len(candidates))
        if self.pool_size is not None and len(pool) > self.pool_size:
            pool = np.sort(rng.choice(len(pool), size=self.pool_size, replace=False))
        dis = self.disagreement([candidates[int(i)] for i in pool])
        order = np.lexsort((rng.random(len(pool)), -dis))  # primary key last: -disagreement
        return pool[order[:n]].astype(np.int64)


def farthest_point_indices(
    features: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Greedy farthest-point sampling: a random start, then the point farthest from the set.

    ``features`` is ``(m, d)``; returns ``min(n, m)`` distinct indices. Cost ``O(n·m·d)``.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ConfigError(f"features must be a (points, dims) array, got shape {x.shape}.")
    n = min(int(n), len(x))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    chosen = [int(rng.integers(len(x)))]
    dist = np.linalg.norm(x - x[chosen[0]], axis=1)
    for _ in range(n - 1):
        dist[chosen] = -1.0
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(x - x[nxt], axis=1))
    return np.array(chosen, dtype=np.int64)


def pair_features(emb_a: np.ndarray, emb_b: np.ndarray) -> np.ndarray:
    """Order-free features of a pair: ``[mean, |difference|]`` of the two embeddings."""
    return np.concatenate([(emb_a + emb_b) / 2.0, np.abs(emb_a - emb_b)], axis=1)


class DiversitySelector:
    """Pairs spread over embedding space (farthest-point sampling on :func:`pair_features`).

    Args:
        embed: ``f(texts) -> (n, d)``; called on ``prompt + "\\n" + response`` texts.
    """

    def __init__(self, embed: Embedder) -> None:
        if not callable(embed):
            raise ConfigError("DiversitySelector: embed must be a function texts -> (n, d).")
        self.embed = embed

    def select(
        self, candidates: Sequence[ComparisonQuery], n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """``n`` candidates chosen by farthest-point sampling."""
        n = _check_n(n, candidates)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        texts_a = [f"{c.prompt}\n{c.response_a}" for c in candidates]
        texts_b = [f"{c.prompt}\n{c.response_b}" for c in candidates]
        emb = np.asarray(self.embed(texts_a + texts_b), dtype=np.float64)
        m = len(candidates)
        return farthest_point_indices(pair_features(emb[:m], emb[m:]), n, rng)


__all__ = [
    "DiversitySelector",
    "Embedder",
    "MemberScores",
    "QuerySelector",
    "RandomSelector",
    "UncertaintySelector",
    "candidate_pairs",
    "ensemble_disagreement",
    "farthest_point_indices",
    "pair_features",
]
