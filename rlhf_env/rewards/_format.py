"""Recognising folders written by :meth:`EncoderHeadReward.save_pretrained` (no torch import)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FORMAT_NAME = "rlhf_env.encoder_head"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
HEAD_FILE = "head.safetensors"
BACKBONE_DIR = "backbone"


def read_folder_config(folder: str | Path) -> dict[str, Any] | None:
    """The parsed ``config.json`` of ``folder``, or ``None`` if there is none or it is not JSON."""
    path = Path(folder).expanduser() / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_encoder_head_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds an encoder-head reward model (our ``config.json`` marker)."""
    data = read_folder_config(folder)
    return data is not None and data.get("format") == FORMAT_NAME
