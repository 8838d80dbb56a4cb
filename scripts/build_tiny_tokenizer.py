"""Build the small byte-level BPE tokenizer shipped in ``rlhf_env/data/tiny_tokenizer``.

Tests and quick experiments build tiny models from configs; they need a *real* tokenizer
(byte-level BPE, special tokens, a chat template) with a small vocabulary so embeddings stay
tiny. It is trained here, deterministically, on the VADER lexicon's words (MIT, shipped by
``vaderSentiment``), the project's own prompt texts and the task word lists. Re-run to rebuild:

    .venv/bin/python scripts/build_tiny_tokenizer.py
"""

from __future__ import annotations

import os
from pathlib import Path

import vaderSentiment
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from rlhf_env.text.words import SENTIMENT_WORDS

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "rlhf_env" / "data" / "tiny_tokenizer"
VOCAB_SIZE = 2048
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# The same shape as SmolLM2's template, so chat-template code paths are exercised in tests.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def corpus() -> list[str]:
    lexicon = Path(os.path.dirname(vaderSentiment.__file__)) / "vader_lexicon.txt"
    lines_ = lexicon.read_text(encoding="utf-8").splitlines()
    words = [line.split("\t", 1)[0] for line in lines_]
    prompt_files = sorted((ROOT / "rlhf_env" / "data" / "prompts").glob("*.txt"))
    prompts = [p.read_text(encoding="utf-8") for p in prompt_files]
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    # The task word lists, repeated so that " word" becomes one token for each of them.
    common = " " + " ".join(SENTIMENT_WORDS)
    pangram = "The quick brown fox jumps over the lazy dog. 0123456789 ?!.,;:'\""
    return [*lines, *prompts, *([common] * 50), pangram]


def main() -> None:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        bos_token="<|im_start|>",
        unk_token="<|endoftext|>",
        # No pad token on purpose: loaders must cope with tokenizers that lack one.
    )
    fast.chat_template = CHAT_TEMPLATE
    OUT.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(OUT)
    print(f"wrote {OUT} (vocab {len(fast)})")


if __name__ == "__main__":
    main()
