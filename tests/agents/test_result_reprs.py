"""Results a user prints show one short line of key numbers, never a model or array dump."""

from __future__ import annotations

import numpy as np

from agents.best_of_n import BestOfNResult
from agents.sft import SFTResult
from rlhf_env.feedback.io import ImportResult
from rlhf_env.feedback.records import Comparison


class _Huge:
    def __repr__(self) -> str:  # what printing a network would look like
        return "LlamaForCausalLM(\n" + "  (layer): Linear()\n" * 500 + ")"


def _one_line(text: str) -> str:
    assert "\n" not in text and len(text) < 220 and "Linear" not in text, text
    return text


def test_sft_result():
    result = SFTResult(train_loss=(3.1, 2.6, 2.4), eval_loss_before=3.5, eval_loss_after=2.35,
                       logprob_before=-40.25, logprob_after=-30.5, logprob_split="held-out",
                       num_train=9, num_eval=3, steps=12, truncated=0, seconds=4.25,
                       model=_Huge())
    assert _one_line(repr(result)) == (
        "SFTResult(held-out loss 3.500 -> 2.350, response log-prob -40.25 -> -30.50 "
        "(held-out), 9 train / 3 held-out demos, 3 epochs, 12 steps, 4.2 s)")


def test_best_of_n_result():
    scores = np.array([[1.0, 3.0], [0.0, 2.0]], dtype=np.float32)
    result = BestOfNResult(prompts=("a", "b"), responses=("x", "y"),
                           scores=scores.max(1), gold_scores=None,
                           samples=(("w", "x"), ("v", "y")), sample_scores=scores,
                           sample_gold=None)
    text = _one_line(repr(result))
    assert text.startswith("BestOfNResult(best-of-2 reference: score 2.500 (n=1: 1.500")
    assert text.endswith(", 2 prompts)")


def test_import_result():
    records = [Comparison("p", f"a{i}", f"b{i}", "a") for i in range(1000)]
    text = _one_line(repr(ImportResult(records=records, added=998)))
    assert text == ("ImportResult(1000 records, 0 annotators, 0 bad lines, 998 added to the "
                    "store)")
