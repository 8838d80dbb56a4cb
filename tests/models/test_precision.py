"""rlhf_env.models.precision: frozen copies at bfloat16 / int8 are what they say, leave the
original alone, and stay within documented error bounds on the tiny models.

Error bounds (per-token log-prob of fixed token ids on the tiny Llama, seeded; measured:
bfloat16 max 0.003 / mean 0.0007, int8 max 0.015 / mean 0.004 nats): the bounds below leave
~5x headroom. The real models' errors are in the module docstring.
"""

from __future__ import annotations

import copy

import pytest
import torch

from rlhf_env.errors import ConfigError
from rlhf_env.models import PRECISIONS, check_precision, frozen_copy, model_precision

BOUNDS = {"bfloat16": (0.02, 0.004), "int8": (0.08, 0.02)}
"""Largest allowed (max, mean) abs difference of per-token log-probs from float32, nats."""


def _linear_count(model) -> int:
    return sum(isinstance(m, torch.nn.Linear) for m in model.modules())


def _token_logprobs(model, ids):
    with torch.no_grad():
        logits = model(input_ids=ids).logits[:, :-1].float()
    return logits.log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)


@pytest.fixture
def ids():
    return torch.randint(3, 2000, (8, 24), generator=torch.Generator().manual_seed(0))


def test_check_precision_names_the_choices():
    assert [check_precision("p", p) for p in PRECISIONS] == list(PRECISIONS)
    with pytest.raises(ConfigError, match=r"frozen_precision must be one of 'float32', "
                                          r"'bfloat16', 'int8', got 'fp16'"):
        check_precision("frozen_precision", "fp16")


def test_bfloat16_copy_converts_every_weight_and_leaves_the_original(tiny_lm):
    before = {k: v.clone() for k, v in tiny_lm.state_dict().items()}
    fast = frozen_copy(tiny_lm, "bfloat16")
    assert fast is not tiny_lm
    assert {p.dtype for p in fast.parameters()} == {torch.bfloat16}
    assert not any(p.requires_grad for p in fast.parameters()) and not fast.training
    assert model_precision(fast) == "bfloat16" and model_precision(tiny_lm) == "float32"
    assert all(torch.equal(v, tiny_lm.state_dict()[k]) for k, v in before.items())
    assert {p.dtype for p in tiny_lm.parameters()} == {torch.float32}


def test_int8_copy_quantises_every_linear_layer(tiny_lm):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    linears = _linear_count(tiny_lm)
    fast = frozen_copy(tiny_lm, "int8")
    quantised = sum(isinstance(m, DynamicInt8Linear) for m in fast.modules())
    assert linears > 0 and quantised == linears
    assert not any(type(m) is torch.nn.Linear for m in fast.modules())
    assert model_precision(fast) == "int8"
    assert _linear_count(tiny_lm) == linears and model_precision(tiny_lm) == "float32"


def test_copy_false_converts_the_model_itself(tiny_lm):
    mine = copy.deepcopy(tiny_lm)
    assert frozen_copy(mine, "bfloat16", copy=False) is mine
    assert model_precision(mine) == "bfloat16"


@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_log_prob_error_stays_within_the_documented_bounds(tiny_lm, ids, precision):
    base = _token_logprobs(tiny_lm, ids)
    diff = (_token_logprobs(frozen_copy(tiny_lm, precision), ids) - base).abs()
    worst, mean = BOUNDS[precision]
    assert 0 < diff.max() < worst  # > 0: it really ran at the lower precision
    assert diff.mean() < mean


def test_float32_copy_is_an_exact_frozen_copy(tiny_lm, ids):
    same = frozen_copy(tiny_lm, "float32")
    assert same is not tiny_lm
    assert torch.equal(_token_logprobs(same, ids), _token_logprobs(tiny_lm, ids))


def test_bfloat16_copy_equals_converting_a_full_copy_and_keeps_ties(tiny_lm, ids):
    direct = frozen_copy(tiny_lm, "bfloat16")
    via_float = copy.deepcopy(tiny_lm).to(torch.bfloat16)
    for (name, a), (_, b) in zip(direct.state_dict().items(), via_float.state_dict().items(),
                                 strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b), name
    assert direct.lm_head.weight is direct.model.embed_tokens.weight  # tied, as in tiny_lm
    assert torch.equal(_token_logprobs(direct, ids), _token_logprobs(via_float, ids))
