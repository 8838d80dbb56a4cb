"""Batched KV-cached sampling: the returned log-probs and values are those of a fresh
forward pass under the same sampling transform, and masks stop at EOS."""

from __future__ import annotations

import pytest
import torch

from agents.token_ppo import PolicyWithValue, SamplingTransform, generate
from agents.token_ppo.generation import position_ids


@pytest.fixture(scope="module")
def policy():
    from rlhf_env.models import load_causal_lm

    return PolicyWithValue(load_causal_lm("tiny-random-llama", seed=0))


@pytest.fixture(scope="module")
def prompts():
    """Three left-padded prompts of different lengths."""
    from rlhf_env.models import load_tokenizer

    tok = load_tokenizer("tiny-random-llama")
    batch = tok(["Hello there, how", "A short one", "Tell me about your very best day"],
                return_tensors="pt", padding=True)
    return batch["input_ids"], batch["attention_mask"]


def _fresh_logprobs(policy, ids, mask, gen, transform):
    full_ids = torch.cat([ids, gen.tokens], 1)
    full_mask = torch.cat([mask, gen.mask.long()], 1)
    with torch.no_grad():
        logits, values = policy(full_ids, full_mask, position_ids(full_mask),
                                gen.tokens.shape[1])
    logp = transform(logits).log_softmax(-1).gather(-1, gen.tokens[..., None]).squeeze(-1)
    return logp, values


@pytest.mark.parametrize("transform", [
    SamplingTransform(),
    SamplingTransform(temperature=0.7, top_k=20),
    SamplingTransform(temperature=1.3, top_p=0.8),
], ids=["plain", "temperature+top-k", "temperature+top-p"])
def test_generation_logprobs_equal_a_fresh_forward(policy, prompts, transform):
    ids, mask = prompts
    gen = generate(policy, ids, mask, max_new_tokens=8, eos_id=0, transform=transform,
                   generator=torch.Generator().manual_seed(0))
    logp, values = _fresh_logprobs(policy, ids, mask, gen, transform)
    assert gen.mask.any()
    assert torch.allclose(logp[gen.mask], gen.logprobs[gen.mask], atol=1e-5)
    assert torch.allclose(values[gen.mask], gen.values[gen.mask], atol=1e-5)
    # a different temperature would give different log-probs: the check can fail
    other = SamplingTransform(temperature=transform.temperature * 2)
    logp_other, _ = _fresh_logprobs(policy, ids, mask, gen, other)
    assert not torch.allclose(logp_other[gen.mask], gen.logprobs[gen.mask], atol=1e-3)


def test_top_k_and_allowed_tokens_restrict_the_samples(policy, prompts):
    ids, mask = prompts
    allowed = torch.zeros(2048, dtype=torch.bool)
    allowed[[0, 5, 300, 301]] = True
    gen = generate(policy, ids, mask, max_new_tokens=6, eos_id=0,
                   transform=SamplingTransform(allowed=allowed),
                   generator=torch.Generator().manual_seed(1))
    assert set(gen.tokens.unique().tolist()) <= {0, 5, 300, 301}


def test_tokens_after_eos_are_eos_and_masked_out(policy, prompts):
    ids, mask = prompts
    allowed = torch.zeros(2048, dtype=torch.bool)
    allowed[[0, 7]] = True  # EOS is likely early
    gen = generate(policy, ids, mask, max_new_tokens=10, eos_id=0,
                   transform=SamplingTransform(allowed=allowed),
                   generator=torch.Generator().manual_seed(3))
    for row in range(ids.shape[0]):
        eos = (gen.tokens[row] == 0).nonzero()
        if eos.numel():
            first = int(eos[0])
            assert gen.mask[row, : first + 1].all() and not gen.mask[row, first + 1 :].any()
            assert (gen.tokens[row, first:] == 0).all()
            assert (gen.logprobs[row, first + 1 :] == 0).all()
            assert not gen.hit_limit[row]
        else:
            assert gen.hit_limit[row] and gen.mask[row].all()
    assert (~gen.hit_limit).any()


def test_same_generator_seed_gives_the_same_samples(policy, prompts):
    ids, mask = prompts
    runs = [generate(policy, ids, mask, max_new_tokens=5, eos_id=0,
                     transform=SamplingTransform(), generator=torch.Generator().manual_seed(9))
            for _ in range(2)]
    assert torch.equal(runs[0].tokens, runs[1].tokens)
