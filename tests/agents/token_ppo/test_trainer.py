"""The token-level PPO trainer end to end on the tiny Llama and the keyword rule task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.token_ppo import load_checkpoint, save_checkpoint

GAE_KEYS = {
    "rlhf/score", "rlhf/score_std", "rlhf/reward", "rlhf/kl", "rlhf/kl_coef",
    "rlhf/response_length", "rlhf/missing_eos", "rlhf/episodes",
    "train/policy_gradient_loss", "train/value_loss", "train/entropy_loss", "train/approx_kl",
    "train/clip_fraction", "train/explained_variance", "train/loss", "train/learning_rate",
    "train/clip_range", "train/kl_k1", "train/kl_penalty",
    "time/iterations", "time/total_timesteps", "time/seconds", "samples"}
"""Every key of a GAE step's metrics on a task without a gold judge (SB3's PPO names under
``train/``)."""


def _weights(trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.policy.state_dict().items()}


def test_reward_rises_on_the_keyword_task(make_trainer, word_ids):
    trainer = make_trainer(batch_size=16, minibatch_size=8, ppo_epochs=2, learning_rate=3e-3,
                           kl_coef=0.01, allowed_token_ids=word_ids)
    metrics = trainer.train(14)
    first = np.mean([m["rlhf/score"] for m in metrics[:3]])
    last = np.mean([m["rlhf/score"] for m in metrics[-3:]])
    assert first < 2.0  # random choice among 13 tokens: ≈ 4 · 4/13 keywords
    assert last > 3.0 and last > first + 1.0
    assert all(m["rlhf/kl"] >= 0 for m in metrics)
    assert metrics[-1]["rlhf/kl"] > 0  # moved away from the reference


def test_an_update_changes_the_parameters_and_logs_everything(make_trainer, tmp_path):
    trainer = make_trainer(learning_rate=1e-3, log_dir=str(tmp_path / "tb"),
                           env_kwargs={"gold": "length"})
    before = _weights(trainer)
    m = trainer.step()
    after = _weights(trainer)
    changed = [k for k in before if not k.startswith("reference.")
               and not torch.equal(before[k], after[k])]
    assert any(k.startswith("value_head.") for k in changed)
    assert any(k.startswith("lm.") for k in changed)
    ref = [k for k in before if k.startswith("reference.")]
    assert ref and all(torch.equal(before[k], after[k]) for k in ref)  # reference stays frozen
    assert set(m) == {*GAE_KEYS, "rlhf/gold_score"}
    assert 0 < m["rlhf/gold_score"] <= 1  # the length scorer as gold judge
    trainer.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


@pytest.mark.parametrize("estimator", ["rloo", "grpo"])
def test_critic_free_estimators_train(make_trainer, word_ids, estimator):
    trainer = make_trainer(advantage=estimator, group_size=4, learning_rate=1e-3,
                           allowed_token_ids=word_ids)
    before = _weights(trainer)
    m = trainer.step()
    assert set(m) == GAE_KEYS - {"train/value_loss", "train/explained_variance"}
    assert not torch.equal(before["lm.model.embed_tokens.weight"],
                           trainer.policy.state_dict()["lm.model.embed_tokens.weight"])
    rollout = trainer.collect_rollout()  # rows of a group answer the same prompt
    assert rollout.prompts[0:4] == [rollout.prompts[0]] * 4
    assert rollout.prompts[4:8] == [rollout.prompts[4]] * 4


@pytest.mark.parametrize(("target", "direction"), [(1e-4, 1), (1e4, -1)])
def test_adaptive_kl_coefficient_moves_toward_its_target(make_trainer, word_ids, target,
                                                         direction):
    trainer = make_trainer(adaptive_kl=True, kl_coef=0.1, target_kl=target, kl_horizon=16,
                           learning_rate=3e-3, allowed_token_ids=word_ids)
    coefs = [m["rlhf/kl_coef"] for m in trainer.train(4)] + [trainer.kl_controller.value]
    steps = np.diff(coefs[1:])  # after the first update the policy differs from the reference
    assert (np.sign(steps) == direction).all()


def test_missing_eos_penalty_lowers_rewards_of_unfinished_responses(make_trainer, word_ids):
    trainer = make_trainer(allowed_token_ids=word_ids, missing_eos_penalty=5.0, kl_coef=0.0)
    rollout = trainer.collect_rollout()
    _, rewards = trainer.compute_rewards(rollout)
    totals = rewards.sum(-1)
    hit = rollout.generation.hit_limit
    assert hit.any()
    assert torch.allclose(totals[hit], rollout.scores[hit] - 5.0)
    assert torch.allclose(totals[~hit], rollout.scores[~hit])


def test_resume_equals_uninterrupted(make_trainer, word_ids, tmp_path):
    kwargs = {"allowed_token_ids": word_ids, "learning_rate": 3e-3, "adaptive_kl": True,
              "target_kl": 0.5, "kl_horizon": 32, "seed": 7, "grad_accum_steps": 2}
    straight = make_trainer(**kwargs)
    straight.train(4)

    first = make_trainer(**kwargs)
    first.train(2)
    save_checkpoint(first, tmp_path / "ckpt.pt")
    first.train(1)  # work done after the checkpoint must not leak into the resumed run
    resumed = load_checkpoint(make_trainer(**kwargs), tmp_path / "ckpt.pt")
    resumed.train(2)

    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in m.items() if k != "time/seconds"} for m in straight.metrics]
    assert strip == [{k: v for k, v in m.items() if k != "time/seconds"} for m in resumed.metrics]
    assert straight.kl_controller.value == resumed.kl_controller.value
    other_seed = make_trainer(**{**kwargs, "seed": 8})
    other_seed.train(1)
    assert other_seed.metrics[0]["samples"] != straight.metrics[0]["samples"] or \
        other_seed.metrics[0]["rlhf/score"] != straight.metrics[0]["rlhf/score"]


def test_lora_shares_the_frozen_base_as_reference(make_trainer):
    pytest.importorskip("peft")
    trainer = make_trainer(lora_r=4, learning_rate=1e-2)
    assert trainer.policy.reference is None
    names = [n for n, p in trainer.policy.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or n.startswith("value_head.") for n in names)
    base_before = {n: p.detach().clone() for n, p in trainer.policy.named_parameters()
                   if not p.requires_grad}
    trainer.train(2)
    assert trainer.metrics[-1]["rlhf/kl"] > 0  # the adapters moved the policy off the base
    assert all(torch.equal(p, base_before[n]) for n, p in trainer.policy.named_parameters()
               if not p.requires_grad)


def test_trainer_builds_its_own_env_and_policy_from_the_config(word_ids):
    from agents.token_ppo import TokenPPOConfig, TokenPPOTrainer

    cfg = TokenPPOConfig(model="tiny-random-llama", task="keyword", batch_size=4,
                         minibatch_size=2, max_new_tokens=3, progress_bar=False,
                         allowed_token_ids=word_ids)
    trainer = TokenPPOTrainer(cfg)
    try:
        assert trainer.env.num_envs == 4
        m = trainer.step()
        assert 1 <= m["rlhf/response_length"] <= 3
        assert all(isinstance(s["response"], str) for s in m["samples"])
    finally:
        trainer.close()


def test_k3_penalty_and_reward_whitening(make_trainer, word_ids):
    trainer = make_trainer(kl_estimator="k3", whiten_rewards=True, kl_coef=0.5,
                           learning_rate=3e-3, allowed_token_ids=word_ids)
    trainer.step()  # move the policy off the reference
    rollout = trainer.collect_rollout()
    kl, rewards = trainer.compute_rewards(rollout)
    mask = rollout.generation.mask
    assert (kl >= 0).all() and kl[mask].sum() > 0
    scores = rollout.scores
    mean, std = scores.mean(), scores.std(unbiased=False)
    expected = (scores - mean) / std + mean if std > 0 else scores  # variance scaled to 1
    per_response = (rewards + 0.5 * kl).sum(-1)  # remove the penalty: the whitened score
    assert torch.allclose(per_response, expected, atol=1e-3)


@pytest.mark.parametrize("init", [True, False])
def test_value_head_can_start_from_the_mean_score(make_trainer, word_ids, init):
    trainer = make_trainer(init_value_from_scores=init, learning_rate=1e-4,
                           allowed_token_ids=word_ids)
    trainer.step()
    first_mean = trainer.metrics[0]["rlhf/score"]
    bias = float(trainer.policy.value_head.bias.detach())
    assert first_mean > 0.3
    assert bias == pytest.approx(first_mean if init else 0.0, abs=0.05)
