"""Finding reward models by name, path, hub id or object: :func:`make_reward_model`.

Names come from three places, in this order of precedence:

1. models registered in this process with :func:`register_reward_model`;
2. the built-in names (``sentiment``, ``vader``, ``keyword``, ``length``);
3. third-party packages, through the ``rlhf_env.reward_models`` entry-point group. An entry
   point names a factory (a function or class called with the keyword arguments given to
   :func:`make_reward_model`) or a ready reward-model object. Entry points are only imported
   when their name is asked for::

       [project.entry-points."rlhf_env.reward_models"]
       toxicity = "my_package.rewards:make_toxicity_reward"
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlhf_env.errors import ConfigError, ModelLoadError, UnknownNameError
from rlhf_env.models.sources import looks_like_path
from rlhf_env.rewards._format import CONFIG_FILE, read_folder_config
from rlhf_env.rewards.callable import CallableReward
from rlhf_env.validation import call_with_kwargs

ENTRY_POINT_GROUP = "rlhf_env.reward_models"

Factory = Callable[..., Any] | str
"""A callable returning a reward model, or its import path ``"package.module:attribute"``."""

BUILTIN: dict[str, str] = {
    "sentiment": "rlhf_env.rewards.builtin:sentiment",
    "vader": "rlhf_env.rewards.builtin:vader",
    "keyword": "rlhf_env.rewards.builtin:keyword",
    "length": "rlhf_env.rewards.builtin:length",
}

_REGISTRY: dict[str, Factory] = {}


def register_reward_model(name: str, factory: Factory, overwrite: bool = False) -> None:
    """Make ``make_reward_model(name, **kwargs)`` return ``factory(**kwargs)``.

    ``factory`` may be an import path ``"module:attr"`` (imported on first use). Registering
    an existing name raises :class:`ConfigError` unless ``overwrite=True``.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"a reward model name must be a non-empty string, got {name!r}.")
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise ConfigError(f"factory for {name!r} must be callable or a 'module:attr' string, "
                          f"got {factory!r}.")
    if not overwrite and (name in _REGISTRY or name in BUILTIN):
        raise ConfigError(f"a reward model named {name!r} is already registered; pass "
                          f"overwrite=True to replace it.")
    _REGISTRY[name] = factory


def _entry_points() -> dict[str, Any]:
    """Entry points of the plug-in group by name (first one wins), not loaded."""
    found: dict[str, Any] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return found


def list_reward_models() -> list[str]:
    """Every name :func:`make_reward_model` accepts: registered, built-in and plug-in."""
    return sorted(set(_REGISTRY) | set(BUILTIN) | set(_entry_points()))


def _import_path(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


def _distribution_of(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "an unknown distribution"
    version = getattr(dist, "version", "")
    return f"the distribution {dist.name!r}" + (f" (version {version})" if version else "")


def _load_entry_point(ep: Any) -> Any:
    try:
        return ep.load()
    except Exception as exc:
        who = _distribution_of(ep)
        raise ModelLoadError(
            f"the reward model {ep.name!r} is provided by {who} through the entry point "
            f"'{ep.name} = {ep.value}' in group {ENTRY_POINT_GROUP!r}, but importing it failed "
            f"({type(exc).__name__}: {exc}). Reinstall or upgrade that package, or uninstall "
            f"it to drop the name."
        ) from exc


def _build(name: str, target: Any, kwargs: dict[str, Any]) -> Any:
    """Call a factory (or class) with ``kwargs``; a ready object is returned as is."""
    if isinstance(target, type) or (callable(target) and not hasattr(target, "score")):
        return call_with_kwargs("reward_kwargs", target, kwargs, f"the reward model {name!r}")
    if hasattr(target, "score"):
        if kwargs:
            raise ConfigError(f"the reward model {name!r} is a ready object; it takes no "
                              f"keyword arguments, got {sorted(kwargs)}.")
        return target
    raise ConfigError(f"the reward model {name!r} resolved to {target!r}, which is neither a "
                      f"factory nor an object with a score() method.")


def _from_name(name: str, kwargs: dict[str, Any]) -> Any | None:
    """The reward model registered under ``name``, or ``None`` if no such name exists."""
    target: Any = _REGISTRY.get(name) or BUILTIN.get(name)
    if target is not None:
        return _build(name, _import_path(target) if isinstance(target, str) else target, kwargs)
    ep = _entry_points().get(name)
    if ep is not None:
        return _build(name, _load_entry_point(ep), kwargs)
    return None


FOLDER_FORMATS: dict[str, str] = {
    "rlhf_env.encoder_head": "rlhf_env.rewards.encoder_head:EncoderHeadReward",
    "rlhf_env.annotator_conditioned":
        "rlhf_env.feedback.learning.training.conditioned:AnnotatorConditionedReward",
    "rlhf_env.ensemble": "rlhf_env.rewards.ensemble:EnsembleReward",
    "rlhf_env.normalized": "rlhf_env.rewards.normalize:NormalizedReward",
}
"""Saved-folder formats (the ``"format"`` key of ``config.json``) → the class whose
``from_pretrained(folder, **kwargs)`` loads them. Strings, so nothing imports until used."""


def register_folder_format(format_name: str, loader: str, overwrite: bool = False) -> None:
    """Let :func:`make_reward_model` load folders whose config says ``"format": format_name``
    with ``loader`` (``"module:Class"``, a class with ``from_pretrained(folder, **kwargs)``)."""
    if format_name in FOLDER_FORMATS and not overwrite:
        raise ConfigError(f"the folder format {format_name!r} is registered already; pass "
                          f"overwrite=True to replace it.")
    FOLDER_FORMATS[format_name] = loader


def _from_folder(folder: Path, kwargs: dict[str, Any]) -> Any:
    config = read_folder_config(folder)
    loader = FOLDER_FORMATS.get(str((config or {}).get("format")))
    if loader is not None:
        return _import_path(loader).from_pretrained(folder, **kwargs)
    if (folder / CONFIG_FILE).is_file():
        from rlhf_env.rewards.hf_classifier import HFClassifierReward

        return HFClassifierReward.from_pretrained(folder, **kwargs)
    raise ModelLoadError(
        f"{folder} has no config.json, so it is neither a reward model saved here (formats: "
        f"{', '.join(FOLDER_FORMATS)}) nor a Hugging Face classifier folder."
    )


def _from_string(spec: str, kwargs: dict[str, Any]) -> Any:
    model = _from_name(spec, kwargs)
    if model is not None:
        return model
    path = Path(spec).expanduser()
    if path.is_dir():
        return _from_folder(path, kwargs)
    if path.exists():
        raise ModelLoadError(f"{spec!r} is a file; pass the folder that holds the reward model.")
    if looks_like_path(spec):  # a path never goes to the hub
        raise ModelLoadError(
            f"there is no reward-model folder at {spec!r} (looked in {path.resolve()}, from "
            f"the working directory {Path.cwd()}). Pass an existing folder saved with "
            f"save_pretrained, a name ({', '.join(list_reward_models())}) or a hub id.")
    if spec.count("/") == 1:
        from rlhf_env.rewards.hf_classifier import HFClassifierReward

        return HFClassifierReward(spec, **kwargs)
    raise UnknownNameError(
        "reward model", spec, list_reward_models(),
        hint="Or pass a folder saved with save_pretrained, a Hugging Face Hub id "
             "('owner/name'), a function fn(prompts, responses) or an object with .score().",
    )


def check_reward_spec(spec: Any, field: str = "reward_model") -> Any:
    """Validate a reward-model spec without loading it (for configs); returns it normalised.

    ``None``, an object with ``score``, a class or a callable pass as they are. A string
    must be a known name, an existing folder (returned as its absolute path, so it still
    works after a change of working directory), or a hub id ``owner/name``; anything else
    raises :class:`ConfigError` (or :class:`UnknownNameError` with close names) saying what
    ``field`` accepts.
    """
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if spec is None or hasattr(spec, "score") or (callable(spec) and not isinstance(spec, str)):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"{field} must be a reward-model name, a folder, a hub id, a function "
                          f"fn(prompts, responses) or an object with score(); got "
                          f"{type(spec).__name__}.")
    if not spec.strip():
        raise ConfigError(f"{field} must not be empty; pass a name ({', '.join(BUILTIN)}), a "
                          f"folder or a hub id, or None for the task's own reward model.")
    if spec in _REGISTRY or spec in BUILTIN or spec in _entry_points():
        return spec
    path = Path(spec).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if path.exists():
        raise ConfigError(f"{field}={spec!r} is a file; pass the folder that holds the reward "
                          f"model.")
    if looks_like_path(spec):
        raise ConfigError(f"{field}={spec!r}: there is no folder at {path.resolve()} (from the "
                          f"working directory {Path.cwd()}).")
    if spec.count("/") == 1:
        return spec
    raise UnknownNameError("reward model", spec, list_reward_models(),
                           hint=f"{field} also takes a folder saved with save_pretrained, a "
                                f"hub id ('owner/name'), a function or an object with score().")


def make_reward_model(spec: Any, **kwargs: Any) -> Any:
    """Turn ``spec`` into a reward model (an object with ``score(prompts, responses)``).

    ``spec`` may be: an object with ``.score`` (returned as is); a callable (wrapped in
    :class:`~rlhf_env.rewards.CallableReward`, ``kwargs`` go to it); a registered, built-in or
    plug-in name; a folder (an encoder-head model when its ``config.json`` says so, otherwise
    a Hugging Face sequence classifier); or a Hub id ``owner/name`` (a classifier).

    >>> make_reward_model("length", target_words=3).score(["q"], ["one two three"]).tolist()
    [1.0]
    """
    if hasattr(spec, "score") and not isinstance(spec, type):
        if kwargs:
            raise ConfigError(f"{type(spec).__name__} is already a reward model; keyword "
                              f"arguments {sorted(kwargs)} cannot apply to it.")
        return spec
    if isinstance(spec, type) and hasattr(spec, "score"):
        return call_with_kwargs("reward_kwargs", spec, kwargs,
                                f"the reward model {spec.__name__}")
    if isinstance(spec, os.PathLike):
        return _from_string(os.fspath(spec), kwargs)
    if isinstance(spec, str):
        return _from_string(spec, kwargs)
    if callable(spec):
        return CallableReward(spec, **kwargs)
    raise ConfigError(
        f"cannot make a reward model from {type(spec).__name__}; pass a name "
        f"({', '.join(list_reward_models())}), a folder, a Hub id, a function or an object "
        f"with a score(prompts, responses) method."
    )
