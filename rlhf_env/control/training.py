"""Train trajectory reward models with the text trainer, unchanged.

:class:`~rlhf_env.feedback.learning.training.RewardModelTrainer` reads models only through
:class:`~rlhf_env.feedback.learning.training.adapter.RewardModuleAdapter`, which needs a
``tokenizer`` and ``forward(input_ids, attention_mask) -> (B,)``. :class:`SegmentRewardModule`
provides exactly that over a :class:`~rlhf_env.control.segments.SegmentBank`:

- its "tokenizer" turns each response string (``"segment:<id>"`` or a clip path) into one
  token, the segment's row in a table (``input_format="response"``: the prompt is ignored);
- ``forward`` looks the rows up and returns each segment's predicted return
  ``Σ_t r(s_t, a_t, s_{t+1})``, so Bradley–Terry over segment pairs is the trainer's usual
  pairwise loss: ``P(σ_a ≻ σ_b) = sigmoid(R(σ_a) − R(σ_b))``.

So comparisons of segments train through the same code as comparisons of texts, ensembles
included (:meth:`~rlhf_env.feedback.learning.training.RewardModelTrainer.fit_bootstrap`); no
trainer change is needed. Replayed
:class:`~rlhf_env.feedback.records.ControlCorrection` records train as the comparison
``corrected ≻ original`` of their two segments (:mod:`rlhf_env.control.corrections`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rlhf_env.control.corrections import training_records
from rlhf_env.control.models import TrajectoryRewardEnsemble, TrajectoryRewardNet
from rlhf_env.control.segments import SegmentBank, stack_segments
from rlhf_env.feedback.learning.training import (
    FeedbackDataset,
    RewardModelTrainer,
    RewardTrainerConfig,
    TrainResult,
)
from rlhf_env.feedback.records import FeedbackRecord


class SegmentTokenizer:
    """Maps segment reference strings to one-token rows (the segment's table index + 1)."""

    pad_token_id = 0

    def __init__(self, bank: SegmentBank) -> None:
        self.bank = bank
        self.index: dict[str, int] = {}
        self.segments: list[Any] = []

    def row(self, ref: str) -> int:
        """Table index of ``ref`` (added on first use)."""
        seg = self.bank.get(ref)
        if seg.id not in self.index:
            self.index[seg.id] = len(self.segments)
            self.segments.append(seg)
        return self.index[seg.id]

    def __call__(self, texts: Sequence[str], pairs: Any = None, **_: Any) -> dict[str, list]:
        ids = [[self.row(t) + 1] for t in texts]
        return {"input_ids": ids, "attention_mask": [[1] for _ in ids]}


class SegmentRewardModule(nn.Module):
    """A trajectory reward net seen by the trainer as a "text" model over segment refs.

    Args:
        net: the per-transition reward model (its parameters are what trains).
        bank: where the referenced segments live.
    """

    input_format = "response"
    max_length = 1

    def __init__(self, net: TrajectoryRewardNet, bank: SegmentBank) -> None:
        super().__init__()
        self.net = net
        self.tokenizer = SegmentTokenizer(bank)

    def _segment_tensors(self, rows: list[int], device: Any) -> tuple[Tensor, Tensor, Tensor]:
        segs = [self.tokenizer.segments[i] for i in rows]
        obs, act, nxt = stack_segments(segs)
        return (torch.as_tensor(obs, device=device), torch.as_tensor(act, device=device),
                torch.as_tensor(nxt, device=device))

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                **_: Any) -> Tensor:
        """Predicted returns ``(B,)`` of the segments whose rows are ``input_ids[:, 0] − 1``."""
        rows = (input_ids[:, 0] - 1).tolist()
        obs, act, nxt = self._segment_tensors(rows, input_ids.device)
        b, t = obs.shape[:2]
        flat = self.net(obs.reshape(b * t, *obs.shape[2:]), act.reshape(b * t, *act.shape[2:]),
                        nxt.reshape(b * t, *nxt.shape[2:]))
        return flat.reshape(b, t).sum(dim=1)


def segment_returns(model: TrajectoryRewardNet | TrajectoryRewardEnsemble, bank: SegmentBank,
                    refs: Sequence[str]) -> np.ndarray:
    """Predicted returns of segments: ``(n,)`` for a net, ``(K, n)`` for an ensemble."""
    segs = [bank.get(r) for r in refs]
    obs, act, nxt = stack_segments(segs)
    n, t = obs.shape[:2]
    flat = (obs.reshape(n * t, *obs.shape[2:]), act.reshape(n * t, *act.shape[2:]),
            nxt.reshape(n * t, *nxt.shape[2:]))
    if isinstance(model, TrajectoryRewardEnsemble):
        return model.member_scores(*flat).reshape(-1, n, t).sum(axis=2)
    return model.score(*flat).reshape(n, t).sum(axis=1)


def fit_segment_model(net: TrajectoryRewardNet, records: Sequence[FeedbackRecord] | Any,
                      bank: SegmentBank, config: RewardTrainerConfig | None = None
                      ) -> TrainResult:
    """Train ``net`` in place on segment comparisons with :class:`RewardModelTrainer`.

    Observation statistics are refreshed from the whole bank first and stay frozen during
    training; afterwards the output is rescaled to zero mean, unit std over the bank.
    """
    return _fit_nets([net], records, bank, config)[0]


def fit_segment_ensemble(ensemble: TrajectoryRewardEnsemble, records: Sequence[FeedbackRecord],
                         bank: SegmentBank, config: RewardTrainerConfig | None = None
                         ) -> list[TrainResult]:
    """Train every member in place, each on its own bootstrap resample of ``records``.

    The resampling, the shared held-out split and the per-member seeds are those of
    :meth:`RewardModelTrainer.fit_bootstrap`, the one mechanism text ensembles
    (:meth:`~RewardModelTrainer.fit_ensemble`) train through too; a one-member ensemble
    trains on all labels. Normalisation as in :func:`fit_segment_model`.
    """
    return _fit_nets(ensemble.nets, records, bank, config)


def _fit_nets(nets: Sequence[TrajectoryRewardNet], records: Sequence[FeedbackRecord] | Any,
              bank: SegmentBank, config: RewardTrainerConfig | None) -> list[TrainResult]:
    """Refresh each net's observation statistics, train them all with
    :meth:`RewardModelTrainer.fit_bootstrap` (corrections as their comparisons), then
    rescale each output over the bank."""
    if not isinstance(records, FeedbackDataset):
        records = training_records(records)
    obs, act, nxt = bank.transitions()
    for net in nets:
        net.norm.reset()
        net.update_normalization(obs)
    trainer = RewardModelTrainer(config or default_trainer_config())
    results = trainer.fit_bootstrap(lambda i: SegmentRewardModule(nets[i], bank), records,
                                    len(nets))
    for net in nets:
        net.set_output_normalization(obs, act, nxt)
    return results


def default_trainer_config(**overrides: Any) -> RewardTrainerConfig:
    """Trainer settings that suit small MLPs over segments (lr 1e-3, 20 epochs, early stop).
    No chance-level warning: the preference loop retrains every round, early rounds have
    few labels by design, and it logs :func:`validation_accuracy` itself."""
    base = RewardTrainerConfig(epochs=20, batch_size=32, head_lr=1e-3, lr=1e-3,
                               weight_decay=1e-4, val_fraction=0.1, patience=4,
                               bucket_batches=1000, device="cpu", warn_at_chance=False)
    return replace(base, **overrides)


def validation_accuracy(results: Sequence[TrainResult]) -> float:
    """Mean held-out pairwise accuracy of the best epoch of each result (NaN if none)."""
    accs = []
    for r in results:
        if r.history and r.best_epoch:
            acc = r.history[r.best_epoch - 1].get("val_accuracy")
            if acc is not None:
                accs.append(acc)
    return float(np.mean(accs)) if accs else float("nan")


__all__ = ["SegmentRewardModule", "SegmentTokenizer", "default_trainer_config",
           "fit_segment_ensemble", "fit_segment_model", "segment_returns",
           "validation_accuracy"]
