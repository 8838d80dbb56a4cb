"""Annotator-conditioned reward models: "score this as a doctor would".

The pooled text embedding ``x`` (sentence encoder + mean pooling) is joined by an embedding
``a`` of the annotator's attributes (one small embedding table per attribute, index 0 =
unknown)::

    r(x, a) = head([x ; a]) + ⟨x, P a⟩

The concatenation follows the usual recipe; the low-rank interaction ``⟨x, P a⟩`` lets
annotator groups disagree about *which* response is better, not only about the overall
level. Unknown or missing attributes use the "unknown" row, which training also sees (the
trainer drops attributes at random), so ``score`` without an annotator gives the population
view.

    >>> from rlhf_env.models import load_sentence_encoder
    >>> enc, tok = load_sentence_encoder("tiny-random-bert")
    >>> rm = AnnotatorConditionedReward(enc, tok, {"expertise": ["doctor", "lawyer"]})
    >>> doctor = rm.for_annotator({"expertise": "doctor"})
    >>> doctor.score(["Is it serious?"], ["See a doctor."]).shape
    (1,)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rlhf_env.errors import ConfigError, ModelLoadError
from rlhf_env.files import atomic_folder, write_bytes, write_json
from rlhf_env.models import mean_pool, prepare_tokenizer
from rlhf_env.quiet import quiet_hf
from rlhf_env.rewards import _inputs
from rlhf_env.rewards.heads import HeadConfig, build_head
from rlhf_env.validation import check_fields

FORMAT = "rlhf_env.annotator_conditioned"
FORMAT_VERSION = 1
_WEIGHTS = "conditioning.safetensors"
_BACKBONE = "backbone"


@dataclass(frozen=True)
class ConditionedConfig:
    """Shape of an :class:`AnnotatorConditionedReward` (stored in its ``config.json``)."""

    vocab: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Attribute name → known values (index 0 of each table is "unknown")."""
    embedding_dim: int = 8
    """Width of each attribute's embedding."""
    head: HeadConfig = field(default_factory=lambda: HeadConfig(kind="mlp", hidden_sizes=(64,)))
    """Head over ``[pooled ; attribute embeddings]``."""
    interaction: bool = True
    """Add the low-rank text × attribute interaction term."""
    input_format: str = "prompt+response"
    """What the encoder sees: ``"prompt+response"`` (a text pair) or ``"response"``."""
    max_length: int = 256
    """Token limit per (prompt, response) pair."""
    batch_size: int = 32
    """Batch size of :meth:`AnnotatorConditionedReward.score`."""

    def __post_init__(self) -> None:
        check_fields(self)
        vocab = {}
        for key, values in dict(self.vocab).items():
            if not isinstance(key, str) or not key:
                raise ConfigError(f"attribute names must be non-empty strings, got {key!r}.")
            vals = tuple(dict.fromkeys(str(v) for v in values))
            vocab[key] = vals
        object.__setattr__(self, "vocab", vocab)
        if not vocab:
            raise ConfigError(
                "an annotator-conditioned reward model needs at least one attribute, e.g. "
                "vocab={'expertise': ['doctor', 'lawyer']}."
            )
        if self.embedding_dim < 1:
            raise ConfigError(f"embedding_dim must be >= 1, got {self.embedding_dim}.")
        if self.max_length < 2:
            raise ConfigError(f"max_length must be >= 2, got {self.max_length}.")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}.")
        _inputs.check_input_format(self.input_format)
        object.__setattr__(self, "head", HeadConfig.from_dict(
            self.head if isinstance(self.head, HeadConfig) else dict(self.head)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see :meth:`from_dict`)."""
        d = asdict(self)
        d["vocab"] = {k: list(v) for k, v in self.vocab.items()}
        d["head"] = {**asdict(self.head), "hidden_sizes": list(self.head.hidden_sizes)}
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConditionedConfig:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        if "head" in data:
            data["head"] = HeadConfig.from_dict(dict(data["head"]))
        return cls(**data)


class AnnotatorConditionedReward(nn.Module):
    """A sentence encoder + head whose score depends on who is asked (see module docstring).

    Args:
        encoder: a Hugging Face encoder (``AutoModel``) with ``last_hidden_state`` outputs.
        tokenizer: its tokenizer (right padding is set here).
        vocab: attribute name → values (overrides ``config.vocab`` when given).
        config: the rest of the shape; see :class:`ConditionedConfig`.
    """

    def __init__(self, encoder: Any, tokenizer: Any,
                 vocab: Mapping[str, Sequence[str]] | None = None,
                 config: ConditionedConfig | None = None) -> None:
        super().__init__()
        base = config or ConditionedConfig(vocab={k: tuple(v) for k, v in (vocab or {}).items()})
        if vocab is not None and config is not None:
            base = ConditionedConfig.from_dict({**base.to_dict(), "vocab": dict(vocab)})
        self.config = base
        self.encoder = encoder
        self.tokenizer = prepare_tokenizer(tokenizer, "right")
        hidden = int(encoder.config.hidden_size)
        d = base.embedding_dim
        self.tables = nn.ModuleDict({
            key: nn.Embedding(len(vals) + 1, d) for key, vals in base.vocab.items()
        })
        width = d * len(self.tables)
        self.head = build_head(hidden + width, base.head)
        self.interaction = nn.Linear(width, hidden, bias=False) if base.interaction else None
        if self.interaction is not None:
            nn.init.zeros_(self.interaction.weight)
        self.name = "annotator-conditioned"

    # -- the trainer's interface (see training.adapter) ------------------------------------
    @property
    def input_format(self) -> str:
        return self.config.input_format

    @property
    def max_length(self) -> int:
        return self.config.max_length

    def embed(self, input_ids: Tensor, attention_mask: Tensor,
              token_type_ids: Tensor | None = None) -> Tensor:
        """Mean-pooled encoder output ``(B, H)``."""
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        return mean_pool(out.last_hidden_state, attention_mask)

    def attribute_codes(self, annotators: Sequence[Mapping[str, Any] | Any | None]) -> Tensor:
        """``(A, n_attributes)`` value indices (0 = unknown) of annotator attribute dicts
        (or :class:`~rlhf_env.feedback.records.Annotator` objects, or ``None``)."""
        rows = []
        for ann in annotators:
            attrs = getattr(ann, "attributes", ann) or {}
            rows.append([
                (vals.index(str(attrs[key])) + 1) if str(attrs.get(key)) in vals else 0
                for key, vals in self.config.vocab.items()
            ])
        return torch.tensor(rows, dtype=torch.long).reshape(len(rows), len(self.tables))

    def head_scores(self, pooled: Tensor, codes: Tensor | None = None) -> Tensor:
        """Scores ``(B,)`` from pooled embeddings and per-row codes ``(B, n_attributes)``."""
        if codes is None:
            codes = torch.zeros(pooled.shape[0], len(self.tables), dtype=torch.long,
                                device=pooled.device)
        attr = torch.cat([tab(codes[:, i]) for i, tab in enumerate(self.tables.values())],
                         dim=1)
        out = self.head(torch.cat([pooled, attr], dim=1)).reshape(-1)
        if self.interaction is not None:
            out = out + (pooled * self.interaction(attr)).sum(dim=1)
        return out

    def forward(self, input_ids: Tensor, attention_mask: Tensor,
                token_type_ids: Tensor | None = None, codes: Tensor | None = None) -> Tensor:
        """Scores ``(B,)`` with gradients (``codes`` ``(B, n)``; ``None`` = unknown)."""
        return self.head_scores(self.embed(input_ids, attention_mask, token_type_ids), codes)

    # -- the reward-model protocol -------------------------------------------------------
    @torch.no_grad()
    def score(self, prompts: Sequence[str], responses: Sequence[str],
              annotator: Mapping[str, Any] | Any | None = None) -> np.ndarray:
        """Float32 scores ``(n,)`` as ``annotator`` (attributes) would give them; ``None``
        scores as an annotator with unknown attributes (the population view)."""
        n = len(responses)
        if len(prompts) != n:
            raise ConfigError(f"got {len(prompts)} prompts but {n} responses.")
        out = np.zeros(n, dtype=np.float32)
        if n == 0:
            return out
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        codes = self.attribute_codes([annotator]).to(device)
        keys = _inputs.text_keys(prompts, responses, self.config.input_format)
        try:
            for batch in _inputs.length_sorted_batches(
                self.tokenizer, keys, max_length=self.config.max_length,
                batch_size=self.config.batch_size, device=device,
            ):
                scores = self(**batch.tensors, codes=codes.expand(len(batch.indices), -1))
                out[batch.indices] = scores.float().cpu().numpy()
        finally:
            self.train(was_training)
        return out

    def for_annotator(self, attributes: Mapping[str, Any] | Any) -> ConditionedView:
        """A plain reward model that scores as an annotator with ``attributes`` would."""
        return ConditionedView(self, attributes)

    # -- persistence ----------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json``, the head weights and the backbone (with its tokenizer)."""
        from safetensors.torch import save

        path = Path(folder).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        with atomic_folder(path / _BACKBONE) as tmp, quiet_hf():
            self.encoder.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()
                 if not k.startswith("encoder.")}
        write_bytes(path / _WEIGHTS, save(state))
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **self.config.to_dict()}
        write_json(path / "config.json", meta)  # written last: the folder is complete
        return path

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: Any = None
                        ) -> AnnotatorConditionedReward:
        """Load a folder written by :meth:`save_pretrained` (eval mode)."""
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        path = Path(folder).expanduser()
        try:
            meta = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{path} has no readable config.json ({exc}).") from exc
        if meta.pop("format", None) != FORMAT:
            raise ModelLoadError(
                f"{path} is not an annotator-conditioned reward model (config.json has no "
                f"'format': {FORMAT!r})."
            )
        meta.pop("format_version", None)
        try:
            with quiet_hf():
                encoder = AutoModel.from_pretrained(str(path / _BACKBONE))
                tokenizer = AutoTokenizer.from_pretrained(str(path / _BACKBONE))
            weights = load_file(str(path / _WEIGHTS))
        except Exception as exc:  # transformers and safetensors raise many kinds
            raise ModelLoadError(f"{path}: the saved backbone or weights cannot be loaded "
                                 f"({type(exc).__name__}: {exc}); the folder is incomplete or "
                                 f"corrupt, save it again.") from None
        model = cls(encoder, tokenizer, config=ConditionedConfig.from_dict(meta))
        missing, unexpected = model.load_state_dict(weights, strict=False)
        bad = [k for k in missing if not k.startswith("encoder.")] + list(unexpected)
        if bad:
            raise ModelLoadError(f"{path}: weights do not match the config ({bad[:4]}).")
        if device is not None:
            model = model.to(device)
        return model.eval()


class ConditionedView:
    """An :class:`AnnotatorConditionedReward` fixed to one annotator's attributes."""

    def __init__(self, model: AnnotatorConditionedReward, attributes: Any) -> None:
        self.model = model
        self.attributes = getattr(attributes, "attributes", attributes)
        desc = ",".join(f"{k}={v}" for k, v in dict(self.attributes or {}).items())
        self.name = f"{model.name}[{desc}]"

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Scores ``(n,)`` as this annotator would give them."""
        return self.model.score(prompts, responses, annotator=self.attributes)


def is_conditioned_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds an annotator-conditioned reward model."""
    try:
        meta = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


__all__ = [
    "FORMAT",
    "AnnotatorConditionedReward",
    "ConditionedConfig",
    "ConditionedView",
    "is_conditioned_folder",
]
