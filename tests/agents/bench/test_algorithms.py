"""Every built-in algorithm runs one tiny trial and yields valid EvalPoints at the right steps."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from rlhf_env.bench import Budget, EvalPoint, get_algorithm, get_task
from rlhf_env.errors import ConfigError

TINY = {"model": "tiny-random-llama"}
TEXT_OPTIONS = {
    "sb3-ppo": {**TINY, "num_envs": 2},
    "sb3-a2c": {**TINY, "num_envs": 2},
    "sb3-ppo-token": {**TINY, "num_envs": 2, "sb3": {"n_steps": 4, "batch_size": 8}},
    "token-ppo-gae": {**TINY, "batch_size": 4, "minibatch_size": 4, "learning_rate": 1e-3},
    "token-ppo-rloo": {**TINY, "batch_size": 4, "minibatch_size": 4, "learning_rate": 1e-3},
    "token-ppo-grpo": {**TINY, "batch_size": 4, "minibatch_size": 4, "learning_rate": 1e-3},
    "best-of-n": TINY,
    "random": TINY,
}


def _check(points: list[EvalPoint], budget: Budget, *, text: bool) -> None:
    assert [p.step for p in points] == budget.eval_steps()
    for p in points:
        assert math.isfinite(p.proxy) and math.isfinite(p.gold)
        assert (p.kl is not None and math.isfinite(p.kl)) if text else p.kl is None
        assert p.wall_time >= 0
    assert [p.wall_time for p in points] == sorted(p.wall_time for p in points)


@pytest.mark.parametrize("name", sorted(TEXT_OPTIONS))
def test_text_algorithm_runs_a_tiny_trial(name, text_task, make_trial):
    trial = make_trial(text_task, name, **TEXT_OPTIONS[name])
    points = list(get_algorithm(name).run(trial))
    _check(points, text_task.budget, text=True)
    assert points[0].kl == pytest.approx(0.0, abs=1e-6)  # nothing moved yet


def test_trained_token_ppo_moves_away_from_its_reference(text_task, make_trial):
    points = list(get_algorithm("token-ppo-gae").run(
        make_trial(text_task, "token-ppo-gae", **TEXT_OPTIONS["token-ppo-gae"])))
    assert points[-1].kl != 0.0 and points[-1].extra["episodes"] == text_task.budget.steps


@pytest.mark.parametrize("name", ["token-ppo-grpo", "token-ppo-gae"])
def test_token_ppo_at_zero_beta_still_reports_the_evaluation_kl(name, text_task, make_trial):
    """A fixed β = 0 skips the trainer's reference pass (so no training KL), but the
    benchmark's own evaluation still measures KL to the start, and the policy moves."""
    trial = make_trial(text_task, name, **{**TEXT_OPTIONS[name], "kl_coef": 0.0})
    points = list(get_algorithm(name).run(trial))
    _check(points, text_task.budget, text=True)
    assert points[-1].extra["kl_coef"] == 0.0 and "train_kl" not in points[-1].extra
    assert points[-1].kl != 0.0


def test_best_of_n_traces_k_from_1_to_n_with_the_analytic_kl(text_task, make_trial):
    points = list(get_algorithm("best-of-n").run(make_trial(text_task, "best-of-n", **TINY)))
    assert [p.extra["k"] for p in points] == [1, 2, 4]
    assert points[-1].kl == pytest.approx(math.log(4) - 3 / 4)
    assert [p.proxy for p in points] == sorted(p.proxy for p in points)


def test_sb3_bandit_rollouts_stay_within_the_budget(text_task, make_trial):
    points = list(get_algorithm("sb3-ppo").run(make_trial(text_task, "sb3-ppo",
                                                          **TEXT_OPTIONS["sb3-ppo"])))
    assert [p.extra["episodes"] for p in points] == [0, 4, 8]


@pytest.mark.parametrize("name", ["ppo-learned", "ppo-true", "random"])
def test_control_algorithm_runs_a_tiny_trial(name, control_task, make_trial):
    points = list(get_algorithm(name).run(make_trial(control_task, name)))
    _check(points, control_task.budget, text=False)
    if name == "ppo-learned":
        assert points[-1].labels_used == control_task.budget.labels
        assert points[-1].extra["env_steps"] == control_task.budget.steps
    else:  # the true reward is what they optimise: proxy = gold
        assert all(p.proxy == p.gold for p in points)


def test_control_evaluations_report_failures_and_the_learned_arms_cap(control_task,
                                                                         make_trial):
    """CartPole can fail: every evaluation carries the share of failed episodes; with
    ``failure_floor`` the learned arm reports its cap, and the evaluation's proxy applies it
    as training did (so the proxy is never above what the capped reward pays)."""
    from rlhf_env.bench.evaluation import control_returns

    random_points = list(get_algorithm("random").run(make_trial(control_task, "random")))
    assert all(p.extra["failed"] == 1.0 for p in random_points)  # random CartPole falls
    trial = make_trial(control_task, "ppo-learned", loop={"failure_floor": True})
    points = list(get_algorithm("ppo-learned").run(trial))
    assert all(0.0 <= p.extra["failed"] <= 1.0 for p in points)
    caps = [p.extra["failure_reward"] for p in points[1:]]
    assert len(caps) == len(points) - 1 and all(np.isfinite(caps))

    class Five:
        name = "five"

        def score(self, obs, act, next_obs):
            return np.full(len(obs), 5.0, dtype=np.float32)

    class Left:
        def __init__(self, action=0):
            self.action = action

        def predict(self, obs, deterministic=True):
            return self.action, None

    plain = control_returns(trial, Left(), Five(), episodes=1)
    capped = control_returns(trial, Left(), Five(), episodes=1, failure_reward=-1.0)
    horizon = plain.learned / 5.0
    assert plain.failed == capped.failed == 1.0 and capped.learned < plain.learned
    failed_steps = (plain.learned - capped.learned) / 6.0
    assert failed_steps == pytest.approx(round(failed_steps)) and 0 < failed_steps < horizon
    pendulum = dataclasses.replace(get_task("pendulum"), budget=control_task.budget)
    assert control_returns(make_trial(pendulum, "random"), Left(np.zeros(1)),
                           episodes=1).failed == 0.0  # Pendulum cannot fail


@pytest.mark.parametrize("name", ["sac-learned", "sac-true"])
def test_sac_runs_on_pendulum(name, make_trial):
    task = dataclasses.replace(get_task("pendulum"), budget=Budget(
        steps=128, eval_every=64, eval_episodes=1, labels=10))
    points = list(get_algorithm(name).run(make_trial(task, name, sb3={"learning_starts": 32})))
    _check(points, task.budget, text=False)  # asserts steps, finiteness, no KL, wall times
    used = [p.labels_used for p in points]
    assert used == sorted(used) and used[-1] <= task.budget.labels  # never over the budget
    if name == "sac-true":
        assert used[-1] == 0 and all(p.proxy == p.gold for p in points)


def test_sac_on_a_discrete_task_says_to_use_ppo(control_task, make_trial):
    with pytest.raises(ConfigError, match="continuous action space"):
        next(iter(get_algorithm("sac-true").run(make_trial(control_task, "sac-true"))))


def test_text_algorithms_refuse_control_tasks(control_task, make_trial):
    with pytest.raises(ConfigError, match="runs text tasks"):
        next(iter(get_algorithm("token-ppo-gae").run(make_trial(control_task, "x"))))


@pytest.mark.parametrize("name", ["ppo-learned", "ppo-true"])
def test_both_control_arms_take_the_run_settings(name, control_task, make_trial):
    """The suite's ``run`` settings reach the learned and the true arm alike (issue 14)."""
    with pytest.raises(ConfigError, match="log_std_floor needs a policy with a log_std"):
        next(iter(get_algorithm(name).run(make_trial(control_task, name,
                                                     run={"log_std_floor": -1.0}))))
    with pytest.raises(ConfigError, match="lr_final_fraction"):
        next(iter(get_algorithm(name).run(make_trial(control_task, name,
                                                     run={"lr_final_fraction": 2.0}))))
    with pytest.raises(ConfigError, match=r"unknown run setting\(s\) \['lr'\]"):
        next(iter(get_algorithm(name).run(make_trial(control_task, name, run={"lr": 0.0}))))


def test_the_learned_arm_takes_loop_settings(control_task, make_trial, monkeypatch):
    """``options["loop"]`` reaches the learned arm's LoopConfig; fields the harness owns and
    unknown ones are refused with the list of allowed ones."""
    from rlhf_env.control import loop as loop_module

    seen = []
    real = loop_module.PreferenceLearningLoop.__init__

    def spy(self, env_id, config=None, **kwargs):
        seen.append(config)
        real(self, env_id, config, **kwargs)

    monkeypatch.setattr(loop_module.PreferenceLearningLoop, "__init__", spy)
    trial = make_trial(control_task, "ppo-learned", loop={"ensemble_size": 5,
                                                          "candidates_per_label": 2})
    next(iter(get_algorithm("ppo-learned").run(trial)))
    assert seen[0].ensemble_size == 5 and seen[0].candidates_per_label == 2
    assert seen[0].segment_length == 25  # the task's own setting is kept
    for bad in ({"rounds": 3}, {"ensemble": 5}):
        with pytest.raises(ConfigError, match=r"unknown loop setting.*ensemble_size"):
            next(iter(get_algorithm("ppo-learned").run(
                make_trial(control_task, "ppo-learned", loop=bad))))
