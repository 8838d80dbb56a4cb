"""SB3 callbacks that log what an RLHF run is about: reward-model score, gold score, KL.

:class:`RLHFMetricsCallback` reads the episode infos the text env puts in every finished
episode (through :class:`~agents.sb3.vec_env.RLHFVecEnv`) and, at the end of each rollout,
records their means to SB3's logger under ``rlhf/``. With ``tensorboard_log=`` on the
algorithm the metrics show up in TensorBoard; the same numbers are kept in
:attr:`RLHFMetricsCallback.history` for CSV/JSON files and plots.

=============================  ==================================================================
key                            meaning (mean over the episodes finished in the rollout)
=============================  ==================================================================
``rlhf/reward``                reward the agent got: score + KL term
``rlhf/score``                 raw reward-model score (``info["score"]``)
``rlhf/score_std``             its standard deviation across the rollout's episodes
``rlhf/gold_score``            independent gold scorer (only for tasks with one)
``rlhf/kl_term``                the KL term added to the reward (``kl_coef · log π_ref``)
``rlhf/response_tokens``       response length in tokens (EOS included when emitted)
``rlhf/hit_token_limit``       share of responses cut at ``max_response_tokens`` without EOS
``rlhf/episodes``              number of episodes in the rollout
=============================  ==================================================================
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

METRICS = {
    "score": "score",
    "gold_score": "gold_score",
    "kl_term": "kl_term",
    "response_tokens": "response_tokens",
    "hit_token_limit": "hit_token_limit",
}
"""Logged name → episode-info key, averaged per rollout."""


class RLHFMetricsCallback(BaseCallback):
    """Log per-rollout RLHF metrics to SB3's logger and keep them in :attr:`history`.

    Args:
        n_samples: how many (prompt, response, score) samples to keep per rollout.
        prefix: logger key prefix.
        verbose: ``1`` prints one sample line per rollout.

    Attributes:
        history: one dict per rollout: ``timesteps``, ``episodes``, ``reward`` and the means of
            :data:`METRICS` that the episodes carried (plus ``score_std``).
        samples: the latest rollout's sample episodes (dicts with ``prompt``, ``response``,
            ``score`` and ``gold_score`` when present).
    """

    def __init__(self, n_samples: int = 3, prefix: str = "rlhf", verbose: int = 0) -> None:
        super().__init__(verbose)
        self.n_samples = n_samples
        self.prefix = prefix
        self.history: list[dict[str, float]] = []
        self.samples: list[dict[str, Any]] = []
        self._episodes: list[dict[str, Any]] = []
        self._rewards: list[float] = []

    def _on_rollout_start(self) -> None:
        self._episodes, self._rewards = [], []

    def _on_step(self) -> bool:
        infos = self.locals.get("infos", [])
        dones = self.locals.get("dones", np.zeros(len(infos), bool))
        rewards = self.locals.get("rewards", np.zeros(len(infos)))
        for info, done, reward in zip(infos, dones, rewards, strict=False):
            if done and "score" in info:
                self._episodes.append(info)
                self._rewards.append(float(reward))
        return True

    def _on_rollout_end(self) -> None:
        if not self._episodes:
            return
        row = summarize_episodes(self._episodes, self._rewards)
        row["timesteps"] = float(self.num_timesteps)
        self.history.append(row)
        for key, value in row.items():
            if key != "timesteps":
                self.logger.record(f"{self.prefix}/{key}", value)
        self.samples = [_sample(info) for info in self._episodes[: self.n_samples]]
        if self.verbose >= 1 and self.samples:
            first = self.samples[0]
            print(f"[{self.num_timesteps}] score {first['score']:+.3f}  {first['response']!r}")

    def save_history(self, path: str | Path) -> Path:
        """Write :attr:`history` to ``path`` as CSV (``.csv``) or JSON (anything else)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".csv":
            keys = sorted({k for row in self.history for k in row})
            with path.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=keys)
                writer.writeheader()
                writer.writerows(self.history)
        else:
            path.write_text(json.dumps({"history": self.history, "samples": self.samples},
                                       indent=2))
        return path


def summarize_episodes(episodes: list[dict[str, Any]], rewards: list[float]) -> dict[str, float]:
    """Means of the RLHF metrics over finished episodes' infos (keys the infos lack are left
    out), the reward mean, the score's standard deviation and the episode count."""
    row: dict[str, float] = {"episodes": float(len(episodes)),
                             "reward": float(np.mean(rewards))}
    for name, key in METRICS.items():
        values = [float(info[key]) for info in episodes if key in info]
        if values:
            row[name] = float(np.mean(values))
    row["score_std"] = float(np.std([float(info["score"]) for info in episodes]))
    return row


def _sample(info: dict[str, Any]) -> dict[str, Any]:
    keys = ("prompt", "response", "score", "gold_score")
    return {k: info[k] for k in keys if k in info}
