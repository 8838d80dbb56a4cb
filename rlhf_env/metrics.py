"""One metric vocabulary for every learner, so runs of different learners overlay.

Every learner logs what an RLHF run is about under the ``rlhf/`` namespace with the names
below (TensorBoard, CSV/JSON histories, Weights & Biases), and its own optimisation
internals under ``train/`` (as Stable-Baselines3 does). A number that means the same thing
carries the same name whoever computed it: the token-level trainer's ``rlhf/kl`` and the SB3
bandit agent's ``rlhf/kl`` are both the mean KL(π‖π_ref) of one response, in nats.

    >>> metric_key("score")
    'rlhf/score'
    >>> METRICS["kl"].unit
    'nats'
"""

from __future__ import annotations

from dataclasses import dataclass

from rlhf_env.errors import UnknownNameError

NAMESPACE = "rlhf"
"""Prefix of the shared RLHF metrics; learner internals use ``train/``."""


@dataclass(frozen=True)
class Metric:
    """One shared metric: its short name, what it means and its unit."""

    name: str
    meaning: str
    unit: str = ""


def _vocabulary(*metrics: Metric) -> dict[str, Metric]:
    return {m.name: m for m in metrics}


METRICS: dict[str, Metric] = _vocabulary(
    Metric("score", "mean proxy (reward-model) score of the batch's responses"),
    Metric("score_std", "standard deviation of the proxy score across the batch"),
    Metric("gold_score", "mean score of the independent gold judge (tasks with one)"),
    Metric("reward", "mean reward the agent was trained on: score plus the KL term"),
    Metric("kl", "mean KL(π‖π_ref) of one response, summed over its tokens", "nats"),
    Metric("kl_coef", "the KL coefficient β in force (adaptive controllers move it)"),
    Metric("response_length", "mean response length, EOS included when emitted", "tokens"),
    Metric("missing_eos", "share of responses cut at the token limit without EOS"),
    Metric("episodes", "episodes (responses) the numbers are averaged over"),
)
"""The shared vocabulary: short name → :class:`Metric`. Log them as ``rlhf/<name>``."""


def metric_key(name: str) -> str:
    """The logged key of a shared metric (``"kl"`` → ``"rlhf/kl"``); unknown names raise."""
    if name not in METRICS:
        raise UnknownNameError("metric", name, sorted(METRICS))
    return f"{NAMESPACE}/{name}"
