"""The prompt as the policy sees it, and the token that ends a response.

Every stage that feeds a prompt to the policy goes through :func:`encode_prompt`: the envs
(``RLHF-Text-v0``, ``RLHF-TextToken-v0``), SFT, best-of-n and the token-level PPO trainer
(through the env's observations). So SFT trains on exactly the context PPO samples from, by
construction: same chat template, same system prompt, same special tokens, same truncation.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from rlhf_env.errors import ConfigError


def format_prompt(tokenizer: Any, prompt: str, use_chat_template: bool | None = None,
                  system: str | None = None) -> str:
    """The text a policy sees for ``prompt``: chat-formatted with a generation prompt when the
    tokenizer has a chat template (``use_chat_template=None`` means "if available")."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if use_chat_template is None:
        use_chat_template = has_template
    if not use_chat_template:
        return prompt
    if not has_template:
        raise ConfigError(
            "use_chat_template=True but the tokenizer has no chat template; pass "
            "use_chat_template=False or a tokenizer of an instruct model."
        )
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}
    ]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


class EncodedPrompt(NamedTuple):
    """A prompt's token ids as the policy sees them."""

    ids: np.ndarray
    """int64 ``(n,)``: the formatted prompt's ids, its last ``max_tokens`` when it was longer."""
    length: int
    """Token count of the formatted prompt before truncation."""

    @property
    def truncated(self) -> bool:
        """Whether leading tokens were cut to fit ``max_tokens``."""
        return self.length > self.ids.size


def encode_prompt(tokenizer: Any, prompt: str, *, use_chat_template: bool | None = None,
                  system_prompt: str | None = None,
                  max_tokens: int | None = None) -> EncodedPrompt:
    """Token ids of ``prompt`` as the policy sees it.

    Formatting is :func:`format_prompt` (the chat template with a generation prompt when the
    tokenizer has one, or when ``use_chat_template=True``; ``system_prompt`` as the system
    message). A chat-formatted prompt already holds its special tokens, so none are added;
    a plain prompt gets the tokenizer's usual ones. A prompt longer than ``max_tokens``
    keeps its last tokens (where the question and the generation prompt are).
    """
    text = format_prompt(tokenizer, prompt, use_chat_template, system_prompt)
    ids = np.asarray(tokenizer.encode(text, add_special_tokens=text == prompt), dtype=np.int64)
    if max_tokens is not None and max_tokens < 1:
        raise ConfigError(f"max_tokens must be ≥ 1 (or None), got {max_tokens}.")
    kept = ids if max_tokens is None or ids.size <= max_tokens else ids[-max_tokens:]
    return EncodedPrompt(kept, int(ids.size))


def eos_token_id(tokenizer: Any) -> int:
    """The id of the token that ends a response, or a :class:`ConfigError` saying how to set
    one (BERT-style tokenizers have none)."""
    if tokenizer.eos_token_id is None:
        raise ConfigError("the tokenizer has no EOS token, so a response could never end; set "
                          "one with `tokenizer.eos_token = ...` (the token the model emits at "
                          "the end of a response).")
    return int(tokenizer.eos_token_id)
