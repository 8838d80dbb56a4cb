"""The peer arm of ``bench_control_labels.py``: imitation's preference comparisons, one trial.

Runs in the peer's own venv (``scripts/setup_imitation.sh`` → ``.venv-imitation``: imitation
1.0.1 with gymnasium 0.29 and SB3 2.2), never in ours, so it imports nothing from this
repository. The parent writes a JSON settings file and runs::

    .venv-imitation/bin/python benchmarks/imitation_runner.py SETTINGS.json RESULT.jsonl

and this writes one JSON line to ``RESULT.jsonl`` (whole, by renaming a finished file) for
the (labels, seed) asked: the true and learned returns of the deterministic policy at step 0
and after every round, the final one, the env steps PPO really took, the comparisons used
and the library versions.

The set-up follows imitation's own preference-comparisons example, with the parts the
benchmark fixes replaced by ours:

* env: ``HalfCheetah-v4`` (gymnasium 0.29 has no v5; same model, observation, reward and
  1000-step episodes that never terminate, i.e. the fixed-horizon form our
  ``RLHF-HalfCheetah-v0`` makes of ``HalfCheetah-v5``), ``n_envs`` copies;
* agent: SB3 PPO ``MlpPolicy`` with the settings given (ours for the task), trained on the
  learned reward only (``AgentTrainer``, imitation's ``exploration_frac`` 0.05);
* reward: ``BasicRewardNet`` (state and action inputs, input normalisation) trained by
  ``BasicRewardTrainer`` (cross-entropy, 3 epochs per round, 4× in the first);
* labels: ``SyntheticGatherer`` (Boltzmann over true fragment returns at ``temperature``, no
  slips), ``RandomFragmenter``, fragments of ``fragment_length`` steps, 10% of the
  comparisons before the agent trains and the rest on imitation's ``"hyperbolic"`` schedule.

Rounds: imitation's ``train(total_timesteps, total_comparisons)`` trains the agent once after
the initial comparisons and once per iteration, i.e. ``num_iterations + 1`` times for
``total_timesteps / num_iterations`` steps each. To train ``rounds`` times for ``steps /
rounds`` each, as our loop does, it is given ``num_iterations = rounds − 1`` and
``total_timesteps = steps · (rounds − 1) / rounds``; the line records the steps PPO took.
"""

from __future__ import annotations

import json
import os
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

REQUIRED = ("labels", "seed", "env_id", "horizon", "steps", "rounds", "fragment_length",
            "n_envs", "ppo", "eval_seeds", "temperature")


def build(cfg: dict[str, Any]) -> tuple[Any, Any, Any]:
    """``(pref_comparisons, agent, reward_net)`` wired as the module docstring says."""
    import numpy as np
    from imitation.algorithms import preference_comparisons as pc
    from imitation.data.wrappers import RolloutInfoWrapper
    from imitation.rewards.reward_nets import BasicRewardNet
    from imitation.util.networks import RunningNorm
    from imitation.util.util import make_vec_env
    from stable_baselines3 import PPO

    rng = np.random.default_rng(cfg["seed"])
    venv = make_vec_env(cfg["env_id"], rng=rng, n_envs=cfg["n_envs"],
                        max_episode_steps=cfg["horizon"],
                        post_wrappers=[lambda env, _: RolloutInfoWrapper(env)])
    reward_net = BasicRewardNet(venv.observation_space, venv.action_space,
                                normalize_input_layer=RunningNorm)
    agent = PPO("MlpPolicy", venv, seed=cfg["seed"], verbose=0, **cfg["ppo"])
    trainer = pc.BasicRewardTrainer(preference_model=pc.PreferenceModel(reward_net),
                                    loss=pc.CrossEntropyRewardLoss(), epochs=3, rng=rng)
    generator = pc.AgentTrainer(algorithm=agent, reward_fn=reward_net, venv=venv,
                                exploration_frac=0.05, rng=rng)
    algo = pc.PreferenceComparisons(
        generator, reward_net, num_iterations=cfg["rounds"] - 1,
        fragmenter=pc.RandomFragmenter(warning_threshold=0, rng=rng),
        preference_gatherer=pc.SyntheticGatherer(temperature=cfg["temperature"], rng=rng),
        reward_trainer=trainer, fragment_length=cfg["fragment_length"],
        transition_oversampling=1, initial_comparison_frac=0.1, allow_variable_horizon=False,
        initial_epoch_multiplier=4, query_schedule="hyperbolic")
    return algo, agent, reward_net


def returns(agent: Any, reward_net: Any, cfg: dict[str, Any]) -> tuple[float, float]:
    """``(true, learned)``: mean returns of the deterministic policy on ``cfg["eval_seeds"]``
    (one ``horizon``-step episode each, on a fresh env), under the true reward and under
    the reward net."""
    import gymnasium as gym
    import numpy as np

    env = gym.make(cfg["env_id"], max_episode_steps=cfg["horizon"])
    true_total = learned_total = 0.0
    for seed in cfg["eval_seeds"]:
        obs, _ = env.reset(seed=int(seed))
        steps: list[tuple[Any, Any, Any, bool]] = []
        done = False
        while not done:
            action, _ = agent.predict(obs, deterministic=True)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            true_total += float(reward)
            done = terminated or truncated
            steps.append((obs, action, next_obs, done))
            obs = next_obs
        o, a, n, d = (np.array(x) for x in zip(*steps, strict=True))
        learned_total += float(np.sum(reward_net.predict(o, a, n, d)))
    env.close()
    episodes = len(cfg["eval_seeds"])
    return true_total / episodes, learned_total / episodes


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Train one (labels, seed) trial; the JSON line's content."""
    import torch

    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise SystemExit(f"imitation_runner: the settings file lacks {missing}")
    if cfg["rounds"] < 2:
        raise SystemExit("imitation_runner: rounds must be >= 2 (imitation trains the agent "
                         "after its initial comparisons and once per iteration)")
    torch.set_num_threads(int(cfg.get("threads", 1)))
    t0 = time.perf_counter()
    algo, agent, reward_net = build(cfg)
    rounds = cfg["rounds"]
    points: list[dict[str, Any]] = []

    def evaluate(iteration: int) -> None:
        step = min(cfg["steps"], (iteration + 1) * cfg["steps"] // rounds)
        gold, proxy = returns(agent, reward_net, cfg)
        points.append({"step": step, "gold": gold, "proxy": proxy,
                       "labels_used": len(algo.dataset), "env_steps": int(agent.num_timesteps),
                       "wall_time": time.perf_counter() - t0})

    evaluate(-1)

    stats = algo.train(total_timesteps=cfg["steps"] * (rounds - 1) // rounds,
                       total_comparisons=cfg["labels"], callback=evaluate)
    return {"labels": cfg["labels"], "seed": cfg["seed"], "final_return": points[-1]["gold"],
            "env_steps": int(agent.num_timesteps), "comparisons": len(algo.dataset),
            "reward_accuracy": _number(stats.get("reward_accuracy")),
            "wall_seconds": time.perf_counter() - t0, "points": points,
            "versions": {d: _version(d) for d in ("imitation", "gymnasium",
                                                  "stable-baselines3", "torch", "mujoco")}}


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    cfg = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    line = json.dumps(run(cfg))
    out = Path(argv[1])
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(line + "\n", encoding="utf-8")
    os.replace(tmp, out)  # the parent never reads half a line
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
