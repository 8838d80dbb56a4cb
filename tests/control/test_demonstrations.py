"""Demonstrations: scripted experts, save/load, behaviour cloning, the loop's warm start."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN, PPO

from rlhf_env.control.cli import main
from rlhf_env.control.demonstrations import (
    behaviour_clone,
    collect_demonstrations,
    load_demonstrations,
    policy_return,
    save_demonstrations,
    scripted_expert,
)
from rlhf_env.control.envs import make_rlhf_env, random_policy_return
from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop
from rlhf_env.errors import ConfigError

torch.set_num_threads(1)

PPO_SMALL = {"n_steps": 128, "batch_size": 64, "n_epochs": 2}


@pytest.fixture(scope="module")
def cartpole_demos():
    """Five 200-step episodes of the scripted CartPole expert."""
    return collect_demonstrations("RLHF-CartPole-v0", episodes=5, seed=0)


def test_scripted_experts_are_far_better_than_random() -> None:
    cartpole = make_rlhf_env("RLHF-CartPole-v0")
    assert policy_return(cartpole, scripted_expert("RLHF-CartPole-v0"), 3) == 200.0
    assert random_policy_return(cartpole, 3) < 30.0
    pendulum = make_rlhf_env("RLHF-Pendulum-v0", horizon=100)
    expert = policy_return(pendulum, scripted_expert("Pendulum-v1"), 3, seed=100)
    assert expert > -250.0 and random_policy_return(pendulum, 3) < -450.0
    with pytest.raises(ConfigError, match=r"no scripted expert for 'Acrobot-v1'.*expert="):
        scripted_expert("Acrobot-v1")


def test_demonstrations_are_whole_episodes_and_survive_saving(cartpole_demos, tmp_path) -> None:
    assert [len(t) for t in cartpole_demos] == [200] * 5
    assert all(t.rewards.sum() == 200.0 for t in cartpole_demos)
    path = save_demonstrations(cartpole_demos, tmp_path / "demos.npz")
    loaded = load_demonstrations(path)
    assert len(loaded) == 5
    for a, b in zip(cartpole_demos, loaded, strict=True):
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.rewards, b.rewards)
    with pytest.raises(ConfigError, match="no demonstrations file"):
        load_demonstrations(tmp_path / "missing.npz")


def test_cloning_the_cartpole_expert_lifts_the_policy_far_above_random(cartpole_demos) -> None:
    env = make_rlhf_env("RLHF-CartPole-v0")
    agent = PPO("MlpPolicy", env, seed=1, verbose=0)  # this seed starts by falling at once
    before = policy_return(env, agent, 5, seed=100)
    losses = behaviour_clone(agent, cartpole_demos, epochs=30, seed=0)
    after = policy_return(env, agent, 5, seed=100)
    random = random_policy_return(env, 5)
    assert before < 30.0 and random < 30.0
    assert after >= 190.0, (before, after, losses)
    assert losses[-1] < 0.5 * losses[0] and losses[-1] < 0.3


def test_cloning_a_box_action_expert_moves_the_actions_towards_it() -> None:
    demos = collect_demonstrations("RLHF-Pendulum-v0", episodes=4, horizon=50, seed=0)
    env = make_rlhf_env("RLHF-Pendulum-v0", horizon=50)
    agent = PPO("MlpPolicy", env, seed=0, verbose=0)
    obs = np.concatenate([t.obs for t in demos])
    expert = np.concatenate([t.actions for t in demos])

    def error() -> float:
        return float(np.abs(agent.predict(obs, deterministic=True)[0] - expert).mean())

    before = error()
    losses = behaviour_clone(agent, demos, epochs=40, seed=0)
    assert losses[-1] < losses[0] - 0.4  # nats per action
    assert error() < 0.65 * before  # measured: 0.84 → 0.47


def test_mismatched_demonstrations_are_refused_with_the_reason(cartpole_demos) -> None:
    pendulum_agent = PPO("MlpPolicy", make_rlhf_env("RLHF-Pendulum-v0"), seed=0, verbose=0)
    with pytest.raises(ConfigError, match=r"observations of shape \(4,\) but the agent's "
                                          r"observation space"):
        behaviour_clone(pendulum_agent, cartpole_demos, epochs=1)
    pendulum_demos = collect_demonstrations("RLHF-Pendulum-v0", episodes=1, horizon=10)
    cartpole_agent = PPO("MlpPolicy", make_rlhf_env("RLHF-CartPole-v0"), seed=0, verbose=0)
    shifted = [type(t)(np.zeros((10, 4), np.float32), t.actions, np.zeros((10, 4), np.float32),
                       t.rewards) for t in pendulum_demos]
    with pytest.raises(ConfigError, match="Discrete space needs one integer per step"):
        behaviour_clone(cartpole_agent, shifted, epochs=1)
    dqn = DQN("MlpPolicy", make_rlhf_env("RLHF-CartPole-v0"), seed=0, verbose=0)
    with pytest.raises(ConfigError, match="needs an on-policy SB3 agent"):
        behaviour_clone(dqn, cartpole_demos, epochs=1)


def small_config(**changes) -> LoopConfig:
    base = {"total_timesteps": 512, "total_labels": 20, "rounds": 2, "segment_length": 10,
            "n_envs": 2, "ensemble_size": 2, "reward_epochs": 3, "horizon": 50}
    return LoopConfig(**{**base, **changes})


def test_loop_warm_start_clones_adds_expert_preferences_and_resumes(cartpole_demos,
                                                                    tmp_path) -> None:
    ck = tmp_path / "ck"
    loop = PreferenceLearningLoop("RLHF-CartPole-v0", small_config(demo_pairs=12, bc_epochs=30),
                                  algorithm_kwargs=PPO_SMALL, checkpoint_dir=ck,
                                  demonstrations=cartpole_demos)
    eval_env = make_rlhf_env("RLHF-CartPole-v0", horizon=50)
    stats = loop.warm_start(cartpole_demos)
    assert policy_return(eval_env, loop.agent, 3, seed=100) >= 45.0  # cloned: balances
    assert stats["demo_comparisons"] == 12 and stats["bc_loss_last"] < stats["bc_loss_first"]
    demo_records = [r for r in loop.records if r.annotator == "demonstration"]
    assert len(demo_records) == 12
    assert all(loop.bank.get(r.chosen).true_return == 10.0 for r in demo_records)
    assert all(r.metadata["labeler"] == "demonstration" for r in demo_records)

    loop.run_round(10, 256)  # the warm start is not repeated
    assert loop.state.labels_used == 10 and len(loop.records) == 22
    resumed = PreferenceLearningLoop.resume(ck, demonstrations=cartpole_demos)
    assert resumed.state.warm_start == stats
    assert len(resumed.records) == 22 and resumed.bank.get(demo_records[0].chosen)
    saved = [p.detach().clone() for p in resumed.agent.policy.parameters()]
    resumed.run()
    assert resumed.state.round == 2 and resumed.state.labels_used == 20
    assert len([r for r in resumed.records if r.annotator == "demonstration"]) == 12
    assert any(not torch.equal(a, b) for a, b in zip(saved, resumed.agent.policy.parameters(),
                                                     strict=True))


def test_loop_demonstration_settings_are_checked(cartpole_demos) -> None:
    with pytest.raises(ConfigError, match="demo_pairs and bc_epochs are both 0"):
        PreferenceLearningLoop("RLHF-CartPole-v0", small_config(),
                               demonstrations=cartpole_demos)
    with pytest.raises(ConfigError, match="needs an on-policy SB3 agent"):
        PreferenceLearningLoop("RLHF-CartPole-v0", small_config(bc_epochs=5), algorithm="DQN",
                               demonstrations=cartpole_demos)
    with pytest.raises(ConfigError, match="bc_epochs must be >= 0"):
        small_config(bc_epochs=-1)


def test_cli_prefs_warm_starts_from_a_demonstrations_file(cartpole_demos, tmp_path,
                                                          capsys) -> None:
    path = save_demonstrations(cartpole_demos[:2], tmp_path / "expert.npz")
    args = ["prefs", "RLHF-CartPole-v0", "--labels", "6", "--timesteps", "128", "--rounds",
            "2", "--segment-length", "10", "--n-envs", "2", "--ensemble", "2", "--horizon",
            "40", "--demos", str(path), "--demo-pairs", "6", "--out", str(tmp_path / "run")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "warm start: demo_comparisons 6" in out and "bc_loss_last" in out
    assert "round 2: steps 128 labels 6" in out
    assert main([*args[:-2], "--demos", str(tmp_path / "nope.npz")]) == 1
    assert "no demonstrations file" in capsys.readouterr().err
