"""Loading language models, tokenizers and sentence encoders.

Bundled names work offline (see :data:`BUNDLED`); local paths and hub ids go through the same
functions. Heavy libraries load on first call, so importing this package is cheap.
:func:`encode_prompt` is the one definition of "the prompt as the policy sees it" and
:func:`eos_token_id` the one of "the token that ends a response", :func:`frozen_copy` the one
way to run a frozen model at a lower precision (:mod:`.precision`). :mod:`.sources` records
where a model came from, so saved folders find it again from any working directory.
"""

from __future__ import annotations

from rlhf_env.models.bundled import (
    BUNDLED,
    DEFAULT_ENCODER,
    DEFAULT_POLICY_MODEL,
    BundledModel,
    list_bundled_models,
)
from rlhf_env.models.cache import cache_root
from rlhf_env.models.loading import (
    bundled_model_dir,
    load_causal_lm,
    load_sentence_encoder,
    load_tokenizer,
    mean_pool,
    prepare_tokenizer,
)
from rlhf_env.models.precision import PRECISIONS, check_precision, frozen_copy, model_precision
from rlhf_env.models.prompt import EncodedPrompt, encode_prompt, eos_token_id, format_prompt
from rlhf_env.models.sources import ModelSource, check_source, looks_like_path, model_source
from rlhf_env.models.tiny import tiny_causal_lm, tiny_encoder, tiny_tokenizer

__all__ = [
    "BUNDLED",
    "DEFAULT_ENCODER",
    "DEFAULT_POLICY_MODEL",
    "PRECISIONS",
    "BundledModel",
    "EncodedPrompt",
    "ModelSource",
    "bundled_model_dir",
    "cache_root",
    "check_precision",
    "check_source",
    "encode_prompt",
    "eos_token_id",
    "format_prompt",
    "frozen_copy",
    "list_bundled_models",
    "load_causal_lm",
    "load_sentence_encoder",
    "load_tokenizer",
    "looks_like_path",
    "mean_pool",
    "model_precision",
    "model_source",
    "prepare_tokenizer",
    "tiny_causal_lm",
    "tiny_encoder",
    "tiny_tokenizer",
]
