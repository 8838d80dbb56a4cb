"""Group-shared prompt passes: each group's prompt runs once, with the same results as once
per row (generation, reference log-probs, the update's logits, values and gradients)."""

from __future__ import annotations

import pytest
import torch

from agents.token_ppo.generation import (
    SamplingTransform,
    generate,
    position_ids,
    shared_group_size,
)
from agents.token_ppo.policy import PolicyWithValue
from agents.token_ppo.rollout import reference_logprobs

G = 4


@pytest.fixture
def batch():
    """3 different left-padded prompts, each repeated G times in consecutive rows."""
    gen = torch.Generator().manual_seed(0)
    prompts = torch.randint(5, 500, (3, 9), generator=gen)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[0, :3] = 0
    mask[2, :1] = 0
    return prompts.repeat_interleave(G, 0), mask.repeat_interleave(G, 0)


def policy(lora_r: int = 4) -> PolicyWithValue:
    from rlhf_env.models.tiny import tiny_causal_lm

    return PolicyWithValue(tiny_causal_lm(seed=0), lora_r=lora_r, seed=0)


def test_shared_group_size_detects_consecutive_identical_groups(batch):
    ids, mask = batch
    assert shared_group_size(ids, mask, G) == G
    assert shared_group_size(ids, mask, 2) == 2  # halves of each group are groups too
    assert shared_group_size(ids, mask, 1) == 1
    assert shared_group_size(ids[:-1], mask[:-1], G) == 1  # 11 rows: not whole groups
    shuffled = ids[torch.tensor([0, 4, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11])]
    assert shared_group_size(shuffled, mask, G) == 1
    other_mask = mask.clone()
    other_mask[1, 3] = 0  # same ids, different padding in one row
    assert shared_group_size(ids, other_mask, G) == 1


def test_generation_and_reference_match_the_unshared_pass(batch):
    ids, mask = batch
    pol = policy()
    transform = SamplingTransform(temperature=0.9, top_k=50)
    runs = []
    for g in (1, G):
        gen = generate(pol, ids, mask, max_new_tokens=6, eos_id=2, transform=transform,
                       generator=torch.Generator().manual_seed(0), group_size=g)
        full = torch.cat([ids, gen.tokens], 1)
        full_mask = torch.cat([mask, gen.mask.long()], 1)
        runs.append((gen, reference_logprobs(pol, full, full_mask, gen.tokens, transform, g)))
    (a, ref_a), (b, ref_b) = runs
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.mask, b.mask)
    torch.testing.assert_close(a.logprobs, b.logprobs, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.values, b.values, atol=1e-5, rtol=0)
    torch.testing.assert_close(ref_a * a.mask, ref_b * a.mask, atol=1e-5, rtol=0)
    # responses within a group differ: sharing the prompt did not share the samples
    assert len({tuple(r) for r in a.tokens[:G].tolist()}) > 1


@pytest.mark.parametrize("lora_r", [0, 4])
def test_update_pass_matches_logits_values_and_gradients(batch, lora_r):
    ids, mask = batch
    n = 5
    responses = torch.randint(5, 500, (ids.shape[0], n), generator=torch.Generator()
                              .manual_seed(1))
    full = torch.cat([ids, responses], 1)
    full_mask = torch.cat([mask, torch.ones_like(responses)], 1)
    full_mask[1, -2:] = 0  # a row whose response ended early
    pos = position_ids(full_mask)
    pol = policy(lora_r)
    weights = torch.randn(ids.shape[0], n, generator=torch.Generator().manual_seed(2))
    outputs, grads = [], []
    for g in (1, G):
        pol.zero_grad(set_to_none=True)
        logits, values = pol(full, full_mask, pos, n, g)
        picked = logits.log_softmax(-1).gather(-1, responses[..., None]).squeeze(-1)
        ((picked + values) * weights * full_mask[:, -n:]).sum().backward()
        outputs.append((logits.detach(), values.detach()))
        grads.append({k: p.grad.clone() for k, p in pol.named_parameters()
                      if p.grad is not None})
    (la, va), (lb, vb) = outputs
    torch.testing.assert_close(la, lb, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(va, vb, atol=1e-5, rtol=1e-4)
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for key in grads[0]:
        torch.testing.assert_close(grads[0][key], grads[1][key], atol=1e-4, rtol=1e-3,
                                   msg=lambda m, k=key: f"{k}: {m}")


def test_trainer_shuffles_whole_groups_when_micro_batches_hold_them(make_trainer):
    trainer = make_trainer(batch_size=8, minibatch_size=4, group_size=4, advantage="rloo")
    order = trainer._shuffle().tolist()
    assert sorted(order) == list(range(8))
    assert {tuple(order[i:i + 4]) for i in (0, 4)} == {(0, 1, 2, 3), (4, 5, 6, 7)}
    # micro-batches of 2 cannot hold a group of 4: plain row shuffling
    split = make_trainer(batch_size=8, minibatch_size=4, grad_accum_steps=2, group_size=4,
                         advantage="rloo")
    assert split.prompt_group == 4
    orders = {tuple(split._shuffle().tolist()) for _ in range(5)}
    assert any(o[:4] not in ((0, 1, 2, 3), (4, 5, 6, 7)) for o in orders)
    off = make_trainer(batch_size=8, minibatch_size=4, group_size=4, advantage="rloo",
                       shared_prompt=False)
    assert off.prompt_group == 1


def test_shared_and_unshared_trainers_draw_the_same_first_rollout(make_trainer):
    runs = [make_trainer(batch_size=8, minibatch_size=4, group_size=4, advantage="rloo",
                         shared_prompt=shared).step() for shared in (True, False)]
    assert runs[0]["samples"] == runs[1]["samples"]
    assert runs[0]["rlhf/score"] == runs[1]["rlhf/score"]
    assert runs[0]["rlhf/kl"] == pytest.approx(runs[1]["rlhf/kl"], abs=1e-5)
