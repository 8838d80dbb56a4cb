"""``encode_prompt`` (the prompt as the policy sees it) and ``eos_token_id``."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.errors import ConfigError
from rlhf_env.models import encode_prompt, eos_token_id, format_prompt, load_tokenizer


@pytest.fixture
def tok():
    return load_tokenizer("tiny-random-llama")


def test_chat_prompts_get_no_extra_special_tokens_and_plain_prompts_do(tok):
    chat = encode_prompt(tok, "hi", system_prompt="Be kind.")
    want = tok.encode(format_prompt(tok, "hi", system="Be kind."), add_special_tokens=False)
    assert chat.ids.dtype == np.int64
    assert chat.ids.tolist() == want
    assert not chat.truncated and chat.length == len(want)
    plain = encode_prompt(tok, "hi", use_chat_template=False)
    assert plain.ids.tolist() == tok.encode("hi", add_special_tokens=True)


def test_long_prompts_keep_their_last_tokens(tok):
    full = encode_prompt(tok, "Describe your day in detail.")
    cut = encode_prompt(tok, "Describe your day in detail.", max_tokens=5)
    assert cut.truncated and cut.length == full.length > 5
    assert cut.ids.tolist() == full.ids.tolist()[-5:]  # the generation prompt survives
    same = encode_prompt(tok, "hi", max_tokens=full.length + 100)
    assert not same.truncated
    with pytest.raises(ConfigError, match="max_tokens must be ≥ 1"):
        encode_prompt(tok, "hi", max_tokens=0)


def test_eos_token_id_or_how_to_set_one(tok):
    assert eos_token_id(tok) == tok.eos_token_id
    tok.eos_token = None
    with pytest.raises(ConfigError, match=r"no EOS token, so a response could never end; set "
                                          r"one with `tokenizer.eos_token = \.\.\.`"):
        eos_token_id(tok)
