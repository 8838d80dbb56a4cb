"""Evaluating SB3 models on the text bandit: evaluate_policy and collect_episodes."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.evaluation import evaluate_policy

from agents.sb3 import collect_episodes, make_ppo, mean_of


def test_sb3_evaluate_policy_and_collect_episodes(make_env):
    model = make_ppo(make_env(4), n_steps=8)
    eval_env = make_env(4, seed=1)
    with pytest.warns(UserWarning, match="Monitor"):  # SB3 suggests Monitor; episodes still count
        rewards, lengths = evaluate_policy(model, eval_env, n_eval_episodes=8,
                                           return_episode_rewards=True)
    assert len(rewards) == 8 and set(lengths) == {1}
    eval_env.seed(1)
    episodes = collect_episodes(model, eval_env, 6)
    assert len(episodes) == 6 and all("response" in e for e in episodes)
    assert mean_of(episodes) == pytest.approx(np.mean([e["score"] for e in episodes]))
    assert np.isnan(mean_of(episodes, "gold_score"))
