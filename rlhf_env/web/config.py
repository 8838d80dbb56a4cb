"""``ServeConfig``: the settings of ``rlhf-env serve``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rlhf_env.errors import ConfigError
from rlhf_env.validation import check_fields, check_float, check_folder

MAX_LEASE_S = 7 * 24 * 3600.0
"""Longest lease: a week (an infinite lease would keep an abandoned item away for good)."""


@dataclass(frozen=True)
class ServeConfig:
    """How the labeling server hands out items and what it accepts."""

    lease_s: float = 600.0
    """Seconds an item shown to an annotator stays reserved for them; after that an
    abandoned item goes back to the queue. Ten minutes covers reading a long response."""
    max_leases: int = 3
    """Most items one annotator holds at once: the one on screen plus the prefetched ones.
    Small, so a closed tab keeps few items away from others."""
    shuffle: bool = True
    """Show responses in a per-annotator random order (stored with each answer), so a
    preference for the left side averages out instead of biasing the data."""
    instructions_dir: Path | None = None
    """Folder of Markdown instructions, ``<task>.md`` per task and ``default.md`` for the
    rest; rendered with raw HTML disabled."""
    clip_dir: Path | None = None
    """Clips may be served only from this folder (default: ``clips/`` next to the store);
    clips pushed through the API are saved here."""
    max_body_bytes: int = 1_000_000
    """Largest JSON request body accepted (413 above it); clip uploads use
    ``max_clip_bytes``."""
    max_clip_bytes: int = 50_000_000
    """Largest clip upload accepted."""
    max_text_chars: int = 20_000
    """Longest text an annotator may write (a correction or a demonstration)."""
    fast_label_s: float = 2.0
    """The dashboard flags an annotator whose median time per label is below this."""
    one_side_share: float = 0.9
    """The dashboard flags an annotator who picks the same screen side in at least this
    share of their (at least ``min_flag_labels``) non-tie comparisons."""
    min_flag_labels: int = 10
    """Labels an annotator needs before the dashboard judges their speed or side bias."""

    def __post_init__(self) -> None:
        check_fields(self)
        check_float("ServeConfig.lease_s", self.lease_s, minimum=0.0, exclusive_min=True,
                    maximum=MAX_LEASE_S)
        check_float("ServeConfig.fast_label_s", self.fast_label_s, minimum=0.0)
        if self.instructions_dir is not None:
            object.__setattr__(self, "instructions_dir",
                               check_folder("instructions", self.instructions_dir))
        if self.clip_dir is not None:
            object.__setattr__(self, "clip_dir",
                               check_folder("clips", self.clip_dir, may_be_missing=True))
        if self.max_leases < 1:
            raise ConfigError(f"ServeConfig.max_leases must be >= 1, got {self.max_leases}.")
        for name in ("max_body_bytes", "max_clip_bytes", "max_text_chars", "min_flag_labels"):
            if getattr(self, name) < 1:
                raise ConfigError(f"ServeConfig.{name} must be >= 1, got {getattr(self, name)}.")
        if not 0.5 < self.one_side_share <= 1.0:
            raise ConfigError(
                f"ServeConfig.one_side_share must be in (0.5, 1], got {self.one_side_share}."
            )
