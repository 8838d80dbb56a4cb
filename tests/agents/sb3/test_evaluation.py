"""Evaluating SB3 models on the text envs: evaluate_policy, EvalCallback (no Monitor needed)
and collect_episodes."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy

from agents.sb3 import collect_episodes, make_ppo, mean_of


def _no_monitor_warning(recwarn) -> None:
    said = [str(w.message) for w in recwarn]
    assert not [m for m in said if "Monitor" in m], said


def test_sb3_evaluate_policy_and_collect_episodes(make_env, recwarn):
    model = make_ppo(make_env(4), n_steps=8)
    eval_env = make_env(4, seed=1)
    rewards, lengths = evaluate_policy(model, eval_env, n_eval_episodes=8,
                                       return_episode_rewards=True)
    _no_monitor_warning(recwarn)  # the adapter is its own Monitor
    assert len(rewards) == 8 and set(lengths) == {1}
    eval_env.seed(1)
    episodes = collect_episodes(model, eval_env, 6)
    assert len(episodes) == 6 and all("response" in e for e in episodes)
    assert mean_of(episodes) == pytest.approx(np.mean([e["score"] for e in episodes]))
    assert np.isnan(mean_of(episodes, "gold_score"))


@pytest.mark.parametrize(("env_id", "length"), [("RLHF-Text-v0", {1}),
                                                 ("RLHF-TextToken-v0", {1, 2, 3, 4})])
def test_evaluate_policy_reads_whole_episode_returns(make_env, tiny_lm, recwarn, env_id,
                                                     length):
    """Returns are score + KL term of each response, summed over the token env's steps."""
    env = make_env(4, seed=1, env_id=env_id, kl_coef=0.1, reference_model=tiny_lm)
    model = PPO("MultiInputPolicy", env, n_steps=4, seed=0)
    finished = []

    def keep(local_vars, _globals):
        if local_vars["done"]:
            finished.append(local_vars["info"])

    returns, lengths = evaluate_policy(model, env, n_eval_episodes=6, deterministic=False,
                                       return_episode_rewards=True, callback=keep)
    _no_monitor_warning(recwarn)
    assert len(returns) == 6 and set(lengths) <= length
    assert returns == pytest.approx([i["score"] + i["kl_term"] for i in finished], abs=1e-4)
    assert all(i["kl_term"] < 0 for i in finished)  # the returns hold the KL term


def test_eval_callback_runs_without_a_monitor_warning(make_env, recwarn, tmp_path):
    from stable_baselines3.common.callbacks import EvalCallback

    model = make_ppo(make_env(2), n_steps=4)
    callback = EvalCallback(make_env(2, seed=3), n_eval_episodes=4, eval_freq=4,
                            log_path=str(tmp_path), verbose=0)
    model.learn(16, callback=callback)
    _no_monitor_warning(recwarn)
    assert callback.evaluations_length and all(
        list(ls) == [1, 1, 1, 1] for ls in callback.evaluations_length)
    assert np.isfinite(callback.last_mean_reward)
