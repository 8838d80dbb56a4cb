"""Running normalisation of reward-model scores.

:class:`NormalizedReward` wraps a reward model and returns ``(score − mean) / sqrt(var + ε)``,
optionally clipped, where ``mean``/``var`` are running statistics over every score seen so
far. Statistics are merged one batch at a time with the parallel form of Welford's algorithm
(Chan et al.), which is exact and numerically stable: after any number of batches they equal
``np.mean``/``np.var`` of all scores seen. Each batch updates the statistics *before* it is
normalised. Turn ``update`` off (or use :meth:`NormalizedReward.frozen`) to evaluate without
changing them.

:meth:`NormalizedReward.save_pretrained` writes ``config.json`` (settings and statistics)
and the wrapped model under ``model/`` (with its own ``save_pretrained``, or recorded by the
name it was given); ``make_reward_model(folder)`` loads it back.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
from rlhf_env.rewards.base import describe, score_checked, validate_scores
from rlhf_env.validation import check_fields

FORMAT = "rlhf_env.normalized"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class NormalizeConfig:
    """Settings of :class:`NormalizedReward`."""

    clip: float | None = None
    """Clip normalised scores to ``[-clip, clip]``; ``None`` for no clipping."""
    epsilon: float = 1e-8
    """Added to the variance before the square root."""
    center: bool = True
    """Subtract the running mean (``False``: only divide by the running std)."""

    def __post_init__(self) -> None:
        check_fields(self)
        if self.clip is not None and not (self.clip > 0 and math.isfinite(self.clip)):
            raise ConfigError(f"clip must be a positive number or None, got {self.clip!r}.")
        if not (self.epsilon > 0 and math.isfinite(self.epsilon)):
            raise ConfigError(f"epsilon must be a small positive number, got {self.epsilon!r}.")


@dataclass
class RunningMoments:
    """Count, mean and variance of every value seen, merged batch by batch."""

    count: int = 0
    mean: float = 0.0
    var: float = 0.0
    """Population variance (ddof=0)."""

    def update(self, values: np.ndarray) -> None:
        """Merge a batch of values (Chan et al.'s parallel Welford update)."""
        values = np.asarray(values, dtype=np.float64).ravel()
        n = values.size
        if n == 0:
            return
        b_mean, b_var = float(values.mean()), float(values.var())
        total = self.count + n
        delta = b_mean - self.mean
        m2 = self.var * self.count + b_var * n + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.var = m2 / total
        self.count = total


class NormalizedReward:
    """A reward model whose scores are normalised by running statistics (module docstring).

    Args:
        model: the wrapped reward model (object, or anything :func:`make_reward_model` takes).
        clip: see :class:`NormalizeConfig`.
        epsilon: see :class:`NormalizeConfig`.
        center: see :class:`NormalizeConfig`.
        update: whether :meth:`score` updates the statistics (set ``False`` for evaluation).
    """

    def __init__(self, model: Any, *, clip: float | None = None, epsilon: float = 1e-8,
                 center: bool = True, update: bool = True, name: str | None = None) -> None:
        from rlhf_env.rewards.registry import make_reward_model

        self.spec = member_spec(model)
        self.model = make_reward_model(model)
        self.config = NormalizeConfig(clip, epsilon, center)
        self.update = update
        self.moments = RunningMoments()
        self.name = name or f"normalized[{describe(self.model)}]"

    def normalize(self, scores: np.ndarray) -> np.ndarray:
        """Apply the current statistics (and clip) to ``scores`` without updating them."""
        cfg = self.config
        shifted = scores - self.moments.mean if cfg.center else scores
        out = shifted / math.sqrt(self.moments.var + cfg.epsilon)
        if cfg.clip is not None:
            out = np.clip(out, -cfg.clip, cfg.clip)
        return out.astype(np.float32)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Normalised scores, float32 ``(n,)``; updates the statistics first if ``update``."""
        raw = score_checked(self.model, prompts, responses)
        if self.update:
            self.moments.update(raw)
        return validate_scores(self.normalize(raw), len(responses), self)

    @contextmanager
    def frozen(self) -> Iterator[NormalizedReward]:
        """Temporarily stop updating the statistics (for evaluation)."""
        previous, self.update = self.update, False
        try:
            yield self
        finally:
            self.update = previous

    def state_dict(self) -> dict[str, float]:
        """The running statistics, JSON-friendly."""
        m = self.moments
        return {"count": float(m.count), "mean": m.mean, "var": m.var}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore statistics saved by :meth:`state_dict`."""
        missing = {"count", "mean", "var"} - set(state)
        if missing:
            raise ConfigError(f"normalizer state lacks {sorted(missing)}; pass the dict returned "
                              f"by NormalizedReward.state_dict().")
        count, mean, var = int(state["count"]), float(state["mean"]), float(state["var"])
        if count < 0 or var < 0 or not (math.isfinite(mean) and math.isfinite(var)):
            raise ConfigError(f"invalid normalizer state {dict(state)!r}: count and var must be "
                              f"non-negative and finite.")
        self.moments = RunningMoments(count, mean, var)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the settings, the statistics and the wrapped model into ``folder``."""
        folder = Path(folder).expanduser()
        with saved_model_folder(folder, (CONFIG_FILE,)) as tmp:
            entry = save_member(self.model, self.spec, tmp, "model",
                                f"normalized model {self.name!r}")
            c = self.config
            write_json(tmp / CONFIG_FILE, {**composite_header(FORMAT, FORMAT_VERSION),
                                           "name": self.name, "clip": c.clip,
                                           "epsilon": c.epsilon, "center": c.center,
                                           "update": self.update,
                                           "moments": self.state_dict(), "model": entry})
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, update: bool | None = None,
                        name: str | None = None) -> NormalizedReward:
        """Load a folder written by :meth:`save_pretrained`, statistics included
        (``update``: keep updating them; default: as saved)."""
        folder = Path(folder).expanduser()
        body = read_composite(folder, FORMAT, FORMAT_VERSION)
        model = cls(load_member(body.get("model"), folder), clip=body.get("clip"),
                    epsilon=float(body.get("epsilon", 1e-8)), center=bool(body.get("center", True)),
                    update=bool(body.get("update", True)) if update is None else update,
                    name=name or body.get("name"))
        entry = body.get("model")
        model.spec = entry.get("spec") if isinstance(entry, dict) else None
        model.load_state_dict(body.get("moments") or {})
        return model
