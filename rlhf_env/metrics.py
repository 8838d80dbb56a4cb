"""One metric vocabulary for every learner, so runs of different learners overlay.

Every learner logs what an RLHF run is about under the ``rlhf/`` namespace with the names
below (TensorBoard, CSV/JSON histories, Weights & Biases), its own optimisation internals
under ``train/`` (with Stable-Baselines3's names where the meaning is the same:
``train/policy_gradient_loss``, ``train/value_loss``, ``train/entropy_loss``,
``train/approx_kl``, ``train/clip_fraction``, ``train/explained_variance``,
``train/learning_rate``) and its clock under ``time/`` (``time/total_timesteps``: env steps
so far, the x-axis, as SB3 counts them). A number that means the same thing carries the same
name whoever computed it: the token-level trainer's ``rlhf/kl`` and the SB3 bandit agent's
``rlhf/kl`` are both the mean KL(π‖π_ref) of one response, in nats. The learners' in-memory
histories (``TokenPPOTrainer.metrics``, ``RLHFMetricsCallback.history``,
``PreferenceLearningLoop.history``) and the CSV/JSON files written from them use the same
full keys.

Who logs what (a learner leaves out what its run does not have, e.g. ``gold_score`` on a
task without a gold judge, ``kl`` without a reference model):

* text learners (token-level PPO, SB3 on ``RLHF-Text-v0``): ``score`` … ``episodes``;
* the control preference loop: ``true_return`` … ``labels_used``.

The logger that writes them (TensorBoard, CSV, W&B) is :func:`rlhf_env.logger.make_logger`;
:data:`LOG_BACKENDS` names its backends.

    >>> metric_key("score")
    'rlhf/score'
    >>> METRICS["kl"].unit
    'nats'
    >>> check_log_with(["tensorboard", "wandb"])
    ('tensorboard', 'wandb')
    >>> check_log_with("wandb")
    ('wandb',)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rlhf_env.errors import ConfigError, UnknownNameError

NAMESPACE = "rlhf"
"""Prefix of the shared RLHF metrics; learner internals use ``train/``, clocks ``time/``."""


@dataclass(frozen=True)
class Metric:
    """One shared metric: its short name, what it means and its unit."""

    name: str
    meaning: str
    unit: str = ""


def _vocabulary(*metrics: Metric) -> dict[str, Metric]:
    return {m.name: m for m in metrics}


METRICS: dict[str, Metric] = _vocabulary(
    # text: one episode is one prompt and its response
    Metric("score", "mean proxy (reward-model) score of the batch's responses"),
    Metric("score_std", "standard deviation of the proxy score across the batch"),
    Metric("gold_score", "mean score of the independent gold judge (tasks with one)"),
    Metric("reward", "mean reward the agent was trained on: score plus the KL term"),
    Metric("kl", "mean KL(π‖π_ref) of one response, summed over its tokens", "nats"),
    Metric("kl_coef", "the KL coefficient β in force (adaptive controllers move it)"),
    Metric("response_length", "mean response length, EOS included when emitted", "tokens"),
    Metric("missing_eos", "share of responses cut at the token limit without EOS"),
    Metric("episodes", "episodes (responses) the numbers are averaged over"),
    # control: the env's own reward is replaced by one learned from preferences
    Metric("true_return", "mean return of the agent's episodes under the env's true reward "
                          "(the gold of a control task)"),
    Metric("learned_return", "mean return of the same episodes under the learned reward the "
                             "agent trains on (the proxy)"),
    Metric("reward_val_accuracy", "held-out pairwise accuracy of the learned reward model"),
    Metric("new_label_accuracy", "accuracy of the reward model on a round's new labels before "
                                 "it trains on them"),
    Metric("labels_used", "feedback labels spent so far", "labels"),
)
"""The shared vocabulary: short name → :class:`Metric`. Log them as ``rlhf/<name>``."""


def metric_key(name: str) -> str:
    """The logged key of a shared metric (``"kl"`` → ``"rlhf/kl"``); unknown names raise."""
    if name not in METRICS:
        raise UnknownNameError("metric", name, sorted(METRICS),
                               "Add a new shared metric to rlhf_env.metrics.METRICS; learner "
                               "internals go under train/.")
    return f"{NAMESPACE}/{name}"


def shared_metrics(**values: Any) -> dict[str, float]:
    """Logged keys and float values of shared metrics given by short name (numbers, NumPy or
    0-d torch scalars); an unknown name raises.

        >>> shared_metrics(score=1, kl=0.5)
        {'rlhf/score': 1.0, 'rlhf/kl': 0.5}
    """
    return {metric_key(name): float(value) for name, value in values.items()}


LOG_BACKENDS = ("tensorboard", "wandb", "csv")
"""Where :func:`rlhf_env.logger.make_logger` can send metrics: TensorBoard event files,
a Weights & Biases run (``pip install 'rlhf-env[wandb]'``; ``WANDB_MODE=offline`` needs no
network), SB3's ``progress.csv``."""


def check_log_with(log_with: Iterable[str], name: str = "log_with") -> tuple[str, ...]:
    """``log_with`` as a tuple of known, distinct backend names (:data:`LOG_BACKENDS`); one
    name alone is a one-backend tuple."""
    backends = (log_with,) if isinstance(log_with, str) else tuple(log_with)
    for backend in backends:
        if backend not in LOG_BACKENDS:
            raise UnknownNameError("log backend", str(backend), LOG_BACKENDS)
    if len(set(backends)) != len(backends):
        raise ConfigError(f"{name} names a backend twice: {backends}.")
    return backends
