"""One adapter between the trainer and the reward models it trains.

The trainer needs four things from a text reward model, and reads them only here:

- ``tokenizer`` plus the model's ``input_format`` and ``max_length``, so training tokenizes
  exactly as :meth:`score` does (through :mod:`rlhf_env.rewards._inputs`);
- ``forward(input_ids, attention_mask[, token_type_ids]) -> (B,)`` scores with gradients;
- optionally a split into ``embed(...) -> (B, H)`` (the backbone and pooling) and a head
  (``score_embeddings(pooled) -> (B,)``, or ``head_scores(pooled, codes)`` for conditioned
  models), which lets a frozen backbone's embeddings be computed once and cached;
- optionally annotator conditioning: ``attribute_codes(attribute dicts) -> (A, n)``.

:class:`~rlhf_env.rewards.EncoderHeadReward` and
:class:`~rlhf_env.feedback.learning.training.conditioned.AnnotatorConditionedReward` provide
all of it; :class:`~rlhf_env.rewards.HFClassifierReward` (any
``AutoModelForSequenceClassification``) provides a tokenizer, ``forward`` and a
``backbone``; any ``torch.nn.Module`` with a ``tokenizer`` and that ``forward`` trains end to
end. :func:`as_trainable` wraps what users hand in (a raw transformers classifier, a folder).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from rlhf_env.errors import ConfigError, RLHFEnvError
from rlhf_env.rewards import _inputs


def _config_value(model: Any, name: str, default: Any) -> Any:
    value = getattr(model, name, None)
    if value is None:
        value = getattr(getattr(model, "config", None), name, None)
    return default if value is None else value


def find_backbone(model: Any) -> nn.Module | None:
    """The model's encoder/backbone module, if it names one."""
    for name in ("backbone", "encoder"):
        mod = getattr(model, name, None)
        if isinstance(mod, nn.Module):
            return mod
    return None


def _is_raw_classifier(model: Any) -> bool:
    """A transformers ``*ForSequenceClassification`` model not wrapped by us."""
    return (isinstance(model, nn.Module) and not hasattr(model, "score")
            and type(model).__name__.endswith("ForSequenceClassification")
            and hasattr(getattr(model, "config", None), "num_labels"))


def as_trainable(model: Any) -> Any:
    """The reward model the trainer trains for what a user passed.

    A folder path loads with :func:`~rlhf_env.rewards.make_reward_model` (a saved encoder
    head, a classifier folder…); a raw transformers sequence classifier is wrapped in an
    :class:`~rlhf_env.rewards.HFClassifierReward` sharing its weights, with the tokenizer of
    its ``name_or_path``. Anything else is returned as is.
    """
    if isinstance(model, (str, os.PathLike)):
        from rlhf_env.rewards.registry import make_reward_model

        return make_reward_model(model)
    if not _is_raw_classifier(model):
        return model
    from rlhf_env.models.loading import load_tokenizer
    from rlhf_env.rewards.hf_classifier import HFClassifierReward

    source = str(getattr(model, "name_or_path", "") or "")
    try:
        if not source:
            raise ConfigError("it has no name_or_path")
        tokenizer = load_tokenizer(source, padding_side="right")
    except RLHFEnvError as exc:
        raise ConfigError(
            f"the {type(model).__name__} has no tokenizer the trainer can load ({exc}); wrap "
            f"it with its tokenizer: HFClassifierReward(model=model, tokenizer=tokenizer)."
        ) from None
    return HFClassifierReward(model=model, tokenizer=tokenizer,
                              device=next(model.parameters()).device)


class RewardModuleAdapter:
    """Uniform access to a trainable text reward model (see the module docstring)."""

    def __init__(self, model: Any, device: Any = None) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(
                f"the trainer trains torch modules; got {type(model).__name__}. Build a "
                "trainable model with rlhf_env.rewards.EncoderHeadReward (or "
                "AnnotatorConditionedReward) first."
            )
        self.tokenizer = getattr(model, "tokenizer", None)
        if self.tokenizer is None:
            raise ConfigError(
                f"{type(model).__name__} has no `tokenizer` attribute; the trainer needs it "
                "to tokenize (prompt, response) pairs the way score() does."
            )
        self.model: Any = model
        self.input_format = _inputs.check_input_format(
            _config_value(model, "input_format", "prompt+response"))
        self.max_length = int(_config_value(model, "max_length", 256))
        self.device = _inputs.resolve_device(device)
        pad = self.tokenizer.pad_token_id
        self.pad_id = 0 if pad is None else int(pad)

    # -- capabilities -------------------------------------------------------------------
    @property
    def splittable(self) -> bool:
        """Whether the model exposes ``embed`` and a head on pooled embeddings separately."""
        return callable(getattr(self.model, "embed", None)) and (
            callable(getattr(self.model, "head_scores", None))
            or callable(getattr(self.model, "score_embeddings", None)))

    @property
    def model_freezes_backbone(self) -> bool | None:
        """The model's own ``config.freeze_backbone`` flag, if it has one."""
        value = getattr(getattr(self.model, "config", None), "freeze_backbone", None)
        return None if value is None else bool(value)

    @property
    def conditioned(self) -> bool:
        """Whether the model conditions on annotator attributes."""
        return callable(getattr(self.model, "attribute_codes", None))

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Parameters of the backbone (empty when the model names none)."""
        bb = find_backbone(self.model)
        return list(bb.parameters()) if bb is not None else []

    def head_parameters(self) -> list[nn.Parameter]:
        """Every parameter that is not in the backbone."""
        ids = {id(p) for p in self.backbone_parameters()}
        return [p for p in self.model.parameters() if id(p) not in ids]

    # -- tokens ---------------------------------------------------------------------------
    def tokenize(self, items: Sequence[tuple[str, str]]) -> list[dict]:
        """Token rows (unpadded) of ``(prompt, response)`` items, as ``score`` sees them."""
        keys = _inputs.text_keys([p for p, _ in items], [r for _, r in items],
                                 self.input_format)
        return _inputs.tokenize(self.tokenizer, keys, self.max_length)

    def pad(self, rows: Sequence[dict]) -> dict[str, Tensor]:
        """Right-padded ``(B, T)`` tensors on the training device."""
        return _inputs.pad(rows, self.pad_id, self.device)

    # -- scores ---------------------------------------------------------------------------
    def forward(self, tensors: Mapping[str, Tensor]) -> Tensor:
        """Scores ``(B,)`` with gradients through the whole model."""
        out = self.model(**tensors)
        return out.reshape(-1)

    def embed(self, tensors: Mapping[str, Tensor]) -> Tensor:
        """Pooled text embeddings ``(B, H)``."""
        return self.model.embed(**tensors)

    def head_scores(self, pooled: Tensor, codes: Tensor | None) -> Tensor:
        """Scores ``(B,)`` from pooled embeddings (and annotator codes if conditioned)."""
        if self.conditioned:
            out = self.model.head_scores(pooled, codes)
        elif callable(getattr(self.model, "score_embeddings", None)):
            out = self.model.score_embeddings(pooled)
        else:
            out = self.model.head_scores(pooled)
        return out.reshape(-1)

    def attribute_codes(self, attributes: Sequence[Mapping[str, Any] | None]) -> Tensor | None:
        """``(A, n_attributes)`` codes for annotators, or ``None`` for plain models."""
        if not self.conditioned:
            return None
        return self.model.attribute_codes(attributes).to(self.device)

    @torch.no_grad()
    def embed_all(self, rows: Sequence[dict], batch_size: int) -> Tensor:
        """Embeddings ``(N, H)`` of all rows, in length-sorted batches, no gradients."""
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
        out: Tensor | None = None
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                emb = self.embed(self.pad([rows[i] for i in idx]))
                if out is None:
                    out = torch.empty(len(rows), emb.shape[1], dtype=emb.dtype,
                                      device=emb.device)
                out[torch.tensor(idx, device=emb.device)] = emb
        finally:
            self.model.train(was_training)
        if out is None:
            raise ConfigError("nothing to embed: the data set has no items.")
        return out


__all__ = ["RewardModuleAdapter", "as_trainable", "find_backbone"]
