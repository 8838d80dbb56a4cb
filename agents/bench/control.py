"""``ppo-learned``, ``sac-learned``, ``ppo-true``, ``sac-true``: control from preferences.

*Learned*: :class:`~rlhf_env.control.PreferenceLearningLoop` with one round per evaluation
interval: each round labels its share of ``budget.labels`` synthetic segment comparisons,
refits the reward ensemble and trains the agent for the interval's env steps on the learned
reward only. *True*: the same SB3 algorithm on the task's own reward (``ppo-true`` is the
normalisation's 1). Every evaluation runs the deterministic policy on evaluation seeds and
reports the true return (gold) and the learned return (proxy; the true return for
``*-true``). PPO uses the task's ``options["ppo"]`` settings and 4 envs; SAC
``options["sac"]`` and 1 env, and needs continuous actions. Both arms take the task's
run-long settings, ``options["run"]`` (a learning rate decayed over the whole trial, not
per ``learn`` call; an optional log_std floor: :mod:`rlhf_env.control.schedules`), so the
learned and the true arm train alike. The learned arm also takes ``options["loop"]``:
further :class:`~rlhf_env.control.LoopConfig` fields (ensemble size, query selection,
labeler noise…), from the task and then the suite.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any

from rlhf_env.bench import EvalPoint, Trial
from rlhf_env.bench.evaluation import control_point, control_returns
from rlhf_env.errors import ConfigError
from rlhf_env.quiet import sb3_without_temp_folder


def sb3_settings(trial: Trial, algorithm: str) -> tuple[dict[str, Any], int]:
    """SB3 constructor kwargs and env count of ``algorithm`` (``"PPO"``/``"SAC"``) on the
    trial's task: the task's settings with PPO rollouts fitted to the evaluation interval.
    A peer library run beside these arms (``benchmarks/bench_control_labels.py``) takes its
    settings from here, so both train with the same ones."""
    if trial.task.kind != "control":
        raise ConfigError(f"{algorithm.lower()} algorithms run control tasks; "
                          f"{trial.task.name!r} is a {trial.task.kind} task.")
    key = algorithm.lower()
    settings = trial.task.options.get(key)
    if settings is None:
        raise ConfigError(f"task {trial.task.name!r} has no {key.upper()} settings "
                          f"(options[{key!r}]); SAC needs a continuous action space, so run "
                          f"the ppo-* algorithms on discrete tasks such as cartpole.")
    n_envs = 4 if key == "ppo" else 1
    return {**_fit_rollouts(settings, trial.budget.eval_every, n_envs),
            **dict(trial.options.get("sb3", {}))}, n_envs


RUN_KEYS = ("lr_final_fraction", "log_std_floor")
"""Run-long settings a control trial takes from ``task.options["run"]``, overridden by the
suite's ``options[algorithm]["run"]`` (see :mod:`rlhf_env.control.schedules`)."""


def _run_settings(trial: Trial) -> dict[str, Any]:
    """The trial's run-long settings (learning-rate decay, log_std floor), for both arms."""
    run = {**trial.task.options.get("run", {}), **trial.options.get("run", {})}
    unknown = sorted(set(run) - set(RUN_KEYS))
    if unknown:
        raise ConfigError(f"unknown run setting(s) {unknown} for task {trial.task.name!r}; "
                          f"control trials take {list(RUN_KEYS)}.")
    return run


HARNESS_LOOP_FIELDS = ("total_timesteps", "total_labels", "rounds", "n_envs", "seed",
                       *RUN_KEYS)
"""LoopConfig fields the harness sets itself (from the budget, the seed, ``run``)."""


def _loop_settings(trial: Trial) -> dict[str, Any]:
    """Further :class:`~rlhf_env.control.LoopConfig` fields for the learned arm, from the
    task's ``options["loop"]`` overridden by the suite's (e.g. ``{"ensemble_size": 5}``),
    so a reward-side variant runs through the harness like any other."""
    from rlhf_env.control.loop import LoopConfig

    loop = {**trial.task.options.get("loop", {}), **trial.options.get("loop", {})}
    allowed = sorted(f.name for f in dataclasses.fields(LoopConfig)
                     if f.name not in HARNESS_LOOP_FIELDS)
    unknown = sorted(set(loop) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown loop setting(s) {unknown} for task {trial.task.name!r}; "
                          f"the learned arm takes {allowed} (budget, rounds, seed and env "
                          f"count come from the task, run-long settings from 'run').")
    return loop


def _fit_rollouts(settings: dict[str, Any], every: int, n_envs: int) -> dict[str, Any]:
    """PPO rollouts no longer than an evaluation interval (short budgets stay honest)."""
    if "n_steps" not in settings:
        return dict(settings)
    n_steps = max(8, min(int(settings["n_steps"]), every // n_envs))
    batch = min(int(settings.get("batch_size", 64)), n_steps * n_envs)
    return {**settings, "n_steps": n_steps, "batch_size": batch}


def run_learned(trial: Trial, algorithm: str) -> Iterator[EvalPoint]:
    from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop, label_schedule

    kwargs, n_envs = sb3_settings(trial, algorithm)
    steps = trial.budget.eval_steps()
    rounds = len(steps) - 1
    settings = {"segment_length": int(trial.task.options.get("segment_length", 25)),
                **_loop_settings(trial)}
    config = LoopConfig(total_timesteps=trial.budget.steps, total_labels=trial.budget.labels,
                        rounds=rounds, n_envs=n_envs, seed=trial.seed, **settings,
                        **_run_settings(trial))
    loop = PreferenceLearningLoop(trial.env.env_id, config, algorithm=algorithm,
                                  algorithm_kwargs=kwargs)
    schedule = label_schedule(config.total_labels, rounds, config.initial_label_fraction,
                              config.schedule)
    yield control_point(trial, 0, control_returns(trial, loop.agent, loop.ensemble))
    for r, (before, step) in enumerate(itertools.pairwise(steps)):
        left = config.total_labels - loop.state.labels_used
        metrics = loop.run_round(left if r == rounds - 1 else min(schedule[r], left),
                                 step - before)
        cap = loop.venv.failure_reward
        returns = control_returns(trial, loop.agent, loop.ensemble, failure_reward=cap)
        yield control_point(trial, step, returns, labels_used=loop.state.labels_used,
                            env_steps=float(loop.agent.num_timesteps),
                            reward_val_accuracy=metrics["rlhf/reward_val_accuracy"],
                            **({} if cap is None else {"failure_reward": cap}))


def run_true(trial: Trial, algorithm: str) -> Iterator[EvalPoint]:
    import stable_baselines3 as sb3
    from stable_baselines3.common.env_util import make_vec_env

    from rlhf_env.control.schedules import rollout_aligned, run_callbacks

    kwargs, n_envs = sb3_settings(trial, algorithm)
    venv = make_vec_env(lambda: trial.make_env(), n_envs=n_envs, seed=trial.seed)
    agent = sb3_without_temp_folder(getattr(sb3, algorithm)("MlpPolicy", venv, seed=trial.seed,
                                                             verbose=0, **kwargs))
    callbacks = run_callbacks(agent, rollout_aligned(trial.budget.steps, agent),
                              **_run_settings(trial))
    for step in trial.budget.eval_steps():
        if step > agent.num_timesteps:
            agent.learn(step - agent.num_timesteps, reset_num_timesteps=False,
                        callback=list(callbacks) or None)
        yield control_point(trial, step, control_returns(trial, agent),
                            env_steps=float(agent.num_timesteps))
    venv.close()


def ppo_learned(trial: Trial) -> Iterator[EvalPoint]:
    """PPO on the reward learned from segment preferences."""
    return run_learned(trial, "PPO")


def sac_learned(trial: Trial) -> Iterator[EvalPoint]:
    """SAC on the reward learned from segment preferences."""
    return run_learned(trial, "SAC")


def ppo_true(trial: Trial) -> Iterator[EvalPoint]:
    """PPO on the true reward."""
    return run_true(trial, "PPO")


def sac_true(trial: Trial) -> Iterator[EvalPoint]:
    """SAC on the true reward."""
    return run_true(trial, "SAC")


for _fn in (ppo_learned, sac_learned, ppo_true, sac_true):
    _fn.kinds = ("control",)  # type: ignore[attr-defined]
