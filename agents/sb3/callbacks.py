"""SB3 callbacks that log what an RLHF run is about, in the shared metric vocabulary.

:class:`RLHFMetricsCallback` reads the infos of the episodes that finish during a rollout
(through :class:`~agents.sb3.vec_env.RLHFVecEnv`) and, at the end of each rollout, records
their means to SB3's logger as ``rlhf/<name>`` (:mod:`rlhf_env.metrics`: the same keys the
token-level trainer logs, so the runs overlay). With ``tensorboard_log=`` on the algorithm,
or ``model.set_logger(rlhf_env.logger.make_logger(...))`` for W&B, they show up there; the
same rows are kept in :attr:`RLHFMetricsCallback.history` for CSV/JSON files and plots.

===========================  ==================================================================
key                          meaning (mean over the episodes finished in the rollout)
===========================  ==================================================================
``rlhf/reward``              episode return: score + KL term (``info["episode"]["r"]``)
``rlhf/score``               raw reward-model score (``info["score"]``)
``rlhf/score_std``           its standard deviation across the rollout's episodes
``rlhf/gold_score``          independent gold judge (only for tasks with one)
``rlhf/kl``                  ``log π(response) − info["ref_logprob"]``, nats (env with a reference)
``rlhf/kl_coef``             the env's ``kl_coef`` (weight of ``log π_ref`` in the reward)
``rlhf/response_length``     response length in tokens (EOS included when emitted)
``rlhf/missing_eos``         share of responses cut at ``max_response_tokens`` without EOS
``rlhf/episodes``            number of episodes in the rollout
===========================  ==================================================================

The KL estimate. The env knows only the reference's side, ``info["ref_logprob"]`` (present
when the env has a reference model: ``kl_coef > 0``, or ``reference_model=`` given with
``kl_coef=0`` to measure without penalising). The callback adds the policy's side from the
rollout: on the bandit (``MultiDiscrete`` actions) the log-probability of the kept response
positions under the policy that sampled them (:mod:`agents.sb3.kl`, which states the
estimator and its limits); on the token env the sum of SB3's per-step ``log_probs`` over
the episode. Algorithms without ``log_probs`` in their rollout (off-policy ones) and
recurrent policies on the bandit log no ``rlhf/kl``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback

from agents.sb3.kl import policy_response_logprobs
from rlhf_env.files import write_text
from rlhf_env.metrics import shared_metrics

INFO_KEYS = {
    "score": "score",
    "gold_score": "gold_score",
    "kl": "kl",
    "kl_coef": "kl_coef",
    "response_length": "response_tokens",
    "missing_eos": "hit_token_limit",
}
"""Shared metric name → the key of a finished episode's info averaged into it (``kl`` is
added to the info by the callback)."""

TIMESTEPS = "time/total_timesteps"
"""The history's clock: the model's ``num_timesteps`` at the end of the rollout."""


class RLHFMetricsCallback(BaseCallback):
    """Log per-rollout RLHF metrics to SB3's logger and keep them in :attr:`history`.

    Args:
        n_samples: how many (prompt, response, score) samples to keep per rollout.
        verbose: ``1`` prints one sample line per rollout.

    Attributes:
        history: one dict per rollout, keyed as logged: ``time/total_timesteps`` and the
            ``rlhf/`` means of the module docstring that the episodes carried.
        samples: the latest rollout's sample episodes (dicts with ``prompt``, ``response``,
            ``score`` and ``gold_score`` when present).
    """

    def __init__(self, n_samples: int = 3, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.n_samples = n_samples
        self.history: list[dict[str, float]] = []
        self.samples: list[dict[str, Any]] = []
        self._episodes: list[dict[str, Any]] = []
        self._returns: list[float] = []
        self._logp = np.zeros(0)
        self._kl_possible = True

    def _on_training_start(self) -> None:
        # ``learn(..., reset_num_timesteps=False)`` goes on with the episodes in progress.
        n = self.training_env.num_envs
        if self.locals.get("reset_num_timesteps", True) or self._logp.shape != (n,):
            self._logp = np.zeros(n)

    def _on_rollout_start(self) -> None:
        self._episodes, self._returns = [], []

    def _on_step(self) -> bool:
        infos = self.locals.get("infos", [])
        dones = self.locals.get("dones", np.zeros(len(infos), bool))
        rewards = self.locals.get("rewards", np.zeros(len(infos)))
        logp = self._step_logprobs(infos)
        for i, (info, done, reward) in enumerate(zip(infos, dones, rewards, strict=False)):
            if logp is not None:
                self._logp[i] += logp[i]
            if done and "score" in info:
                self._episodes.append(self._episode(info, i, logp is not None))
                self._returns.append(float(info.get("episode", {}).get("r", reward)))
            if done:
                self._logp[i] = 0.0
        return True

    def _episode(self, info: dict[str, Any], i: int, have_logp: bool) -> dict[str, Any]:
        """The finished episode's info, plus its KL estimate when both sides are known."""
        if have_logp and "ref_logprob" in info:
            return {**info, "kl": float(self._logp[i] - info["ref_logprob"])}
        return info

    def _step_logprobs(self, infos: list[dict[str, Any]]) -> np.ndarray | None:
        """``(n_envs,)`` log π of what each sub-env's action added to its response this step,
        or ``None`` when the rollout does not let us know it (or no KL can use it)."""
        if not self._kl_possible:
            return None
        space = self.model.action_space
        if isinstance(space, spaces.MultiDiscrete):  # the bandit
            if not any("ref_logprob" in info for info in infos):
                return None
            return self._bandit_logprobs(infos, len(space.nvec))
        log_probs = self.locals.get("log_probs")  # one token per step (the token env)
        return None if log_probs is None else log_probs.detach().cpu().double().numpy()

    def _bandit_logprobs(self, infos: list[dict[str, Any]], width: int) -> np.ndarray | None:
        """Log-probs of the kept positions (``width``: all positions, for infos without
        ``response_tokens``)."""
        obs, actions = self.locals.get("obs_tensor"), self.locals.get("actions")
        lengths = [int(info.get("response_tokens", width)) for info in infos]
        if obs is None or actions is None:
            self._kl_possible = False
            return None
        try:
            return policy_response_logprobs(self.model.policy, obs, actions, lengths)
        except TypeError:  # a recurrent policy: its distribution needs its hidden state
            self._kl_possible = False
            return None

    def _on_rollout_end(self) -> None:
        if not self._episodes:
            return
        row = {TIMESTEPS: float(self.num_timesteps),
               **summarize_episodes(self._episodes, self._returns)}
        self.history.append(row)
        for key, value in row.items():
            if key != TIMESTEPS:  # SB3 logs its own clock
                self.logger.record(key, value)
        self.samples = [_sample(info) for info in self._episodes[: self.n_samples]]
        if self.verbose >= 1 and self.samples:
            first = self.samples[0]
            print(f"[{self.num_timesteps}] score {first['score']:+.3f}  {first['response']!r}")

    def save_history(self, path: str | Path) -> Path:
        """Write :attr:`history` to ``path`` as CSV (``.csv``) or JSON (anything else),
        atomically."""
        path = Path(path)
        if path.suffix == ".csv":
            keys = sorted({k for row in self.history for k in row})
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.history)
            write_text(path, buffer.getvalue())
        else:
            write_text(path, json.dumps({"history": self.history, "samples": self.samples},
                                        indent=2))
        return path


def summarize_episodes(episodes: list[dict[str, Any]], returns: list[float]
                       ) -> dict[str, float]:
    """The ``rlhf/`` means over finished episodes' infos (:data:`INFO_KEYS`; keys the infos
    lack are left out), the mean return as ``rlhf/reward``, the score's standard deviation
    and the episode count."""
    values: dict[str, float] = {"episodes": len(episodes), "reward": float(np.mean(returns))}
    for name, key in INFO_KEYS.items():
        found = [float(info[key]) for info in episodes if key in info]
        if found:
            values[name] = float(np.mean(found))
    values["score_std"] = float(np.std([float(info["score"]) for info in episodes]))
    return shared_metrics(**values)


def _sample(info: dict[str, Any]) -> dict[str, Any]:
    keys = ("prompt", "response", "score", "gold_score")
    return {k: info[k] for k in keys if k in info}
