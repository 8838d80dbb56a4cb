"""The SB3 bandit agent's KL estimate (agents.sb3.kl, RLHFMetricsCallback's ``rlhf/kl``)
against a hand computation: the MLP policy's logits and the tiny reference LM run by hand."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

from agents.sb3 import RLHFMetricsCallback, make_ppo
from agents.sb3.kl import response_logprobs
from rlhf_env.text import text_core


class Recorder(BaseCallback):
    """Keeps each rollout step's observations, actions and infos."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[tuple[dict, np.ndarray, list[dict]]] = []

    def _on_step(self) -> bool:
        obs = {k: v.clone() for k, v in self.locals["obs_tensor"].items()}
        self.steps.append((obs, self.locals["actions"].copy(), list(self.locals["infos"])))
        return True


def _policy_logprob_by_hand(policy, obs: dict, actions: np.ndarray, i: int, n: int) -> float:
    """Σ_{t<n} log softmax(logits_t)[a_t] from the policy's own layers, row ``i``."""
    with torch.no_grad():
        features = policy.extract_features(obs, policy.pi_features_extractor)
        logits = policy.action_net(policy.mlp_extractor.forward_actor(features))[i]
    per_position = logits.split(policy.action_space.nvec.tolist())
    return sum(float(torch.log_softmax(per_position[t], -1)[actions[i, t]]) for t in range(n))


def _reference_logprob_by_hand(lm, prompt: np.ndarray, response: np.ndarray) -> float:
    ids = torch.as_tensor(np.concatenate([prompt, response]))[None]
    with torch.no_grad():
        logp = torch.log_softmax(lm(ids).logits[0].double(), -1)
    p = len(prompt)
    return sum(float(logp[p + t - 1, int(tok)]) for t, tok in enumerate(response))


def test_callback_kl_is_log_pi_minus_log_pi_ref_of_each_response(make_env, tiny_lm):
    env = make_env(4, seed=2, kl_coef=0.1, reference_model=tiny_lm)
    core = text_core(env.venv)
    model = make_ppo(env, n_steps=3, n_epochs=1, batch_size=12, seed=2)
    sampler = copy.deepcopy(model.policy)  # the policy as it was while it sampled
    metrics, recorder = RLHFMetricsCallback(), Recorder()
    model.learn(12, callback=[metrics, recorder])  # one rollout, then the update

    kls, lengths = [], []
    for obs, actions, infos in recorder.steps:
        tokens = core.vocab.to_token_ids(actions)
        for i, info in enumerate(infos):
            n = info["response_tokens"]
            prompt = core.encode_prompt(info["prompt_index"])[0]
            ref = _reference_logprob_by_hand(tiny_lm, prompt, tokens[i, :n])
            assert info["ref_logprob"] == pytest.approx(ref, abs=1e-3)
            kls.append(_policy_logprob_by_hand(sampler, obs, actions, i, n) - ref)
            lengths.append(n)
    assert len(kls) == 12 and min(lengths) < 4 == max(lengths)  # EOS cuts some responses
    (row,) = metrics.history
    assert row["rlhf/kl"] == pytest.approx(np.mean(kls), abs=1e-3)
    assert row["rlhf/kl_coef"] == pytest.approx(0.1)


def test_padding_after_eos_does_not_count(make_env):
    """Positions after the first EOS change neither the response nor its log-probability."""
    env = make_env(2)
    policy = make_ppo(env).policy
    obs, _ = policy.obs_to_tensor(env.reset())
    dist = policy.get_distribution(obs)
    a = torch.tensor([[3, 5, 1, 2], [3, 5, 1, 2]])
    b = torch.tensor([[3, 5, 1, 2], [3, 5, 7, 9]])
    np.testing.assert_allclose(response_logprobs(dist, a, [2, 2]),
                               response_logprobs(dist, b, [2, 2]))
    full = response_logprobs(dist, a, [4, 4])
    assert (full < response_logprobs(dist, a, [2, 2])).all()  # more positions, less likely


def test_a_monitoring_reference_gives_kl_without_a_penalty(make_env, tiny_lm):
    env = make_env(4, reference_model=tiny_lm)  # kl_coef = 0: measured, not penalised
    metrics = RLHFMetricsCallback()
    make_ppo(env, n_steps=2, n_epochs=1).learn(8, callback=metrics)
    (row,) = metrics.history
    assert np.isfinite(row["rlhf/kl"]) and row["rlhf/kl_coef"] == 0.0
    assert row["rlhf/reward"] == pytest.approx(row["rlhf/score"])


def test_no_reference_no_kl(make_env):
    metrics = RLHFMetricsCallback()
    make_ppo(make_env(4), n_steps=2, n_epochs=1).learn(8, callback=metrics)
    assert "rlhf/kl" not in metrics.history[0] and "rlhf/score" in metrics.history[0]


class LogProbRecorder(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.steps: list[tuple[np.ndarray, np.ndarray, list[dict]]] = []

    def _on_step(self) -> bool:
        self.steps.append((self.locals["log_probs"].numpy().copy(), self.locals["dones"].copy(),
                           list(self.locals["infos"])))
        return True


def test_token_env_kl_sums_the_steps_log_probs_across_rollouts_and_learn_calls(make_env,
                                                                                tiny_lm):
    from stable_baselines3 import PPO

    env = make_env(2, seed=0, env_id="RLHF-TextToken-v0", kl_coef=0.1, reference_model=tiny_lm)
    model = PPO("MultiInputPolicy", env, n_steps=3, batch_size=6, n_epochs=1, seed=0)
    metrics, recorder = RLHFMetricsCallback(), LogProbRecorder()
    model.learn(12, callback=[metrics, recorder])  # rollouts of 3 steps: episodes span them
    model.learn(6, callback=[metrics, recorder], reset_num_timesteps=False)
    logp, started, per_rollout, spanned = np.zeros(2), np.zeros(2, int), [], False
    for k, (step_logp, dones, infos) in enumerate(recorder.steps):
        if k % 3 == 0:
            per_rollout.append([])
        logp += step_logp
        for i in np.flatnonzero(dones):
            per_rollout[-1].append(logp[i] - infos[i]["ref_logprob"])
            spanned |= started[i] // 3 != k // 3
            logp[i], started[i] = 0.0, k + 1
    assert spanned  # some episode began in an earlier rollout than the one it ended in
    assert len(metrics.history) == len(per_rollout) == 3
    assert [row["rlhf/kl"] for row in metrics.history] == pytest.approx(
        [np.mean(kls) for kls in per_rollout], abs=1e-4)
