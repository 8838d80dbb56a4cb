"""KL estimators and KL-coefficient controllers for RL against a reference policy.

Per-token estimators of ``KL(π ‖ π_ref)`` from samples ``y ~ π``, with the log-ratio
``r = log π(y) − log π_ref(y)``:

========  ==========================  ==========  ============
name      formula                     unbiased    always ≥ 0
========  ==========================  ==========  ============
``k1``    ``r``                       yes         no
``k2``    ``r² / 2``                  no          yes
``k3``    ``exp(−r) − 1 + r``         yes         yes
========  ==========================  ==========  ============

``k1`` summed over a response is the exact log-ratio of the sequence, the usual per-token
penalty; a single sample of it can be negative, and so can a batch mean when the batch is
small. ``k3`` has the same expectation and is never negative, so it is what a trainer should
*report* as "KL" (see :func:`kl_estimate`).

Controllers hold the coefficient ``β`` of the penalty ``−β · KL``: :class:`FixedKLController`
keeps it constant; :class:`AdaptiveKLController` is the proportional controller of Ziegler et
al. (2019): ``β ← β · (1 + clip(KL / target − 1, −0.2, 0.2) · n / horizon)`` after ``n`` new
samples, so ``β`` grows while the measured KL is above the target and shrinks below it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlhf_env.errors import ConfigError

KL_ESTIMATORS = ("k1", "k2", "k3")
"""Names accepted by :func:`kl_estimate`."""


def kl_estimate(logprobs: Any, ref_logprobs: Any, estimator: str = "k1") -> Any:
    """Per-token KL estimate from log-probs of sampled tokens under the policy and reference.

    ``logprobs`` and ``ref_logprobs`` are tensors (or numpy arrays) of the same shape; the
    result has that shape. See the module docstring for the estimators.

    >>> import numpy as np
    >>> float(kl_estimate(np.array([0.0]), np.array([0.0]), "k3")[0])
    0.0
    """
    if estimator not in KL_ESTIMATORS:
        raise ConfigError(f"unknown KL estimator {estimator!r}; choose one of {KL_ESTIMATORS}.")
    log_ratio = logprobs - ref_logprobs
    if estimator == "k1":
        return log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio**2
    neg = -log_ratio
    return (neg.exp() if hasattr(neg, "exp") else np.exp(neg)) - 1.0 + log_ratio


class FixedKLController:
    """A constant KL coefficient. ``update`` is a no-op, kept for a common interface."""

    def __init__(self, coef: float) -> None:
        if not coef >= 0:
            raise ConfigError(f"the KL coefficient must be ≥ 0, got {coef}.")
        self.value = float(coef)

    def update(self, current_kl: float, n_steps: int) -> float:
        """Return the (unchanged) coefficient."""
        return self.value

    def state_dict(self) -> dict[str, float]:
        """The controller's state, for checkpoints."""
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore a state from :meth:`state_dict`."""
        self.value = float(state["value"])


class AdaptiveKLController(FixedKLController):
    """Proportional controller steering the measured KL toward ``target``.

    ``horizon`` is the number of samples over which a 20 % proportional error changes ``β`` by
    20 %: smaller is faster. The error is clipped to ±0.2 so one noisy batch cannot move the
    coefficient far.

    >>> c = AdaptiveKLController(0.1, target=1.0, horizon=100)
    >>> c.update(current_kl=5.0, n_steps=100) > 0.1   # KL too high: penalise more
    True
    """

    def __init__(self, init_coef: float, target: float, horizon: int) -> None:
        super().__init__(init_coef)
        if not target > 0:
            raise ConfigError(f"target KL must be > 0, got {target}.")
        if horizon < 1:
            raise ConfigError(f"horizon must be ≥ 1 sample, got {horizon}.")
        self.target = float(target)
        self.horizon = int(horizon)

    def update(self, current_kl: float, n_steps: int) -> float:
        """Move ``β`` after ``n_steps`` samples whose mean KL was ``current_kl``; return it."""
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon
        return self.value

    def state_dict(self) -> dict[str, float]:
        """The controller's state, for checkpoints."""
        return {"value": self.value, "target": self.target, "horizon": float(self.horizon)}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore a state from :meth:`state_dict`."""
        self.value = float(state["value"])
        self.target = float(state["target"])
        self.horizon = int(state["horizon"])
