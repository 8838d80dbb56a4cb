"""The main job: an end-to-end run on the offline defaults.

Placeholder-free smoke until the text environment lands: load the bundled policy LM and the
bundled sentence encoder, generate responses to a few prompts, score them with VADER.
"""

from __future__ import annotations

import argparse
import time


def run_demo(args: argparse.Namespace) -> int:
    import torch
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from rlhf_env.models import format_prompt, load_causal_lm, load_tokenizer

    torch.manual_seed(0)
    t0 = time.perf_counter()
    tok = load_tokenizer()
    model = load_causal_lm()
    prompts = ["Write a one-line review of the café on the corner.",
               "Describe your last train journey in a sentence."]
    texts = [format_prompt(tok, p) for p in prompts]
    batch = tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=24, do_sample=True, top_k=50,
                             pad_token_id=tok.pad_token_id)
    responses = tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    vader = SentimentIntensityAnalyzer()
    for p, r in zip(prompts, responses, strict=True):
        print(f"PROMPT  {p}\nRESPONSE {r.strip()!r}\nVADER   {vader.polarity_scores(r)['compound']:+.3f}\n")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0
