"""Saved reward-model folders: recognising them (no torch import) and the parts that the
composite models (ensembles, normalised models) share.

Every folder written here has a ``config.json`` whose ``"format"`` names the class that
loads it (see :data:`rlhf_env.rewards.registry.FOLDER_FORMATS`). A composite saves each
member it wraps into a subfolder with the member's own ``save_pretrained``, so the folder
is self-contained; a member that cannot be saved but was given by name (``"vader"``) is
recorded by that name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

FORMAT_NAME = "rlhf_env.encoder_head"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
HEAD_FILE = "head.safetensors"
BACKBONE_DIR = "backbone"


def read_folder_config(folder: str | Path) -> dict[str, Any] | None:
    """The parsed ``config.json`` of ``folder``, or ``None`` if there is none or it is not JSON."""
    import json

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


def member_spec(spec: Any) -> str | None:
    """What to record for a member given as ``spec``: a name or hub id as is, an existing
    folder as its absolute path, anything that is not a string ``None``."""
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str):
        return None
    path = Path(spec).expanduser()
    return str(path.resolve()) if path.exists() else spec


def save_member(model: Any, spec: str | None, parent: Path, subfolder: str,
                owner: str) -> dict[str, str]:
    """Save a wrapped reward model under ``parent / subfolder`` and return its entry for the
    parent's ``config.json``: ``{"folder": subfolder}``, or ``{"spec": name}`` for a model
    without ``save_pretrained`` that was given by name."""
    from rlhf_env.errors import ConfigError
    from rlhf_env.rewards.base import describe

    if callable(getattr(model, "save_pretrained", None)):
        model.save_pretrained(parent / subfolder)
        return {"folder": subfolder}
    if spec is not None:
        return {"spec": spec}
    raise ConfigError(
        f"{owner} cannot save its member {describe(model)!r}: it has no save_pretrained() and "
        f"was not given by name. Give it by a registered name (register_reward_model) or save "
        f"it yourself and pass its folder.")


def load_member(entry: Any, folder: Path) -> Any:
    """The reward model that :func:`save_member` recorded as ``entry`` in ``folder``."""
    from rlhf_env.errors import ModelLoadError
    from rlhf_env.rewards.registry import make_reward_model

    if isinstance(entry, dict) and isinstance(entry.get("folder"), str):
        sub = (folder / entry["folder"]).resolve()
        if folder.resolve() not in sub.parents:
            raise ModelLoadError(f"{folder}: member folder {entry['folder']!r} points outside "
                                 f"the saved folder.")
        return make_reward_model(str(sub))
    if isinstance(entry, dict) and isinstance(entry.get("spec"), str):
        return make_reward_model(entry["spec"])
    raise ModelLoadError(f"{folder}: a member entry must be {{'folder': ...}} or {{'spec': ...}}, "
                         f"got {entry!r}; the folder's config.json is damaged.")


def composite_header(format_name: str, version: int) -> dict[str, Any]:
    """The first keys of a composite folder's ``config.json``."""
    from rlhf_env import __version__

    return {"format": format_name, "format_version": version, "rlhf_env_version": __version__}


def read_composite(folder: str | Path, format_name: str, version: int,
                   what: str | None = None) -> dict[str, Any]:
    """A saved reward-model folder's ``config.json``, checked for its format and version
    (``what`` names the kind of folder in the error, e.g. "an encoder-head reward model")."""
    from rlhf_env.errors import ModelLoadError

    body = read_folder_config(folder)
    if body is None or body.get("format") != format_name:
        raise ModelLoadError(f"{folder} is not {what or f'a saved {format_name}'} folder: its "
                             f"config.json is missing or lacks \"format\": {format_name!r}.")
    if int(body.get("format_version", 0)) > version:
        raise ModelLoadError(f"{folder} was written by a newer rlhf-env (format version "
                             f"{body['format_version']}); upgrade rlhf-env to load it.")
    return body
