"""A trained LM policy as a ``save_pretrained`` folder that plain transformers / peft load.

Layout (one folder, replaced whole on every save)::

    config.json, model.safetensors, …    full weights (transformers' own save_pretrained)
    adapter_config.json,                  or, with LoRA, only the adapters (peft's save);
      adapter_model.safetensors             their base model is recorded, not copied
    tokenizer.json, tokenizer_config.json …
    value_head.safetensors                the scalar value head (``weight``, ``bias``)
    rlhf_env_policy.json                  what it is: see below

``rlhf_env_policy.json`` records the format and rlhf-env version, ``"weights"``
(``"full"`` or ``"lora"``), the base model it started from as a
:class:`~rlhf_env.models.ModelSource` (a bundled name, a hub id or an **absolute** path, so
the folder loads from any working directory), the LoRA settings, the value head's shape and
anything the caller adds (the trainer adds its config and step).

Plain libraries read it without rlhf-env: ``AutoModelForCausalLM.from_pretrained(folder)``
(full weights) or ``AutoPeftModelForCausalLM.from_pretrained(folder)`` (LoRA; the adapter
config names the base model's absolute folder or hub id), ``AutoTokenizer`` and
``safetensors.torch.load_file(folder + "/value_head.safetensors")``.

This is the export of a trained policy. Resuming a run exactly (optimizer, random states,
metrics) is :mod:`agents.token_ppo.checkpoint`'s job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlhf_env.errors import ConfigError, MissingDependencyError, ModelLoadError
from rlhf_env.files import read_json, saved_model_folder, write_bytes, write_json
from rlhf_env.models import ModelSource, check_source, load_causal_lm, model_source
from rlhf_env.quiet import quiet_hf

FORMAT = "rlhf_env.policy"
FORMAT_VERSION = 1
INFO_FILE = "rlhf_env_policy.json"
VALUE_HEAD_FILE = "value_head.safetensors"
_MARKERS = (INFO_FILE, "config.json", "adapter_config.json")


@dataclass(frozen=True)
class PolicyFolder:
    """What ``rlhf_env_policy.json`` says about a saved policy folder."""

    path: Path
    """The folder (absolute)."""
    info: dict[str, Any]
    """The parsed ``rlhf_env_policy.json``."""

    @property
    def lora(self) -> dict[str, Any] | None:
        """``{"r", "alpha", "target_modules"}`` for LoRA adapters, ``None`` for full weights."""
        lora = self.info.get("lora")
        return lora if self.info.get("weights") == "lora" and isinstance(lora, dict) else None

    @property
    def base_model(self) -> ModelSource | None:
        """Where the base model lives (``None`` when the folder does not say)."""
        base = self.info.get("base_model")
        return None if base is None else ModelSource.from_dict(base)


def is_policy_folder(folder: Any) -> bool:
    """Whether ``folder`` (a path or string) holds a policy saved here."""
    try:
        return (Path(folder).expanduser() / INFO_FILE).is_file()
    except (TypeError, ValueError, OSError):
        return False


def base_model_source(name_or_path: str | None, lm: Any) -> ModelSource | None:
    """The source to record for a policy's base model: ``name_or_path`` (what the user
    loaded it by) or else the model's own ``name_or_path``; ``None`` when neither names a
    place the model can be loaded from again (a model built from a config)."""
    for candidate in (name_or_path, getattr(lm, "name_or_path", None)):
        if isinstance(candidate, str) and candidate.strip():
            try:
                return model_source(candidate)
            except ModelLoadError:
                continue
    return None


def save_policy_folder(folder: str | Path, *, lm: Any, value_head: Any, tokenizer: Any,
                       base_model: ModelSource | None, metadata: dict[str, Any] | None = None
                       ) -> Path:
    """Write ``lm`` (full weights, or its LoRA adapters if it is a peft model), the value
    head, the tokenizer and ``rlhf_env_policy.json`` to ``folder`` (module docstring)."""
    from safetensors.torch import save

    from rlhf_env import __version__

    if tokenizer is None:
        raise ConfigError("save_pretrained needs the policy's tokenizer (tokenizer=...): a "
                          "folder without one cannot be used to generate text.")
    lora = _lora_settings(lm)
    if lora is not None and base_model is None:
        raise ConfigError("the policy's LoRA adapters need their base model to be loaded again, "
                          "but it is not known; build the policy with base_model='<bundled "
                          "name, folder or hub id>' (the trainer does this from config.model).")
    folder = Path(folder).expanduser()
    head = {k: v.detach().cpu().contiguous() for k, v in value_head.state_dict().items()}
    info = {"format": FORMAT, "format_version": FORMAT_VERSION, "rlhf_env_version": __version__,
            "weights": "full" if lora is None else "lora",
            "base_model": None if base_model is None else base_model.to_dict(), "lora": lora,
            "value_head": {"file": VALUE_HEAD_FILE,
                           "in_features": int(value_head.in_features),
                           "out_features": int(value_head.out_features)},
            **(metadata or {})}
    with saved_model_folder(folder, _MARKERS) as tmp, quiet_hf():
        with _recorded_base(lm, base_model):
            lm.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_bytes(tmp / VALUE_HEAD_FILE, save(head, metadata={"format": FORMAT}))
        write_json(tmp / INFO_FILE, info)
    return folder


def read_policy_folder(folder: str | Path) -> PolicyFolder:
    """Parse and check a saved policy folder's ``rlhf_env_policy.json``."""
    path = Path(folder).expanduser().resolve()
    info = read_json(path / INFO_FILE, default=None)
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ModelLoadError(f"{path} is not a policy folder saved by rlhf-env (no {INFO_FILE} "
                             f"with \"format\": {FORMAT!r}). A plain causal-LM folder loads "
                             f"with load_causal_lm().")
    if int(info.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelLoadError(f"{path} was written by a newer rlhf-env (format version "
                             f"{info['format_version']}); upgrade rlhf-env to load it.")
    return PolicyFolder(path, info)


def load_policy_lm(saved: PolicyFolder, *, base_model: str | Path | None = None,
                   dtype: Any = None, device: Any = None) -> Any:
    """The saved causal LM: full weights from the folder, or the base model (recorded, or
    ``base_model`` when it has moved) with the saved LoRA adapters on it, trainable."""
    if saved.lora is None:
        return load_causal_lm(str(saved.path), dtype=dtype, device=device)
    if base_model is not None:
        where = str(base_model)
    elif saved.base_model is not None:
        where = check_source(saved.base_model, what="its base model", saved_in=saved.path,
                             override="base_model")
    else:
        raise ModelLoadError(f"{saved.path} holds LoRA adapters but records no base model; "
                             f"pass base_model='<bundled name, folder or hub id>'.")
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise MissingDependencyError("peft", "loading LoRA adapters",
                                     "pip install 'rlhf-env[lora]'") from exc
    base = load_causal_lm(where, dtype=dtype, device=device)
    with quiet_hf():
        return PeftModel.from_pretrained(base, str(saved.path), is_trainable=True).eval()


def load_value_head_state(saved: PolicyFolder) -> dict[str, Any]:
    """The value head's ``state_dict`` (``weight``, ``bias``)."""
    from safetensors.torch import load_file

    try:
        return load_file(str(saved.path / VALUE_HEAD_FILE))
    except Exception as exc:  # safetensors' own error type is not an OSError
        raise ModelLoadError(f"could not read the value head {saved.path / VALUE_HEAD_FILE} "
                             f"({exc}); the folder is incomplete, save it again.") from None


def _lora_settings(lm: Any) -> dict[str, Any] | None:
    config = getattr(lm, "peft_config", None)
    if not isinstance(config, dict) or not config:
        return None
    active = config.get(getattr(lm, "active_adapter", "default")) or next(iter(config.values()))
    targets = active.target_modules
    return {"r": int(active.r), "alpha": int(active.lora_alpha),
            "target_modules": sorted(targets) if isinstance(targets, (set, list, tuple))
            else targets}


@contextlib.contextmanager
def _recorded_base(lm: Any, base: ModelSource | None) -> Iterator[None]:
    """While saving, let peft's ``adapter_config.json`` name a base model that plain peft can
    load (an absolute folder or a hub id; a bundled model's converted cache folder)."""
    config = getattr(lm, "peft_config", None)
    location = _loadable_location(base)
    if not isinstance(config, dict) or location is None:
        yield
        return
    previous = {name: c.base_model_name_or_path for name, c in config.items()}
    for c in config.values():
        c.base_model_name_or_path = location
    try:
        yield
    finally:
        for name, c in config.items():
            c.base_model_name_or_path = previous[name]


def _loadable_location(base: ModelSource | None) -> str | None:
    if base is None:
        return None
    if base.kind != "bundled":
        return base.location
    from rlhf_env.models import BUNDLED, bundled_model_dir
    from rlhf_env.models.cache import CacheNotWritableError

    spec = BUNDLED[base.location]
    if not spec.gguf:  # the tiny test models are built from a config: no folder to name
        return None
    try:
        return str(bundled_model_dir(spec.name))
    except CacheNotWritableError:
        return None


__all__ = [
    "FORMAT",
    "INFO_FILE",
    "VALUE_HEAD_FILE",
    "PolicyFolder",
    "base_model_source",
    "is_policy_folder",
    "load_policy_lm",
    "load_value_head_state",
    "read_policy_folder",
    "save_policy_folder",
]
