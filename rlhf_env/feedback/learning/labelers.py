"""Labelers: who answers a feedback query (synthetic annotators, AI judges, people).

A :class:`Labeler` turns *queries* into feedback *records*::

    ComparisonQuery(prompt, a, b)     -> Comparison
    RankingQuery(prompt, responses)   -> Ranking
    RatingQuery(prompt, response)     -> Rating

:class:`SyntheticLabeler` answers from a gold scorer (any reward model, or a plain function
``f(prompts, responses) -> scores``) the way a noisy person would, so the limits of human
feedback can be studied on purpose:

- **Boltzmann rationality**: ``P(a ≻ b) = sigmoid((u_a − u_b) / T)``; ``T = 0`` is a
  perfectly rational (deterministic) annotator;
- **slips**: with probability ``error_rate`` the annotator gives the opposite answer;
- **biases** added to the perceived utility ``u``: a length bias (per log-character), a
  bonus per confident word ("definitely", "clearly"…) and per flattering word ("great
  question"…);
- **annotator variation**: a population of simulated annotators, each with its own
  temperature, error rate and biases (:func:`sample_population`);
- rankings by Plackett–Luce sampling (the Gumbel-max trick), ratings on a declared scale.

:class:`AILabeler` uses any reward model (or a judge language model wrapped as a scoring
function) as the annotator.

Everything random goes through one ``numpy.random.Generator``: equal seeds, equal labels.

    >>> import numpy as np
    >>> gold = lambda prompts, responses: np.array([len(r) for r in responses], float)
    >>> lab = SyntheticLabeler(gold, SyntheticLabelerConfig(temperature=0.0), seed=0)
    >>> lab.label([ComparisonQuery("p", "short", "much longer")])[0].preference
    'b'
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rlhf_env.errors import ConfigError, FeedbackError
from rlhf_env.feedback.records import (
    Annotator,
    Comparison,
    FeedbackRecord,
    Ranking,
    Rating,
)
from rlhf_env.rewards.base import describe, validate_scores
from rlhf_env.validation import check_fields, check_instances

ScoreFn = Callable[[Sequence[str], Sequence[str]], Any]
"""A gold scorer: ``f(prompts, responses) -> scores`` (shape ``(n,)``)."""

CONFIDENT_WORDS: tuple[str, ...] = (
    "definitely",
    "certainly",
    "clearly",
    "absolutely",
    "undoubtedly",
    "obviously",
    "always",
    "guaranteed",
    "without a doubt",
    "of course",
)
"""Words that make a response sound confident (a bias of many human raters)."""

FLATTERING_WORDS: tuple[str, ...] = (
    "great question",
    "excellent question",
    "you're right",
    "you are right",
    "brilliant",
    "amazing",
    "wonderful",
    "happy to help",
    "good point",
    "smart",
)
"""Phrases that flatter the reader (sycophancy bait)."""


# --------------------------------------------------------------------------------------
# queries


@dataclass(frozen=True)
class ComparisonQuery:
    """Ask which of two responses to ``prompt`` is better."""

    prompt: str
    response_a: str
    response_b: str
    task: str = "default"


@dataclass(frozen=True)
class RankingQuery:
    """Ask for an order (best first) of ``responses`` to ``prompt``."""

    prompt: str
    responses: tuple[str, ...]
    task: str = "default"


@dataclass(frozen=True)
class RatingQuery:
    """Ask for a score of one response on a scale."""

    prompt: str
    response: str
    task: str = "default"


Query = ComparisonQuery | RankingQuery | RatingQuery


@runtime_checkable
class Labeler(Protocol):
    """Anything that answers feedback queries with records (one record per query)."""

    def label(self, queries: Sequence[Query]) -> list[FeedbackRecord]: ...


@runtime_checkable
class ComparisonLabeler(Protocol):
    """Anything that answers pairwise :class:`ComparisonQuery` s with records.

    This is what a preference loop asks of its labeler (e.g. ``labeler=`` of
    :class:`~rlhf_env.control.loop.PreferenceLearningLoop`). Every :class:`Labeler` is one,
    and so are labelers that only compare: :class:`~rlhf_env.control.labeling.SegmentLabeler`
    (synthetic, from true segment returns) and
    :class:`~rlhf_env.control.queue_labeler.QueueLabeler` (people, through the queue).

    ``label`` returns at most one record per query, in any order; it may answer fewer
    queries than it was asked (people leave some for later), and the caller spends the
    budget of the unanswered ones elsewhere.
    """

    def label(self, queries: Sequence[ComparisonQuery]) -> Sequence[FeedbackRecord]: ...


# --------------------------------------------------------------------------------------
# configuration


def _check_nonneg(owner: str, **values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ConfigError(f"{owner}: {name} must be a finite number >= 0, got {value!r}.")


@dataclass(frozen=True)
class AnnotatorProfile:
    """How one simulated annotator perceives responses and makes mistakes."""

    id: str = "synthetic"
    """Annotator id written into every record this profile produces."""
    temperature: float = 1.0
    """Boltzmann temperature in gold-score units; 0 means always pick the higher utility."""
    error_rate: float = 0.0
    """Probability of a slip: the opposite answer to the one the utilities suggest."""
    length_bias: float = 0.0
    """Utility added per unit of ``log(1 + characters)`` (> 0 prefers longer responses)."""
    confidence_bias: float = 0.0
    """Utility added per confident word (see :data:`CONFIDENT_WORDS`)."""
    flattery_bias: float = 0.0
    """Utility added per flattering phrase (see :data:`FLATTERING_WORDS`)."""
    rating_offset: float = 0.0
    """Added to this annotator's ratings before rounding (harsh < 0 < lenient)."""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    """Attributes of the simulated annotator (e.g. ``{"expertise": "doctor"}``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ConfigError("AnnotatorProfile: id must be a non-empty string.")
        _check_nonneg(f"AnnotatorProfile {self.id!r}", temperature=self.temperature)
        if not 0.0 <= self.error_rate <= 1.0:
            raise ConfigError(
                f"AnnotatorProfile {self.id!r}: error_rate must be in [0, 1], got "
                f"{self.error_rate!r} (0.1 = one slip in ten labels)."
            )
        for name in ("length_bias", "confidence_bias", "flattery_bias", "rating_offset"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"AnnotatorProfile {self.id!r}: {name} must be finite.")

    def to_annotator(self) -> Annotator:
        """The :class:`~rlhf_env.feedback.records.Annotator` record of this profile."""
        return Annotator(self.id, dict(self.attributes))


@dataclass(frozen=True)
class SyntheticLabelerConfig:
    """Settings of a :class:`SyntheticLabeler` (one annotator unless ``population`` is set)."""

    temperature: float = 1.0
    """Boltzmann temperature (gold-score units) of the default annotator; 0 = deterministic."""
    error_rate: float = 0.0
    """Slip probability of the default annotator."""
    length_bias: float = 0.0
    """Length bias of the default annotator (utility per ``log(1 + characters)``)."""
    confidence_bias: float = 0.0
    """Bonus per confident word of the default annotator."""
    flattery_bias: float = 0.0
    """Bonus per flattering phrase of the default annotator."""
    tie_threshold: float = 0.0
    """Comparisons whose perceived utilities differ by less than this are answered ``tie``."""
    rating_scale: tuple[float, float] = (1.0, 7.0)
    """Inclusive scale of ratings (Likert 1–7 by default)."""
    rating_center: float = 0.0
    """Gold utility that maps to the middle of the rating scale."""
    rating_spread: float = 1.0
    """Gold-utility distance that moves a rating by about a quarter of the scale."""
    rating_noise: float = 0.0
    """Standard deviation (scale points) of noise added to ratings, times the temperature
    ratio of the annotator to the default one."""
    round_ratings: bool = True
    """Round ratings to whole scale points (Likert) instead of keeping them continuous."""
    population: tuple[AnnotatorProfile, ...] = ()
    """Simulated annotators; each query goes to one of them, drawn uniformly. Empty means a
    single annotator built from the fields above."""
    annotator_id: str = "synthetic"
    """Id of the default annotator (ignored when ``population`` is set)."""

    def __post_init__(self) -> None:
        check_fields(self)
        owner = "SyntheticLabelerConfig"
        _check_nonneg(owner, tie_threshold=self.tie_threshold, rating_noise=self.rating_noise)
        if not (isinstance(self.rating_spread, (int, float)) and self.rating_spread > 0):
            raise ConfigError(f"{owner}: rating_spread must be > 0, got {self.rating_spread!r}.")
        lo, hi = self.rating_scale
        if not lo < hi:
            raise ConfigError(
                f"{owner}: rating_scale must be (min, max) with min < max, got "
                f"{self.rating_scale!r}."
            )
        object.__setattr__(self, "population", check_instances(
            f"{owner}.population", self.population, AnnotatorProfile))
        ids = [p.id for p in self.population]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"{owner}: annotator ids in population must be unique: {ids}.")
        self.default_profile()  # validates temperature, error_rate and biases

    def default_profile(self) -> AnnotatorProfile:
        """The single annotator described by the top-level fields."""
        return AnnotatorProfile(
            id=self.annotator_id,
            temperature=self.temperature,
            error_rate=self.error_rate,
            length_bias=self.length_bias,
            confidence_bias=self.confidence_bias,
            flattery_bias=self.flattery_bias,
        )

    def profiles(self) -> tuple[AnnotatorProfile, ...]:
        """The annotators this labeler simulates."""
        return self.population or (self.default_profile(),)


def sample_population(
    n: int,
    *,
    seed: int = 0,
    temperature: float = 1.0,
    temperature_spread: float = 0.5,
    error_rate: float = 0.0,
    error_spread: float = 0.0,
    length_bias_std: float = 0.0,
    confidence_bias_std: float = 0.0,
    flattery_bias_std: float = 0.0,
    rating_offset_std: float = 0.0,
    prefix: str = "sim",
) -> tuple[AnnotatorProfile, ...]:
    """Draw ``n`` simulated annotators that differ from one another.

    Temperatures are log-normal around ``temperature`` (``temperature_spread`` is the std of
    the log), error rates uniform in ``error_rate ± error_spread`` (clipped to [0, 1]),
    biases and rating offsets normal with the given standard deviations.
    """
    if n < 1:
        raise ConfigError(f"sample_population: n must be >= 1, got {n}.")
    rng = np.random.default_rng(seed)
    temps = temperature * np.exp(rng.normal(0.0, temperature_spread, n))
    errs = np.clip(rng.uniform(error_rate - error_spread, error_rate + error_spread, n), 0, 1)
    return tuple(
        AnnotatorProfile(
            id=f"{prefix}{i}",
            temperature=float(temps[i]),
            error_rate=float(errs[i]),
            length_bias=float(rng.normal(0.0, length_bias_std)),
            confidence_bias=float(rng.normal(0.0, confidence_bias_std)),
            flattery_bias=float(rng.normal(0.0, flattery_bias_std)),
            rating_offset=float(rng.normal(0.0, rating_offset_std)),
        )
        for i in range(n)
    )


# --------------------------------------------------------------------------------------
# pure helpers (numpy in, numpy out)


def _count_phrases(text: str, phrases: Sequence[str]) -> int:
    low = text.lower()
    return sum(len(re.findall(r"\b" + re.escape(p) + r"\b", low)) for p in phrases)


def bias_terms(responses: Sequence[str], profile: AnnotatorProfile) -> np.ndarray:
    """Utility each response gets from ``profile``'s biases alone, shape ``(n,)``."""
    out = np.zeros(len(responses), dtype=np.float64)
    if profile.length_bias:
        out += profile.length_bias * np.log1p([len(r) for r in responses])
    if profile.confidence_bias:
        out += profile.confidence_bias * np.array(
            [_count_phrases(r, CONFIDENT_WORDS) for r in responses], dtype=np.float64
        )
    if profile.flattery_bias:
        out += profile.flattery_bias * np.array(
            [_count_phrases(r, FLATTERING_WORDS) for r in responses], dtype=np.float64
        )
    return out


def preference_probability(u_a: np.ndarray, u_b: np.ndarray, temperature: float) -> np.ndarray:
    """Boltzmann-rational ``P(a ≻ b) = sigmoid((u_a − u_b) / T)``; ``T = 0`` gives 0, ½ or 1."""
    diff = np.asarray(u_a, dtype=np.float64) - np.asarray(u_b, dtype=np.float64)
    if temperature == 0:
        return np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
    z = np.clip(diff / temperature, -500, 500)
    return 1.0 / (1.0 + np.exp(-z))


def sample_plackett_luce(
    utilities: np.ndarray, temperature: float, rng: np.random.Generator
) -> np.ndarray:
    """Indices of one Plackett–Luce order (best first) with weights ``exp(u / T)``.

    Uses the Gumbel-max trick: sorting ``u / T + Gumbel noise`` draws exactly from the
    Plackett–Luce distribution. ``T = 0`` sorts by utility (stable for ties).
    """
    u = np.asarray(utilities, dtype=np.float64)
    if temperature == 0:
        return np.argsort(-u, kind="stable")
    return np.argsort(-(u / temperature + rng.gumbel(size=u.shape)), kind="stable")


def utility_to_rating(
    utility: np.ndarray, config: SyntheticLabelerConfig, offset: float = 0.0
) -> np.ndarray:
    """Map utilities to the rating scale: a logistic curve centred on ``rating_center``."""
    lo, hi = config.rating_scale
    frac = 1.0 / (
        1.0 + np.exp(-(np.asarray(utility) - config.rating_center) / config.rating_spread)
    )
    return lo + (hi - lo) * frac + offset


# --------------------------------------------------------------------------------------
# labelers


def as_score_fn(scorer: Any) -> ScoreFn:
    """A ``f(prompts, responses) -> float array`` from a reward model or a plain function."""
    if hasattr(scorer, "score") and callable(scorer.score):
        fn = scorer.score
    elif callable(scorer):
        fn = scorer
    else:
        raise ConfigError(
            f"gold scorer {scorer!r} is neither a reward model (with score(prompts, responses)) "
            "nor a function f(prompts, responses) -> scores."
        )

    def score(prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return validate_scores(fn(list(prompts), list(responses)), len(responses), scorer)

    return score


class SyntheticLabeler:
    """Noisy, biased simulated annotators over a gold scorer (see the module docstring).

    Args:
        gold: a reward model or ``f(prompts, responses) -> scores``: the "true" utility.
        config: temperature, slips, biases, rating scale and the annotator population.
        seed: seed of the labeler's ``numpy.random.Generator``.
        task: task name written into records (queries may override it).
    """

    def __init__(
        self,
        gold: Any,
        config: SyntheticLabelerConfig | None = None,
        *,
        seed: int | None = 0,
        task: str = "default",
    ) -> None:
        self.gold = as_score_fn(gold)
        self.gold_name = describe(gold)
        self.config = config or SyntheticLabelerConfig()
        self.rng = np.random.default_rng(seed)
        self.task = task

    @property
    def annotators(self) -> tuple[Annotator, ...]:
        """Annotator records of the simulated population (register them in a store)."""
        return tuple(p.to_annotator() for p in self.config.profiles())

    # -- public API ---------------------------------------------------------------------
    def label(self, queries: Sequence[Query]) -> list[FeedbackRecord]:
        """Answer each query (any mix of kinds) with one record, in order."""
        out: list[FeedbackRecord | None] = [None] * len(queries)
        handlers: tuple[tuple[type, Callable[[list[Any]], Sequence[FeedbackRecord]]], ...] = (
            (ComparisonQuery, self._label_comparisons),
            (RankingQuery, self._label_rankings),
            (RatingQuery, self._label_ratings),
        )
        for kind, handler in handlers:
            idx = [i for i, q in enumerate(queries) if isinstance(q, kind)]
            if idx:
                for i, rec in zip(idx, handler([queries[i] for i in idx]), strict=True):
                    out[i] = rec
        missing = [i for i, r in enumerate(out) if r is None]
        if missing:
            raise FeedbackError(
                f"cannot label query {queries[missing[0]]!r}: expected a ComparisonQuery, "
                "RankingQuery or RatingQuery."
            )
        return [r for r in out if r is not None]

    def compare(
        self, prompts: Sequence[str], responses_a: Sequence[str], responses_b: Sequence[str]
    ) -> list[Comparison]:
        """Pairwise labels for ``(prompt, a, b)`` triples (a convenience over :meth:`label`)."""
        qs = [
            ComparisonQuery(p, a, b, self.task)
            for p, a, b in zip(prompts, responses_a, responses_b, strict=True)
        ]
        return self._label_comparisons(qs)

    # -- one function per query kind --------------------------------------------------------
    def _assign(self, n: int) -> list[AnnotatorProfile]:
        profiles = self.config.profiles()
        picks = self.rng.integers(0, len(profiles), size=n)
        return [profiles[i] for i in picks]

    def _utilities(
        self, prompts: Sequence[str], responses: Sequence[str], profiles: Sequence[AnnotatorProfile]
    ) -> np.ndarray:
        gold = self.gold(prompts, responses).astype(np.float64)
        bias = np.array([bias_terms([r], p)[0] for r, p in zip(responses, profiles, strict=True)])
        return gold + bias

    def _envelope(self, profile: AnnotatorProfile, query: Query) -> dict[str, Any]:
        task = query.task if query.task != "default" else self.task
        return {
            "annotator": profile.id,
            "task": task,
            "metadata": {"labeler": "synthetic", "gold": self.gold_name},
        }

    def _label_comparisons(self, queries: Sequence[ComparisonQuery]) -> list[Comparison]:
        n = len(queries)
        profiles = self._assign(n)
        prompts = [q.prompt for q in queries]
        u = self._utilities(
            prompts * 2,
            [q.response_a for q in queries] + [q.response_b for q in queries],
            profiles * 2,
        )
        u_a, u_b = u[:n], u[n:]
        temps = np.array([p.temperature for p in profiles])
        p_a = np.array([preference_probability(u_a[i], u_b[i], temps[i]) for i in range(n)])
        picks_a = self.rng.random(n) < p_a
        slips = self.rng.random(n) < np.array([p.error_rate for p in profiles])
        picks_a = picks_a ^ slips
        tie = np.abs(u_a - u_b) < self.config.tie_threshold
        records = []
        for i, q in enumerate(queries):
            pref = "tie" if tie[i] else ("a" if picks_a[i] else "b")
            records.append(
                Comparison(
                    q.prompt,
                    q.response_a,
                    q.response_b,
                    pref,  # type: ignore[arg-type]
                    strength=float(abs(u_a[i] - u_b[i])),
                    **self._envelope(profiles[i], q),
                )
            )
        return records

    def _label_rankings(self, queries: Sequence[RankingQuery]) -> list[Ranking]:
        profiles = self._assign(len(queries))
        records = []
        for q, prof in zip(queries, profiles, strict=True):
            u = self._utilities(
                [q.prompt] * len(q.responses), q.responses, [prof] * len(q.responses)
            )
            order = sample_plackett_luce(u, prof.temperature, self.rng)
            order = _maybe_slip(order, prof.error_rate, self.rng)
            records.append(
                Ranking.from_order(
                    q.prompt, [q.responses[i] for i in order], **self._envelope(prof, q)
                )
            )
        return records

    def _label_ratings(self, queries: Sequence[RatingQuery]) -> list[Rating]:
        n = len(queries)
        profiles = self._assign(n)
        u = self._utilities([q.prompt for q in queries], [q.response for q in queries], profiles)
        cfg = self.config
        base_t = max(cfg.temperature, 1e-12)
        noise_scale = np.array([cfg.rating_noise * p.temperature / base_t for p in profiles])
        raw = (
            np.array([utility_to_rating(u[i], cfg, profiles[i].rating_offset) for i in range(n)])
            + self.rng.normal(size=n) * noise_scale
        )
        lo, hi = cfg.rating_scale
        slips = self.rng.random(n) < np.array([p.error_rate for p in profiles])
        raw = np.where(slips, self.rng.uniform(lo, hi, n), raw)  # a slip: a random score
        scores = np.clip(np.round(raw) if cfg.round_ratings else raw, lo, hi)
        return [
            Rating(
                q.prompt,
                q.response,
                float(scores[i]),
                cfg.rating_scale,
                **self._envelope(profiles[i], q),
            )
            for i, q in enumerate(queries)
        ]


def _maybe_slip(order: np.ndarray, error_rate: float, rng: np.random.Generator) -> np.ndarray:
    """With probability ``error_rate`` swap one random adjacent pair of a ranking."""
    if len(order) < 2 or rng.random() >= error_rate:
        return order
    j = int(rng.integers(0, len(order) - 1))
    order = order.copy()
    order[j], order[j + 1] = order[j + 1], order[j]
    return order


class AILabeler:
    """AI feedback: a reward model or a judge scoring function answers the queries.

    By default the judge is deterministic (``temperature=0``): the higher score wins.
    Pass ``judge`` as anything :class:`SyntheticLabeler` accepts as gold (a reward model, a
    ``f(prompts, responses) -> scores`` function that wraps a judge language model…).

    Args:
        judge: the scorer acting as annotator.
        annotator_id: id written into the records (default ``"ai:<judge name>"``).
        temperature: Boltzmann temperature of the judge's choices (0 = argmax).
        rating_scale: inclusive scale of ratings, ``(min, max)``.
        rating_center: judge score that maps to the middle of the rating scale.
        rating_spread: score distance that moves a rating by about a quarter of the scale.
        seed: seed for sampled choices when ``temperature > 0``.
    """

    def __init__(
        self,
        judge: Any,
        *,
        annotator_id: str | None = None,
        temperature: float = 0.0,
        tie_threshold: float = 0.0,
        rating_scale: tuple[float, float] = (1.0, 7.0),
        rating_center: float = 0.0,
        rating_spread: float = 1.0,
        seed: int | None = 0,
        task: str = "default",
    ) -> None:
        name = annotator_id or f"ai:{describe(judge)}"
        config = SyntheticLabelerConfig(
            temperature=temperature,
            tie_threshold=tie_threshold,
            rating_scale=rating_scale,
            rating_center=rating_center,
            rating_spread=rating_spread,
            annotator_id=name,
        )
        self._inner = SyntheticLabeler(judge, config, seed=seed, task=task)
        self.annotator = Annotator(name, {"kind": "ai", "judge": describe(judge)})

    def label(self, queries: Sequence[Query]) -> list[FeedbackRecord]:
        """Answer each query with one record (see :class:`Labeler`)."""
        records = self._inner.label(queries)
        return [
            dataclasses.replace(r, metadata={**r.metadata, "labeler": "ai"})
            for r in records
        ]


__all__ = [
    "CONFIDENT_WORDS",
    "FLATTERING_WORDS",
    "AILabeler",
    "AnnotatorProfile",
    "ComparisonLabeler",
    "ComparisonQuery",
    "Labeler",
    "Query",
    "RankingQuery",
    "RatingQuery",
    "ScoreFn",
    "SyntheticLabeler",
    "SyntheticLabelerConfig",
    "as_score_fn",
    "bias_terms",
    "preference_probability",
    "sample_plackett_luce",
    "sample_population",
    "utility_to_rating",
]
