"""VADER sentiment as a gold (rule-based, independent) scorer of responses.

VADER (``vaderSentiment``, MIT) is a lexicon-and-rules sentiment model: no weights, ~30k
short texts per second on one core. Its compound score in [-1, 1] is a good "gold" reward to
check that a learned sentiment reward model is not being gamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rlhf_env.errors import MissingDependencyError
from rlhf_env.rewards.base import check_pairs, validate_scores


class VaderReward:
    """The VADER compound sentiment of each response, in [-1, 1] (the prompt is ignored).

    >>> r = VaderReward()
    >>> bool(r.score(["", ""], ["I love it!", "I hate it."])[0] > 0.5)
    True
    """

    def __init__(self, name: str = "vader") -> None:
        self.name = name
        self._analyzer: Any = None

    @property
    def analyzer(self) -> Any:
        """The ``SentimentIntensityAnalyzer``, created on first use."""
        if self._analyzer is None:
            try:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
            except ImportError as exc:
                raise MissingDependencyError("vaderSentiment", "VaderReward") from exc
            self._analyzer = SentimentIntensityAnalyzer()
        return self._analyzer

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Compound sentiment of each response, float32 ``(n,)``."""
        check_pairs(prompts, responses, self)
        polarity = self.analyzer.polarity_scores
        raw = [polarity(r)["compound"] for r in responses]
        return validate_scores(raw, len(responses), self)
