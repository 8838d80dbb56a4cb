"""Any Hugging Face sequence classifier as a reward model.

The score is one number per (prompt, response) pair, taken from the classifier's logits:

* ``num_labels == 1`` (a regression / reward head): that logit.
* otherwise, for the chosen label ``y``: ``logit_y − logsumexp(logits of the other labels)``,
  which is the **log-odds** ``log p(y) / (1 − p(y))`` of the label under the softmax. For two
  labels this is simply ``logit_y − logit_other``. Unlike ``p(y)`` it does not saturate, so the
  reward keeps a useful slope on confident texts.

Without ``label=`` the label is picked from ``config.id2label``: an entry named ``positive``
or ``pos`` (any case), or, for a 2-label model, index 1 (``LABEL_1``). Other models need
``label=`` (a name from ``id2label`` or an index).

:class:`HFClassifierReward` is a ``torch.nn.Module`` whose
:meth:`~HFClassifierReward.forward` gives differentiable scores, so
:class:`~rlhf_env.feedback.learning.training.RewardModelTrainer` fine-tunes it (the
transformer body is its ``backbone``). :meth:`~HFClassifierReward.save_pretrained` writes a
plain transformers folder (``AutoModelForSequenceClassification.from_pretrained`` loads it)
plus ``rlhf_env_reward.json`` with the label and input settings, which
:meth:`~HFClassifierReward.from_pretrained` and ``make_reward_model(folder)`` read back. A
local folder given by a relative path is recorded as an absolute one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rlhf_env.errors import ConfigError, ModelLoadError
from rlhf_env.files import read_json, saved_model_folder, write_json
from rlhf_env.models.loading import _hint, hub_unavailable, prepare_tokenizer
from rlhf_env.models.sources import model_source
from rlhf_env.quiet import quiet_hf
from rlhf_env.rewards._inputs import (
    check_input_format,
    length_sorted_batches,
    resolve_device,
    text_keys,
)
from rlhf_env.rewards.base import check_pairs, validate_scores
from rlhf_env.validation import check_fields

POSITIVE_NAMES = ("positive", "pos")
SETTINGS_FILE = "rlhf_env_reward.json"
"""Written next to the transformers files by :meth:`HFClassifierReward.save_pretrained`."""
FORMAT_NAME = "rlhf_env.hf_classifier"
FORMAT_VERSION = 1
_SETTINGS = ("label", "batch_size", "max_length", "input_format", "name")


@dataclass(frozen=True)
class HFClassifierConfig:
    """Settings of :class:`HFClassifierReward`."""

    name_or_path: str
    """Local folder written by ``save_pretrained`` (made absolute when the model is built), or
    a Hugging Face Hub id."""
    label: str | int | None = None
    """Label whose log-odds is the score: a name in ``id2label`` or an index (module doc)."""
    batch_size: int = 32
    """Pairs per forward pass."""
    max_length: int = 512
    """Token limit per pair (longer inputs are truncated, longest part first)."""
    input_format: str = "prompt+response"
    """``"prompt+response"`` (encoded as a text pair) or ``"response"`` alone."""

    def __post_init__(self) -> None:
        check_fields(self)
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size!r}.")
        if self.max_length < 2:
            raise ConfigError(f"max_length must be >= 2 tokens, got {self.max_length!r}.")
        check_input_format(self.input_format)


def resolve_label(id2label: Mapping[int, str], num_labels: int,
                  label: str | int | None = None) -> int | None:
    """Index of the logit to score, or ``None`` for a single-logit model (see module doc)."""
    if num_labels == 1:
        return None
    names = {int(i): str(n) for i, n in id2label.items()}
    if isinstance(label, int) and not isinstance(label, bool):
        if not 0 <= label < num_labels:
            raise ConfigError(f"label index {label} is out of range for a model with "
                              f"{num_labels} labels {names}.")
        return label
    if label is not None:
        for i, n in names.items():
            if n.lower() == str(label).lower():
                return i
        raise ConfigError(f"label {label!r} is not one of the model's labels {names}; pass a "
                          f"name from id2label or an index.")
    for i, n in names.items():
        if n.lower() in POSITIVE_NAMES:
            return i
    if num_labels == 2:
        return 1
    raise ConfigError(
        f"cannot tell which of the labels {names} means 'good'; pass label=<name or index>."
    )


def label_log_odds(logits: torch.Tensor, index: int | None) -> torch.Tensor:
    """``(B, L)`` logits -> ``(B,)`` scores: the logit itself for ``L == 1``, else the log-odds
    of label ``index`` against all the others."""
    if index is None:
        return logits[:, 0]
    others = torch.cat([logits[:, :index], logits[:, index + 1:]], dim=1)
    return logits[:, index] - torch.logsumexp(others, dim=1)


def load_classifier(name_or_path: str) -> tuple[Any, Any]:
    """Load ``AutoModelForSequenceClassification`` and its tokenizer from a path or hub id.

    A string that looks like a path but names no folder fails at once (no hub retries), and
    so does a hub id the hub cannot provide right now.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = model_source(name_or_path)
    where = ("the local folder" if source.kind == "local" else "the Hugging Face Hub id")
    try:
        reason = hub_unavailable(source.location) if source.kind == "hub" else None
        if reason:
            raise OSError(reason)
        with quiet_hf(keep_warnings=True):  # a checkpoint without its head should still say so
            model = AutoModelForSequenceClassification.from_pretrained(source.location)
            tokenizer = AutoTokenizer.from_pretrained(source.location)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"could not load a sequence classifier from {where} {source.location!r} "
            f"({type(exc).__name__}: {exc}). A local folder must hold config.json, weights and "
            f"tokenizer files written by `save_pretrained`. {_hint()}"
        ) from exc
    return model, tokenizer


def effective_max_length(requested: int, model: Any, tokenizer: Any) -> int:
    """``requested``, lowered to what the model's position embeddings and tokenizer allow."""
    limits = [requested]
    positions = getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and 0 < tok_limit < 1_000_000:
        limits.append(tok_limit)
    return min(limits)


class HFClassifierReward(nn.Module):
    """Score (prompt, response) pairs with a Hugging Face sequence classifier.

    Args:
        name_or_path: see :class:`HFClassifierConfig`.
        label: see :class:`HFClassifierConfig`.
        batch_size: see :class:`HFClassifierConfig`.
        max_length: see :class:`HFClassifierConfig`. ``name_or_path`` may be left out when
            ``model`` and ``tokenizer`` are given.
        device: torch device; ``None`` means CUDA if available, else CPU.
        input_format: see :class:`HFClassifierConfig`.
        model: an already loaded classifier (skips loading; give ``tokenizer`` with it).
        tokenizer: the already loaded classifier's tokenizer.
        name: used in logs and errors; defaults to ``name_or_path``.
    """

    def __init__(self, name_or_path: str | os.PathLike[str] | None = None,
                 label: str | int | None = None, batch_size: int = 32,
                 max_length: int = 512, device: Any = None,
                 input_format: str = "prompt+response", *, model: Any = None,
                 tokenizer: Any = None, name: str | None = None) -> None:
        super().__init__()
        loading = model is None or tokenizer is None
        where = _where(name_or_path, model, loading)
        self.config = HFClassifierConfig(where, label, batch_size, max_length, input_format)
        if loading:
            model, tokenizer = load_classifier(self.config.name_or_path)
        self.model = model.eval()
        self.tokenizer = prepare_tokenizer(tokenizer, "right")
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.label_index = resolve_label(self.model.config.id2label,
                                         self.model.config.num_labels, label)
        self.max_length = effective_max_length(max_length, self.model, self.tokenizer)
        self.name = name or self.config.name_or_path
        self.to(resolve_device(device))
        self.train(False)

    @property
    def device(self) -> torch.device:
        """Where the classifier's weights live."""
        return next(self.model.parameters()).device

    @property
    def backbone(self) -> nn.Module | None:
        """The transformer body under the classification head (``None`` if the model does
        not separate one); what ``RewardTrainerConfig(freeze_backbone=True)`` freezes."""
        body = getattr(self.model, "base_model", None)
        return body if isinstance(body, nn.Module) and body is not self.model else None

    @property
    def label_name(self) -> str | None:
        """The ``id2label`` name of the scored label (``None`` for single-logit models)."""
        if self.label_index is None:
            return None
        return str(self.model.config.id2label[self.label_index])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                **extra: torch.Tensor) -> torch.Tensor:
        """Differentiable scores ``(B,)`` for a tokenized batch (for training)."""
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits
        return label_log_odds(logits.float(), self.label_index)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Scores ``(n,)`` float32 in eval mode, batched by length, validated."""
        check_pairs(prompts, responses, self)
        keys = text_keys(prompts, responses, self.config.input_format)
        out = np.zeros(len(keys), dtype=np.float32)
        was_training = self.training
        self.train(False)
        try:
            with torch.inference_mode():
                for batch in length_sorted_batches(self.tokenizer, keys,
                                                   max_length=self.max_length,
                                                   batch_size=self.config.batch_size,
                                                   device=self.device):
                    out[batch.indices] = self.forward(**batch.tensors).cpu().numpy()
        finally:
            self.train(was_training)
        return validate_scores(out, len(keys), self)

    # -- folders --------------------------------------------------------------------------

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the classifier and tokenizer (a plain transformers folder) and
        ``rlhf_env_reward.json`` (label, input format, limits). An earlier save in ``folder``
        is replaced whole; any other non-empty folder is refused."""
        from rlhf_env import __version__

        folder = Path(folder).expanduser()
        settings = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                    "rlhf_env_version": __version__, "label": self.label_name,
                    "label_index": self.label_index, "batch_size": self.config.batch_size,
                    "max_length": self.max_length, "input_format": self.config.input_format,
                    "name": self.name}
        with saved_model_folder(folder, ("config.json", SETTINGS_FILE)) as tmp:
            self.model.save_pretrained(tmp, safe_serialization=True)
            self.tokenizer.save_pretrained(tmp)
            write_json(tmp / SETTINGS_FILE, settings)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, **kwargs: Any) -> HFClassifierReward:
        """Load a classifier folder; the settings saved by :meth:`save_pretrained` (if any)
        are the defaults and ``kwargs`` (those of the constructor) override them."""
        folder = Path(folder).expanduser()
        saved = read_json(folder / SETTINGS_FILE, default=None)
        settings: dict[str, Any] = {}
        if isinstance(saved, dict) and saved.get("format") == FORMAT_NAME:
            if int(saved.get("format_version", 0)) > FORMAT_VERSION:
                raise ModelLoadError(f"{folder} was written by a newer rlhf-env; upgrade "
                                     f"rlhf-env to load it.")
            settings = {k: saved[k] for k in _SETTINGS if saved.get(k) is not None}
            if saved.get("label_index") is not None:  # an index survives renamed labels
                settings["label"] = int(saved["label_index"])
        return cls(folder, **{**settings, **kwargs})


def _where(name_or_path: Any, model: Any, loading: bool) -> str:
    """The ``name_or_path`` to record: an absolute folder, a hub id, or (for a model object
    given without one) the model's own ``name_or_path`` or class name."""
    if name_or_path is None:
        if loading:
            raise ConfigError("HFClassifierReward needs name_or_path (a folder or hub id), or "
                              "both model= and tokenizer=.")
        return str(getattr(model, "name_or_path", "") or type(model).__name__)
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    return str(path.resolve()) if path.exists() else text
