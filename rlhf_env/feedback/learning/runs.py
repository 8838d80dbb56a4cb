"""The reward-model stages as single calls: train one from a store and save it; evaluate a
saved one on feedback. ``rlhf-env rm train|eval`` (:mod:`.cli`) is a thin layer over these.

    store ──records (one task or all)──▶ seeded split by record ──▶ RewardModelTrainer.fit
          ──▶ held-out evaluate() ──▶ save_pretrained(out) + the run's config (TOML)

    >>> from rlhf_env.feedback.learning.runs import RMTrainConfig
    >>> RMTrainConfig().trainer.val_fraction
    0.2
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_env.configs import RUN_CONFIG_FILE, config_to_dict, save_config
from rlhf_env.errors import FeedbackError
from rlhf_env.feedback.io import read_jsonl
from rlhf_env.feedback.learning.evaluation import EvaluationReport, evaluate
from rlhf_env.feedback.learning.training.trainer import RewardTrainerConfig
from rlhf_env.feedback.records import Annotator, FeedbackRecord
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.rewards.encoder_head import EncoderHeadConfig
from rlhf_env.validation import check_fields, check_int

_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class RMTrainConfig:
    """Settings of :func:`train_reward_model` (``rlhf-env rm train``)."""

    model: EncoderHeadConfig = field(default_factory=EncoderHeadConfig)
    """The reward model: encoder backbone, pooling, head (``[model]`` in a config file)."""
    trainer: RewardTrainerConfig = field(default_factory=RewardTrainerConfig)
    """How it trains (``[trainer]``). ``trainer.val_fraction`` of the records (split by
    record, seeded by ``trainer.seed``) are held out for early stopping and the accuracy
    reported at the end."""
    task: str | None = None
    """Train on this task's records only (``None``: every record in the store)."""
    name: str = "reward-model"
    """Name saved with the model (shown in logs and errors)."""

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class RMTrainSummary:
    """What :func:`train_reward_model` did."""

    out: Path
    """Folder the model was saved in (``make_reward_model(out)`` loads it)."""
    n_train: int
    """Records trained on."""
    n_val: int
    """Records held out."""
    report: EvaluationReport | None
    """Held-out metrics (``None`` without held-out records)."""
    examples: dict[str, int]
    """Training examples of each kind (pairs, rankings, ratings)."""
    best_epoch: int
    steps: int
    seconds: float
    """Wall time of loading, training, evaluating and saving."""


def store_records(path: str | Path, task: str | None = None
                  ) -> tuple[list[FeedbackRecord], list[Annotator]]:
    """Records (of ``task``, or all) and annotators of a feedback store or a feedback JSONL
    file (:func:`~rlhf_env.feedback.io.read_jsonl`'s format)."""
    path = Path(path)
    if not path.exists():
        raise FeedbackError(f"{path}: no such feedback store or file; check the path.")
    if path.is_file() and path.read_bytes()[:16] != _SQLITE_MAGIC and path.suffix != ".sqlite":
        result = read_jsonl(path)
        records = [r for r in result.records if task is None or r.task == task]
        return records, result.annotators
    with FeedbackStore(path, read_only=True) as store:
        return store.records(task=task), store.annotators()


def _split(records: list[FeedbackRecord], fraction: float, seed: int
           ) -> tuple[list[FeedbackRecord], list[FeedbackRecord]]:
    """Training and held-out records: a seeded shuffle, at least one on each side."""
    if fraction == 0 or len(records) < 2:
        return records, []
    order = np.random.default_rng(seed).permutation(len(records))
    n_val = min(max(1, round(fraction * len(records))), len(records) - 1)
    return [records[i] for i in order[n_val:]], [records[i] for i in order[:n_val]]


def train_reward_model(store: str | Path, out: str | Path,
                       config: RMTrainConfig | None = None) -> RMTrainSummary:
    """Train an :class:`~rlhf_env.rewards.EncoderHeadReward` on the feedback in ``store``
    (a store or a feedback JSONL file), save it in ``out`` with the run's config, and report
    its accuracy on the held-out records."""
    from rlhf_env.feedback.learning.training.trainer import RewardModelTrainer
    from rlhf_env.rewards.encoder_head import EncoderHeadReward

    config = config or RMTrainConfig()
    start = time.perf_counter()
    records, annotators = store_records(store, config.task)
    if not records:
        where = f" of task {config.task!r}" if config.task else ""
        raise FeedbackError(f"{store} holds no feedback records{where}; import or label some "
                            f"first (`rlhf-env feedback import {store} data.jsonl`).")
    train, held_out = _split(records, config.trainer.val_fraction, config.trainer.seed)
    model = EncoderHeadReward(config.model, name=config.name)
    result = RewardModelTrainer(config.trainer).fit(
        model, train, annotators=annotators, validation=held_out or None)
    report = evaluate(model, held_out, annotators=annotators) if held_out else None
    model.training_metadata = {
        "source": str(store), "n_train": len(train), "n_val": len(held_out),
        "val_accuracy": None if report is None else report.pairwise_accuracy,
        "config": config_to_dict(config)}
    out = Path(out)
    model.save_pretrained(out)
    save_config(config, out / RUN_CONFIG_FILE)
    return RMTrainSummary(out=out, n_train=len(train), n_val=len(held_out), report=report,
                          examples={k: v for k, v in result.counts.items() if k != "items"},
                          best_epoch=result.best_epoch, steps=result.steps,
                          seconds=time.perf_counter() - start)


@dataclass(frozen=True)
class RMEvalConfig:
    """Settings of :func:`evaluate_reward_model` (``rlhf-env rm eval``)."""

    task: str | None = None
    """Evaluate on this task's records only (``None``: all)."""
    condition_on_annotator: bool = False
    """Score each pair as its annotator would (annotator-conditioned models only)."""
    n_bins: int = 10
    """Bins of the expected calibration error."""

    def __post_init__(self) -> None:
        check_fields(self)
        check_int("RMEvalConfig.n_bins", self.n_bins, minimum=1)


def evaluate_reward_model(model: Any, data: str | Path, config: RMEvalConfig | None = None
                          ) -> tuple[EvaluationReport, int]:
    """``(report, number of records)``: ``model`` (a saved folder, a registered name, a Hub
    id or an object; see :func:`~rlhf_env.rewards.make_reward_model`) on the feedback in
    ``data`` (a store or a feedback JSONL file)."""
    from rlhf_env.rewards import make_reward_model

    config = config or RMEvalConfig()
    records, annotators = store_records(data, config.task)
    if not records:
        where = f" of task {config.task!r}" if config.task else ""
        raise FeedbackError(f"{data} holds no feedback records{where} to evaluate on.")
    report = evaluate(make_reward_model(model), records, annotators=annotators,
                      condition_on_annotator=config.condition_on_annotator,
                      n_bins=config.n_bins)
    return report, len(records)


__all__ = ["RMEvalConfig", "RMTrainConfig", "RMTrainSummary",
           "evaluate_reward_model", "store_records", "train_reward_model"]
