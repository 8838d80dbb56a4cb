"""Run-long learning-rate schedules and the log_std floor (issue 14), alone and in the loop."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from stable_baselines3 import PPO

import rlhf_env  # noqa: F401  (registers the ids)
from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop
from rlhf_env.control.schedules import (
    LogStdFloor,
    RunSchedule,
    log_std_parameter,
    rollout_aligned,
    run_callbacks,
)
from rlhf_env.errors import ConfigError

PPO_TINY = {"n_steps": 64, "batch_size": 32, "n_epochs": 2}


def _pendulum_ppo(**kwargs) -> PPO:
    return PPO("MlpPolicy", gym.make("RLHF-Pendulum-v0", horizon=64), seed=0, verbose=0,
               **{**PPO_TINY, **kwargs})


def _learning_rates(agent: PPO) -> list[float]:
    return [group["lr"] for group in agent.policy.optimizer.param_groups]


def test_run_schedule_is_linear_then_flat_and_validated() -> None:
    schedule = RunSchedule(1e-3, 1e-4, 1000)
    assert schedule.value(0) == pytest.approx(1e-3)
    assert schedule.value(500) == pytest.approx(5.5e-4)
    assert schedule.value(1000) == pytest.approx(1e-4)
    assert schedule.value(5000) == pytest.approx(1e-4)
    with pytest.raises(ConfigError, match=r"RunSchedule\.horizon"):
        RunSchedule(1e-3, 0.0, 0)


def _rates_per_update(agent: PPO, rounds: int, steps: int, callbacks=None) -> list[float]:
    """The learning rate of each PPO update over ``rounds`` learn calls of ``steps``."""
    seen: list[float] = []
    agent.policy.optimizer.register_step_pre_hook(
        lambda opt, *_: seen.append(opt.param_groups[0]["lr"]))
    for _ in range(rounds):
        agent.learn(steps, reset_num_timesteps=False, callback=callbacks)
    return seen[::4]  # 64 steps, batches of 32, 2 epochs: 4 optimiser steps per update


def test_learning_rate_follows_the_run_not_the_learn_call() -> None:
    agent = _pendulum_ppo(learning_rate=1e-3)
    callbacks = run_callbacks(agent, 256, lr_final_fraction=0.0)
    # Two "rounds" of 128 steps (two 64-step rollouts each): the updates at 64, 128, 192
    # and 256 steps of the run's 256 use 1e-3 * (1 - steps / 256).
    rates = _rates_per_update(agent, 2, 128, callbacks)
    assert rates == pytest.approx([7.5e-4, 5e-4, 2.5e-4, 0.0], abs=1e-12)
    # Between calls the agent's own (constant) schedule is back, so it saves as before.
    assert agent.lr_schedule(0.5) == pytest.approx(1e-3)


def test_without_the_callback_sb3_restarts_its_schedule_each_call() -> None:
    """What the run-long schedule fixes: SB3's progress is per ``learn`` call."""
    agent = _pendulum_ppo(learning_rate=lambda progress: 1e-3 * progress)
    # Call 1 runs progress 1 → 0 over its 128 steps; call 2 starts again at 1 - 192/256.
    rates = _rates_per_update(agent, 2, 128)
    assert rates == pytest.approx([5e-4, 0.0, 2.5e-4, 0.0], abs=1e-12)


@pytest.mark.parametrize("use_sde", [False, True])
def test_log_std_floor_holds_after_learn(use_sde: bool) -> None:
    kwargs = {"use_sde": True, "sde_sample_freq": 4} if use_sde else {}
    agent = _pendulum_ppo(learning_rate=0.05, policy_kwargs={"log_std_init": -1.0}, **kwargs)
    param = log_std_parameter(agent)
    with torch.no_grad():
        param.fill_(-1.0)
        param[0].fill_(-3.0)  # start one entry below the floor
    floor = LogStdFloor(-1.2)
    agent.learn(256, callback=[floor])
    assert float(param.detach().min()) >= -1.2 - 1e-6
    assert float(param.detach().max()) != pytest.approx(-1.0)  # training still moved it
    # With no floor the same large steps push some entry below -1.2 (so the test can fail).
    bare = _pendulum_ppo(learning_rate=0.05, policy_kwargs={"log_std_init": -1.0}, **kwargs)
    bare.learn(256)
    assert float(log_std_parameter(bare).detach().min()) < -1.2
    assert not bare.policy.optimizer._optimizer_step_post_hooks


def test_floor_hook_is_removed_after_learn() -> None:
    agent = _pendulum_ppo()
    agent.learn(64, callback=[LogStdFloor(-2.0)])
    assert not agent.policy.optimizer._optimizer_step_post_hooks


def test_floor_refuses_a_policy_without_log_std() -> None:
    agent = PPO("MlpPolicy", gym.make("RLHF-CartPole-v0", horizon=32), n_steps=32,
                batch_size=32, seed=0)
    with pytest.raises(ConfigError, match="log_std_floor needs a policy with a log_std"):
        run_callbacks(agent, 100, log_std_floor=-2.0)
    assert run_callbacks(agent, 100) == []


def test_rollout_aligned_rounds_up_to_whole_rollouts() -> None:
    agent = _pendulum_ppo()  # 64 steps x 1 env per rollout
    assert rollout_aligned(150, agent) == 192 and rollout_aligned(128, agent) == 128


def test_loop_config_validates_the_run_settings() -> None:
    with pytest.raises(ConfigError, match="lr_final_fraction"):
        LoopConfig(lr_final_fraction=1.5)
    with pytest.raises(ConfigError, match="log_std_floor"):
        LoopConfig(log_std_floor=float("nan"))


def test_loop_decays_the_rate_over_all_rounds_and_floors_log_std() -> None:
    config = LoopConfig(total_timesteps=384, total_labels=20, rounds=3, segment_length=10,
                        n_envs=2, ensemble_size=2, reward_epochs=2, horizon=40,
                        lr_final_fraction=0.1, log_std_floor=-0.5)
    loop = PreferenceLearningLoop("RLHF-Pendulum-v0", config,
                                  algorithm_kwargs={"n_steps": 32, "batch_size": 32,
                                                    "n_epochs": 2, "learning_rate": 2e-3})
    rates = []
    for _ in range(3):
        loop.run_round(5, 128)
        rates.append(_learning_rates(loop.agent)[0])
    # 128 steps a round = two 64-step rollouts; the last update of round k is at 128k of 384.
    assert rates == pytest.approx([2e-3 - (2e-3 - 2e-4) * k / 3 for k in (1, 2, 3)])
    assert float(log_std_parameter(loop.agent).detach().min()) >= -0.5 - 1e-6


def test_loop_refuses_a_floor_on_discrete_actions() -> None:
    with pytest.raises(ConfigError, match="log_std_floor needs"):
        PreferenceLearningLoop("RLHF-CartPole-v0",
                               LoopConfig(total_timesteps=256, total_labels=10, rounds=2,
                                          n_envs=1, log_std_floor=-1.0),
                               algorithm_kwargs={"n_steps": 32, "batch_size": 32})
