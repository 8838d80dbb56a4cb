"""Ensembles of reward models: a pessimistic or averaged score from several members.

Disagreement between members is a cheap uncertainty estimate; ``"min"`` and
``"mean_minus_std"`` penalise responses the members disagree on, which makes a reward model
harder to over-optimise.

:meth:`EnsembleReward.save_pretrained` writes a folder that ``make_reward_model(folder)``
loads back: ``config.json`` (reduction, ``k``, members) and one subfolder per member under
``members/``, saved with the member's own ``save_pretrained`` (members without one are
recorded by the name they were given).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_env.errors import ConfigError
from rlhf_env.files import saved_model_folder, write_json
from rlhf_env.rewards._format import (
    CONFIG_FILE,
    composite_header,
    load_member,
    member_spec,
    read_composite,
    save_member,
)
from rlhf_env.rewards.base import check_pairs, describe, score_checked, validate_scores
from rlhf_env.validation import check_fields

REDUCTIONS = ("mean", "min", "mean_minus_std")
FORMAT = "rlhf_env.ensemble"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class EnsembleConfig:
    """How member scores are combined."""

    reduce: str = "mean"
    """``"mean"``, ``"min"`` or ``"mean_minus_std"`` (mean − k · population std)."""
    k: float = 1.0
    """Weight of the standard deviation in ``"mean_minus_std"``."""

    def __post_init__(self) -> None:
        check_fields(self)
        if self.reduce not in REDUCTIONS:
            raise ConfigError(f"reduce must be one of {REDUCTIONS}, got {self.reduce!r}.")
        if not np.isfinite(self.k) or self.k < 0:
            raise ConfigError(f"k must be a finite number >= 0, got {self.k!r}.")


def reduce_scores(member_scores: np.ndarray, reduce: str, k: float = 1.0) -> np.ndarray:
    """Combine ``(m, n)`` member scores into ``(n,)`` (std is the population std, ddof=0)."""
    if reduce == "mean":
        return member_scores.mean(axis=0)
    if reduce == "min":
        return member_scores.min(axis=0)
    if reduce == "mean_minus_std":
        return member_scores.mean(axis=0) - k * member_scores.std(axis=0)
    raise ConfigError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}.")


class EnsembleReward:
    """Combine several reward models (objects, or anything :func:`make_reward_model` takes).

    >>> from rlhf_env.rewards import CallableReward
    >>> a = CallableReward(lambda p, r: 1.0, name="a")
    >>> b = CallableReward(lambda p, r: 3.0, name="b")
    >>> EnsembleReward([a, b], reduce="mean_minus_std", k=0.5).score(["x"], ["y"]).tolist()
    [1.5]
    """

    def __init__(self, models: Sequence[Any], reduce: str = "mean", k: float = 1.0,
                 name: str | None = None) -> None:
        from rlhf_env.rewards.registry import make_reward_model

        if isinstance(models, str) or not models:
            raise ConfigError("EnsembleReward needs a non-empty list of reward models.")
        self.config = EnsembleConfig(reduce, float(k))
        self.specs = [member_spec(m) for m in models]
        self.models = [make_reward_model(m) for m in models]
        self.name = name or f"ensemble[{','.join(describe(m) for m in self.models)}]"

    def member_scores(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Every member's validated scores, float32 ``(m, n)``."""
        check_pairs(prompts, responses, self)
        return np.stack([score_checked(m, prompts, responses) for m in self.models])

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """The reduced ensemble score, float32 ``(n,)``."""
        combined = reduce_scores(self.member_scores(prompts, responses),
                                 self.config.reduce, self.config.k)
        return validate_scores(combined, len(responses), self)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the ensemble and every member into ``folder`` (see the module docstring)."""
        folder = Path(folder).expanduser()
        with saved_model_folder(folder, (CONFIG_FILE,)) as tmp:
            members = [save_member(m, spec, tmp, f"members/{i}", f"ensemble {self.name!r}")
                       for i, (m, spec) in enumerate(zip(self.models, self.specs, strict=True))]
            write_json(tmp / CONFIG_FILE, {**composite_header(FORMAT, FORMAT_VERSION),
                                           "name": self.name, "reduce": self.config.reduce,
                                           "k": self.config.k, "members": members})
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, reduce: str | None = None,
                        k: float | None = None, name: str | None = None) -> EnsembleReward:
        """Load a folder written by :meth:`save_pretrained` (``reduce``/``k``/``name``
        override the saved ones)."""
        folder = Path(folder).expanduser()
        body = read_composite(folder, FORMAT, FORMAT_VERSION)
        members = body.get("members")
        if not isinstance(members, list) or not members:
            raise ConfigError(f"{folder}: config.json lists no members; save the ensemble again.")
        model = cls([load_member(entry, folder) for entry in members],
                    reduce=reduce or body.get("reduce", "mean"),
                    k=body.get("k", 1.0) if k is None else k, name=name or body.get("name"))
        model.specs = [e.get("spec") if isinstance(e, dict) else None for e in members]
        return model
