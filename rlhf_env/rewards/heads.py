"""Small scoring heads that turn a pooled text embedding into one scalar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlhf_env.errors import ConfigError
from rlhf_env.validation import check_fields, fail

HEAD_KINDS = ("linear", "mlp")
ACTIVATIONS = ("gelu", "relu", "tanh")


@dataclass(frozen=True)
class HeadConfig:
    """Shape of the head on top of the pooled embedding."""

    kind: str = "linear"
    """``"linear"`` (one affine layer) or ``"mlp"`` (hidden layers, then one output)."""
    hidden_sizes: tuple[int, ...] = (256,)
    """Widths of the MLP's hidden layers (ignored for ``"linear"``)."""
    activation: str = "gelu"
    """MLP non-linearity: ``"gelu"``, ``"relu"`` or ``"tanh"``."""
    dropout: float = 0.0
    """Dropout before each MLP layer (active only in training mode)."""

    def __post_init__(self) -> None:
        check_fields(self)
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))
        if self.kind not in HEAD_KINDS:
            raise ConfigError(f"head kind must be one of {HEAD_KINDS}, got {self.kind!r}.")
        if self.kind == "mlp" and (not self.hidden_sizes or min(self.hidden_sizes) < 1):
            raise ConfigError(f"an MLP head needs positive hidden_sizes, got "
                              f"{self.hidden_sizes!r}.")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {ACTIVATIONS}, got "
                              f"{self.activation!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}.")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | HeadConfig) -> HeadConfig:
        """Build from a dict (as stored in ``config.json``); a HeadConfig is returned as is."""
        if isinstance(data, HeadConfig):
            return data
        if not isinstance(data, dict):
            raise fail("head", data, "a HeadConfig or a dict of its settings")
        known = {"kind", "hidden_sizes", "activation", "dropout"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown head settings {sorted(unknown)}; known: {sorted(known)}.")
        return cls(**data)


def build_head(in_features: int, config: HeadConfig) -> Any:
    """A ``torch.nn.Module`` mapping ``(B, in_features)`` to ``(B, 1)``."""
    from torch import nn

    if config.kind == "linear":
        return nn.Linear(in_features, 1)
    act = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh}[config.activation]
    layers: list[nn.Module] = []
    width = in_features
    for hidden in config.hidden_sizes:
        layers += [nn.Dropout(config.dropout), nn.Linear(width, hidden), act()]
        width = hidden
    layers += [nn.Dropout(config.dropout), nn.Linear(width, 1)]
    return nn.Sequential(*layers)
