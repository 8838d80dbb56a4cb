"""Rule-based reward models: fast, deterministic, no model weights. For quick tasks and tests.

* :class:`KeywordReward` counts target words in the response (case-insensitive, whole words).
* :class:`LengthReward` peaks when the response has a target number of words.

Both ignore the prompt.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rlhf_env.errors import ConfigError
from rlhf_env.rewards.base import check_pairs, validate_scores
from rlhf_env.validation import check_fields

DEFAULT_KEYWORDS = ("good", "great", "love", "wonderful", "excellent", "happy", "amazing")
"""Used when ``make_reward_model("keyword")`` gets no keywords: a toy "be positive" task."""

KEYWORD_MODES = ("count", "presence", "fraction")


def _clean_words(words: Iterable[str], field: str) -> tuple[str, ...]:
    if isinstance(words, str):
        words = (words,)
    out = tuple(str(w).strip().lower() for w in words)
    if any(not w for w in out):
        raise ConfigError(f"{field} must not contain empty strings, got {out!r}.")
    return out


def _word_pattern(words: Sequence[str]) -> re.Pattern[str] | None:
    """One regex matching any of ``words`` as a whole word (also for words like ``c++``)."""
    if not words:
        return None
    alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alts})(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class KeywordConfig:
    """Settings of :class:`KeywordReward`."""

    keywords: tuple[str, ...] = DEFAULT_KEYWORDS
    """Target words or phrases; matched case-insensitively as whole words."""
    mode: str = "count"
    """``"count"``: occurrences of any keyword; ``"presence"``: 1 if any occurs, else 0;
    ``"fraction"``: share of the distinct keywords that occur."""
    avoid: tuple[str, ...] = ()
    """Words that cost reward, scored the same way and subtracted."""
    max_count: int | None = None
    """Cap on the count in ``"count"`` mode, so repeating a word forever stops paying."""

    def __post_init__(self) -> None:
        check_fields(self)
        object.__setattr__(self, "keywords", _clean_words(self.keywords, "keywords"))
        object.__setattr__(self, "avoid", _clean_words(self.avoid, "avoid"))
        if not self.keywords:
            raise ConfigError("keywords must name at least one word, e.g. keywords=['thanks'].")
        if self.mode not in KEYWORD_MODES:
            raise ConfigError(f"mode must be one of {KEYWORD_MODES}, got {self.mode!r}.")
        if self.max_count is not None and self.max_count < 1:
            raise ConfigError(f"max_count must be a positive integer or None, got "
                              f"{self.max_count!r}.")


class KeywordReward:
    """Reward for using target words in the response (see :class:`KeywordConfig`).

    >>> KeywordReward(["thanks"]).score(["hi"], ["Thanks! thanks, THANKS-giving"]).tolist()
    [3.0]
    """

    def __init__(self, keywords: Iterable[str] = DEFAULT_KEYWORDS, *, mode: str = "count",
                 avoid: Iterable[str] = (), max_count: int | None = None,
                 name: str = "keyword") -> None:
        self.config = KeywordConfig(tuple(keywords) if not isinstance(keywords, str)
                                    else (keywords,), mode, tuple(avoid) if not
                                    isinstance(avoid, str) else (avoid,), max_count)
        self.name = name
        self._target = _word_pattern(self.config.keywords)
        self._avoid = _word_pattern(self.config.avoid)

    def _value(self, pattern: re.Pattern[str] | None, words: Sequence[str], text: str) -> float:
        if pattern is None:
            return 0.0
        hits = [m.group(0).lower() for m in pattern.finditer(text)]
        if self.config.mode == "presence":
            return float(bool(hits))
        if self.config.mode == "fraction":
            return len(set(hits) & set(words)) / len(words)
        cap = self.config.max_count
        return float(len(hits) if cap is None else min(len(hits), cap))

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Keyword score of each response, float32 ``(n,)``."""
        check_pairs(prompts, responses, self)
        cfg = self.config
        raw = [self._value(self._target, cfg.keywords, r) - self._value(self._avoid, cfg.avoid, r)
               for r in responses]
        return validate_scores(raw, len(responses), self)


LENGTH_SHAPES = ("gaussian", "linear")


@dataclass(frozen=True)
class LengthConfig:
    """Settings of :class:`LengthReward`."""

    target_words: int = 20
    """The response length (whitespace-separated words) that earns the maximum reward 1."""
    width: float = 5.0
    """How fast the reward falls off, in words (the Gaussian's sigma, or the distance at which
    the linear shape reaches 0)."""
    shape: str = "gaussian"
    """``"gaussian"``: ``exp(-d²/2w²)`` in (0, 1]; ``"linear"``: ``1 - d/w`` (negative beyond
    ``w``, so long-off responses still get a gradient)."""

    def __post_init__(self) -> None:
        check_fields(self)
        if int(self.target_words) != self.target_words or self.target_words < 0:
            raise ConfigError(f"target_words must be a non-negative integer, got "
                              f"{self.target_words!r}.")
        if not (self.width > 0 and math.isfinite(self.width)):
            raise ConfigError(f"width must be a positive number of words, got {self.width!r}.")
        if self.shape not in LENGTH_SHAPES:
            raise ConfigError(f"shape must be one of {LENGTH_SHAPES}, got {self.shape!r}.")


class LengthReward:
    """Reward that peaks at a target response length in words (see :class:`LengthConfig`).

    >>> LengthReward(3, shape="linear", width=2).score(["", ""], ["a b c", "a"]).tolist()
    [1.0, 0.0]
    """

    def __init__(self, target_words: int = 20, *, width: float = 5.0, shape: str = "gaussian",
                 name: str = "length") -> None:
        self.config = LengthConfig(target_words, width, shape)
        self.name = name

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Length score of each response, float32 ``(n,)``."""
        check_pairs(prompts, responses, self)
        cfg = self.config
        dist = np.abs(np.array([len(r.split()) for r in responses], dtype=np.float64)
                      - cfg.target_words) / cfg.width
        raw = np.exp(-0.5 * dist**2) if cfg.shape == "gaussian" else 1.0 - dist
        return validate_scores(raw, len(responses), self)
