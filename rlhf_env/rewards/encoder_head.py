"""A sentence encoder with a small scalar head: the reward model we train from feedback.

``text -> tokenizer -> encoder (e.g. all-MiniLM-L6-v2) -> pooling -> head -> score``.

* :meth:`EncoderHeadReward.forward` takes token tensors and returns differentiable scores
  ``(B,)`` for training; :meth:`EncoderHeadReward.score` takes texts and returns validated
  float32 numpy scores in eval mode without gradients.
* With a frozen backbone (the default) pooled embeddings are cached per text (LRU), so texts
  that come back during RL are embedded once.
* :meth:`~EncoderHeadReward.save_pretrained` writes a small folder: ``config.json`` (backbone
  reference, pooling, head, input format, label and training metadata) and
  ``head.safetensors``; a fine-tuned backbone is saved under ``backbone/`` (a plain
  transformers folder) and flagged with ``"backbone_saved": true``.
* A backbone that is not saved is recorded as a bundled name, a hub id or an **absolute**
  path (``"backbone_source"``: ``"bundled"``, ``"hub"`` or ``"local"``): a relative folder is
  resolved when the model is built, so the saved folder loads from any working directory.
  When a recorded folder has gone, :meth:`~EncoderHeadReward.from_pretrained` raises at once
  naming it; ``from_pretrained(folder, backbone="/new/place")`` points it elsewhere.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rlhf_env.errors import ConfigError, ModelLoadError
from rlhf_env.files import atomic_folder, write_bytes, write_json
from rlhf_env.models.loading import load_sentence_encoder, mean_pool
from rlhf_env.models.precision import check_precision, frozen_copy
from rlhf_env.models.sources import ModelSource, check_source, looks_like_path, model_source
from rlhf_env.quiet import quiet_hf
from rlhf_env.rewards._format import (
    BACKBONE_DIR,
    CONFIG_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    HEAD_FILE,
    read_composite,
)
from rlhf_env.rewards._inputs import (
    check_input_format,
    length_sorted_batches,
    pad,
    text_keys,
    tokenize,
)
from rlhf_env.rewards.base import check_pairs, validate_scores
from rlhf_env.rewards.embedding_cache import EmbeddingCache
from rlhf_env.rewards.heads import HeadConfig, build_head
from rlhf_env.validation import check_fields

POOLINGS = ("mean", "cls")
LOAD_OVERRIDES = frozenset({"batch_size", "cache_size", "max_length", "freeze_backbone",
                            "backbone_precision"})
"""Config fields :meth:`EncoderHeadReward.from_pretrained` may change: none alters the weights."""


@dataclass(frozen=True)
class EncoderHeadConfig:
    """Settings of :class:`EncoderHeadReward` (all of them are saved in ``config.json``)."""

    backbone: str = "all-minilm-l6-v2"
    """Bundled encoder name, local folder or hub id of the ``AutoModel`` encoder. A relative
    folder becomes an absolute path when :class:`EncoderHeadReward` is built."""
    backbone_seed: int = 0
    """Seed of the random ``tiny-*`` test encoders (ignored for real ones)."""
    pooling: str = "mean"
    """``"mean"`` over real tokens (what all-MiniLM-L6-v2 was trained with) or ``"cls"``."""
    normalize: bool = False
    """L2-normalise the pooled embedding before the head."""
    head: HeadConfig = field(default_factory=HeadConfig)
    """The scalar head (linear by default, or an MLP)."""
    max_length: int = 256
    """Token limit per input (longer inputs are truncated)."""
    input_format: str = "prompt+response"
    """``"prompt+response"`` (encoded as a text pair) or ``"response"`` alone."""
    freeze_backbone: bool = True
    """Train only the head; the encoder stays in eval mode and embeddings are cached."""
    batch_size: int = 64
    """Texts per encoder pass in :meth:`EncoderHeadReward.score`."""
    cache_size: int = 10_000
    """Embeddings kept in the LRU cache (0 disables it; only used with a frozen backbone)."""
    backbone_precision: str = "float32"
    """Precision the frozen backbone runs at: ``"float32"``, ``"bfloat16"`` or ``"int8"``
    (see :mod:`rlhf_env.models.precision` for the speed and the score error each costs;
    ``"bfloat16"`` is the fast and accurate one on CPUs with bfloat16 units). Needs
    ``freeze_backbone``; the head stays float32. A passed ``encoder`` is converted as a copy."""

    def __post_init__(self) -> None:
        check_fields(self)
        object.__setattr__(self, "head", HeadConfig.from_dict(self.head))
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}.")
        if self.max_length < 2:
            raise ConfigError(f"max_length must be >= 2 tokens, got {self.max_length!r}.")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size!r}.")
        if self.cache_size < 0:
            raise ConfigError(f"cache_size must be >= 0, got {self.cache_size!r}.")
        check_input_format(self.input_format)
        check_precision("EncoderHeadConfig.backbone_precision", self.backbone_precision)
        if self.backbone_precision != "float32" and not self.freeze_backbone:
            raise ConfigError(f"backbone_precision={self.backbone_precision!r} runs a frozen "
                              f"backbone only; set freeze_backbone=True, or keep "
                              f"backbone_precision='float32' to fine-tune the backbone.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the head as a nested dict)."""
        data = dataclasses.asdict(self)
        data["head"]["hidden_sizes"] = list(self.head.hidden_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderHeadConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"unknown encoder-head settings {sorted(unknown)}; known: "
                              f"{sorted(names)}.")
        return cls(**data)


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str,
         normalize: bool) -> torch.Tensor:
    """``(B, T, H)`` token states -> ``(B, H)`` text embeddings."""
    out = mean_pool(hidden, attention_mask) if pooling == "mean" else hidden[:, 0]
    return nn.functional.normalize(out, dim=-1) if normalize else out


class EncoderHeadReward(nn.Module):
    """Encoder + pooling + scalar head reward model (see the module docstring).

    Args:
        config: an :class:`EncoderHeadConfig`; keyword ``fields`` override its fields (or
            build one: ``EncoderHeadReward(backbone="tiny-random-bert", input_format="response")``).
        encoder: an already loaded backbone (skips loading; give ``tokenizer`` with it).
        tokenizer: the already loaded backbone's tokenizer.
        name: used in logs and errors.
        label_info: what a high score means, e.g. ``{"higher": "more positive"}``.
        training_metadata: how the head was trained (data, seed, metrics); saved as is.
    """

    def __init__(self, config: EncoderHeadConfig | None = None, *, encoder: Any = None,
                 tokenizer: Any = None, name: str = "encoder-head",
                 label_info: dict[str, Any] | None = None,
                 training_metadata: dict[str, Any] | None = None, **fields: Any) -> None:
        super().__init__()
        config = config or EncoderHeadConfig()
        config = dataclasses.replace(config, **fields) if fields else config
        loading = encoder is None or tokenizer is None
        self.backbone_source = _backbone_source(config.backbone, strict=loading)
        if self.backbone_source is not None:
            config = dataclasses.replace(config, backbone=self.backbone_source.location)
        self.config = config
        if loading:
            encoder, tokenizer = load_sentence_encoder(self.config.backbone,
                                                       seed=self.config.backbone_seed)
        if self.config.backbone_precision != "float32":  # never converts a caller's encoder
            encoder = frozen_copy(encoder, self.config.backbone_precision, copy=not loading)
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.head = build_head(int(encoder.config.hidden_size), self.config.head)
        self.name = name
        self.label_info = dict(label_info or {})
        self.training_metadata = dict(training_metadata or {})
        self.backbone_saved_from: str | None = None
        self.cache = EmbeddingCache(self.config.cache_size if self.config.freeze_backbone else 0)
        self.encoder.requires_grad_(not self.config.freeze_backbone)
        self.train(False)

    # -- tensors (training) -------------------------------------------------------------

    def train(self, mode: bool = True) -> EncoderHeadReward:
        """Like ``nn.Module.train``, but a frozen backbone always stays in eval mode."""
        super().train(mode)
        if self.config.freeze_backbone:
            self.encoder.eval()
        return self

    @property
    def device(self) -> torch.device:
        """Where the head's parameters live."""
        return next(self.head.parameters()).device

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
              token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled float32 embeddings ``(B, H)`` (with gradients unless the backbone is
        frozen), whatever ``backbone_precision`` the encoder runs at."""
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.freeze_backbone):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  **extra).last_hidden_state
        return pool(hidden.float(), attention_mask, self.config.pooling, self.config.normalize)

    def score_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Head scores ``(B,)`` for pooled embeddings ``(B, H)``."""
        return self.head(embeddings).squeeze(-1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Differentiable scores ``(B,)`` for a tokenized batch."""
        return self.score_embeddings(self.embed(input_ids, attention_mask, token_type_ids))

    def tokenize(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, Any]:
        """Padded model inputs for the pairs, in order, on this model's device."""
        check_pairs(prompts, responses, self)
        keys = text_keys(prompts, responses, self.config.input_format)
        pad_id = self.tokenizer.pad_token_id or 0
        return pad(tokenize(self.tokenizer, keys, self.config.max_length), pad_id, self.device)

    # -- numpy (evaluation) ---------------------------------------------------------------

    def _encode_keys(self, keys: Sequence[tuple[str, ...]]) -> np.ndarray:
        out = np.zeros((len(keys), int(self.encoder.config.hidden_size)), dtype=np.float32)
        for batch in length_sorted_batches(self.tokenizer, keys, max_length=self.config.max_length,
                                           batch_size=self.config.batch_size, device=self.device):
            out[batch.indices] = self.embed(**batch.tensors).float().cpu().numpy()
        return out

    def embed_texts(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Pooled embeddings ``(n, H)`` float32, no gradients, cached per text when frozen."""
        check_pairs(prompts, responses, self)
        keys = text_keys(prompts, responses, self.config.input_format)
        found, missing = self.cache.lookup(keys)
        if missing:
            was_training = self.training
            self.train(False)
            try:
                with torch.inference_mode():
                    fresh = self._encode_keys([keys[i] for i in missing])
            finally:
                self.train(was_training)
            for row, i in enumerate(missing):
                found[i] = fresh[row]
                self.cache.put(keys[i], fresh[row])
        if not keys:
            return np.zeros((0, int(self.encoder.config.hidden_size)), dtype=np.float32)
        return np.stack([v for v in found if v is not None])

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Scores ``(n,)`` float32 in eval mode, validated (NaN/inf/shape raise)."""
        emb = self.embed_texts(prompts, responses)
        was_training = self.training
        self.train(False)
        try:
            with torch.inference_mode():
                raw = self.score_embeddings(torch.from_numpy(emb).to(self.device))
        finally:
            self.train(was_training)
        return validate_scores(raw, len(responses), self)

    def at_precision(self, precision: str) -> EncoderHeadReward:
        """This model with its frozen backbone at ``precision`` (``backbone_precision``):
        ``self`` when it already runs there, else a new model with a converted copy of the
        backbone and a copy of the head (this one is left as it is)."""
        precision = check_precision("precision", precision)
        current = self.config.backbone_precision
        if precision == current:
            return self
        if current != "float32":
            raise ConfigError(f"{self.name!r} already runs its backbone at {current!r}; convert "
                              f"a float32 model to {precision!r} instead.")
        model = EncoderHeadReward(dataclasses.replace(self.config, backbone_precision=precision),
                                  encoder=self.encoder, tokenizer=self.tokenizer, name=self.name,
                                  label_info=self.label_info,
                                  training_metadata=self.training_metadata)
        model.head.load_state_dict(self.head.state_dict())
        model.backbone_source = self.backbone_source
        return model.to(self.device)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """``nn.Module.load_state_dict``; also empties the embedding cache."""
        self.cache.clear()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # -- folders --------------------------------------------------------------------------

    def save_pretrained(self, folder: str | Path, *, save_backbone: bool | None = None) -> Path:
        """Write ``config.json`` + ``head.safetensors`` (+ ``backbone/`` when fine-tuned).

        ``save_backbone=None`` saves the backbone exactly when it is not frozen (its weights
        may differ from the referenced ones).
        """
        from safetensors.torch import save

        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        if save_backbone is None:
            save_backbone = not self.config.freeze_backbone
        if save_backbone and self.config.backbone_precision != "float32":
            raise ConfigError(f"the backbone runs at {self.config.backbone_precision!r}, so its "
                              f"weights are no longer the float32 ones; save it with "
                              f"save_backbone=False (the folder then names the backbone).")
        if save_backbone:
            with atomic_folder(folder / BACKBONE_DIR) as tmp, quiet_hf():
                self.encoder.save_pretrained(tmp, safe_serialization=True)
                self.tokenizer.save_pretrained(tmp)
        head_state = {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}
        write_bytes(folder / HEAD_FILE, save(head_state, metadata={"format": FORMAT_NAME}))
        from rlhf_env import __version__

        source = self.backbone_source
        body = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "rlhf_env_version": __version__,
            "name": self.name,
            "hidden_size": int(self.encoder.config.hidden_size),
            "backbone_saved": bool(save_backbone),
            "backbone_source": None if source is None else source.kind,
            **self.config.to_dict(),
            "label_info": self.label_info,
            "training_metadata": self.training_metadata,
        }
        write_json(folder / CONFIG_FILE, body)  # written last: the folder is complete
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, device: Any = None,
                        backbone: str | Path | None = None,
                        **overrides: Any) -> EncoderHeadReward:
        """Load a folder written by :meth:`save_pretrained`. ``overrides`` replace config
        fields that do not change the weights (see :data:`LOAD_OVERRIDES`).

        ``backbone``: where the (unsaved) backbone lives now, when it has moved since the
        folder was saved; it must have the saved hidden size. A recorded local backbone that
        has gone raises :class:`ModelLoadError` at once, saying so.
        """
        from safetensors.torch import load_file

        fixed = sorted(set(overrides) - LOAD_OVERRIDES)
        if fixed:
            raise ConfigError(f"from_pretrained cannot override {fixed} (the saved weights "
                              f"depend on them); allowed: {sorted(LOAD_OVERRIDES)}.")

        folder = Path(folder).expanduser()
        body = read_composite(folder, FORMAT_NAME, FORMAT_VERSION, "an encoder-head reward model")
        names = {f.name for f in dataclasses.fields(EncoderHeadConfig)}
        config = EncoderHeadConfig.from_dict({k: v for k, v in body.items() if k in names})
        config = dataclasses.replace(config, **overrides) if overrides else config
        encoder = tokenizer = None
        if body.get("backbone_saved"):
            if backbone is not None:
                raise ConfigError(f"{folder} carries its own fine-tuned backbone (under "
                                  f"{BACKBONE_DIR}/); backbone= cannot replace it.")
            encoder, tokenizer = load_sentence_encoder(str(folder / BACKBONE_DIR))
        else:
            where = _saved_backbone(body, folder) if backbone is None else os.fspath(backbone)
            config = dataclasses.replace(config, backbone=where)
        model = cls(config, encoder=encoder, tokenizer=tokenizer,
                    name=body.get("name", folder.name), label_info=body.get("label_info"),
                    training_metadata=body.get("training_metadata"))
        _check_hidden_size(model, body, folder)
        try:
            model.head.load_state_dict(load_file(str(folder / HEAD_FILE)))
        except Exception as exc:  # safetensors' own error type is not an OSError
            raise ModelLoadError(f"could not load the head weights {folder / HEAD_FILE} "
                                 f"({exc}). The folder may be incomplete; save it again.") from exc
        if device is not None:
            model.to(device)
        return model


def _backbone_source(backbone: str, *, strict: bool) -> ModelSource | None:
    """Where ``backbone`` lives (local folders as absolute paths). ``strict=False`` (an
    encoder object was passed, so nothing is loaded from there) never raises."""
    try:
        return model_source(backbone)
    except ModelLoadError:
        if strict:
            raise
        return None


def _saved_backbone(body: dict[str, Any], folder: Path) -> str:
    """The recorded backbone, checked: a recorded local folder that has gone raises now."""
    recorded = str(body.get("backbone", ""))
    kind = body.get("backbone_source")
    if kind == "local" or (kind is None and looks_like_path(recorded)):
        return check_source(ModelSource("local", recorded), what="its backbone",
                            saved_in=folder, override="backbone")
    return recorded


def _check_hidden_size(model: EncoderHeadReward, body: dict[str, Any], folder: Path) -> None:
    saved, now = body.get("hidden_size"), int(model.encoder.config.hidden_size)
    if saved is not None and int(saved) != now:
        raise ModelLoadError(f"{folder} holds a head for {saved}-wide embeddings but the "
                             f"backbone {model.config.backbone!r} gives {now}; load it with the "
                             f"backbone it was trained on.")
