"""Trace the ``highway`` task's learned arm round by round (the diagnosis in
``benchmarks/results/control_highway_diagnosis.md``).

Runs exactly what the benchmark's ``ppo-learned`` arm runs on ``highway`` (same budget,
rounds, PPO settings and evaluation), and after every round prints one JSON line: the
evaluation's true return (gold), learned return (proxy) and share of crashed episodes, the
training episodes' true return, the reward ensemble's held-out accuracy, its score of the
crashed state, quantiles of its scores over every other state in the segment bank, the mean
score of the last state before a crash, and the actions of one evaluation episode::

    python benchmarks/highway_trace.py --seed 0
    python benchmarks/highway_trace.py --seed 0 --loop '{"lapse_rate": 0.1}'

About 45 min per seed on one core (needs ``rlhf-env[control]``).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from agents.bench.control import sb3_settings
from rlhf_env.bench import Budget, Trial, get_task
from rlhf_env.bench.evaluation import control_returns
from rlhf_env.control.highway import FAILURE_OBSERVATION
from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop, label_schedule
from rlhf_env.control.segments import Segment, failed_steps


def _state_scores(model: Any, states: np.ndarray) -> np.ndarray:
    """The ensemble's state reward ``r(s')`` of each state (the loop's default inputs)."""
    return model.score(states, np.zeros(len(states), dtype=np.int64), states)


def _bank_stats(loop: PreferenceLearningLoop) -> dict[str, Any]:
    segments: list[Segment] = loop.bank.segments()
    live = np.concatenate([s.next_obs[~failed_steps(s)] for s in segments])
    before = [s.next_obs[int(np.argmax(failed_steps(s))) - 1] for s in segments
              if failed_steps(s).any() and np.argmax(failed_steps(s)) > 0]
    crash = np.asarray(FAILURE_OBSERVATION, dtype=np.float32)[None]
    scores = _state_scores(loop.ensemble, live)
    return {"crash_score": round(float(_state_scores(loop.ensemble, crash)[0]), 2),
            "live_min_q05_q50_q95": [round(float(q), 2)
                                     for q in np.quantile(scores, [0, 0.05, 0.5, 0.95])],
            "before_crash_mean": round(float(np.mean(_state_scores(
                loop.ensemble, np.array(before)))), 2) if before else None,
            "segments": len(segments), "failing_segments": len(before)}


def _actions(trial: Trial, agent: Any) -> dict[int, int]:
    env = trial.make_env()
    obs, _ = env.reset(seed=12345)
    used: collections.Counter[int] = collections.Counter()
    for _ in range(40):
        action, _ = agent.predict(obs, deterministic=True)
        used[int(action)] += 1
        obs, *_ = env.step(action)
    env.close()
    return dict(sorted(used.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loop", default="{}", help="further LoopConfig fields, as JSON")
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny budget (two rounds of 256 steps, 20 labels) to check it runs")
    args = parser.parse_args()
    task = get_task("highway")
    if args.smoke:
        task = dataclasses.replace(task, budget=Budget(512, 256, eval_episodes=1, labels=20))
    trial = Trial(task=task, algorithm="ppo-learned", seed=args.seed, env=task.env,
                  run_dir=Path("highway-trace"), options={})
    kwargs, n_envs = sb3_settings(trial, "PPO")
    steps = trial.budget.eval_steps()
    rounds = len(steps) - 1
    config = LoopConfig(total_timesteps=trial.budget.steps, total_labels=trial.budget.labels,
                        rounds=rounds, n_envs=n_envs, seed=args.seed,
                        segment_length=int(task.options["segment_length"]),
                        **json.loads(args.loop))
    loop = PreferenceLearningLoop(task.env.env_id, config, algorithm="PPO",
                                  algorithm_kwargs=kwargs)
    schedule = label_schedule(config.total_labels, rounds, config.initial_label_fraction,
                              config.schedule)
    for r, (before, step) in enumerate(itertools.pairwise(steps)):
        left = config.total_labels - loop.state.labels_used
        metrics = loop.run_round(left if r == rounds - 1 else min(schedule[r], left),
                                 step - before)
        returns = control_returns(trial, loop.agent, loop.ensemble,
                                  failure_reward=loop.venv.failure_reward)
        print(json.dumps({"round": r, "step": step, "gold": round(returns.true, 1),
                          "proxy": round(returns.learned, 1), "crashed": returns.failed,
                          "train_true": round(metrics["rlhf/true_return"], 1),
                          "val_acc": round(metrics["rlhf/reward_val_accuracy"], 3),
                          **_bank_stats(loop), "actions": _actions(trial, loop.agent)}),
              flush=True)


if __name__ == "__main__":
    main()
