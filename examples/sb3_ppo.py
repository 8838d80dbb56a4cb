"""Stock Stable-Baselines3 PPO on ``RLHF-Text-v0``, through the batched SB3 adapter.

    python examples/sb3_ppo.py                       # default task (sentiment, SmolLM2 tokens)
    python examples/sb3_ppo.py --timesteps 20000 --out runs/ppo --tensorboard runs/tb
    python examples/sb3_ppo.py --smoke               # tiny model, keyword task, seconds

The policy is SB3's ``MultiInputPolicy`` (an MLP over the prompt's token ids) choosing every
response token from the task's restricted action vocabulary. ``RLHFMetricsCallback`` logs
the shared ``rlhf/`` metrics (reward-model score, gold score, reward, KL when the env has a
reference model, …: :mod:`rlhf_env.metrics`; TensorBoard with ``--tensorboard``); the
script prints sample responses before and after training.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agents.sb3 import RLHFMetricsCallback, collect_episodes, make_ppo, make_vec_env, mean_of


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default=None, help="sentiment (default), keyword or length")
    parser.add_argument("--timesteps", type=int, default=8192, help="episodes to train on")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--kl-coef", type=float, default=0.0,
                        help="weight of log π_ref (loads the reference LM when > 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="folder for metrics CSV/JSON")
    parser.add_argument("--tensorboard", type=Path, default=None, help="TensorBoard log folder")
    parser.add_argument("--smoke", action="store_true", help="tiny model, keyword task")
    return parser.parse_args(argv)


def env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Env settings: the bundled defaults, or a tiny model and 12 actions with ``--smoke``."""
    if args.smoke:
        return {"model": "tiny-random-llama", "task": args.task or "keyword",
                "action_vocab": 12, "max_response_tokens": 4, "max_prompt_tokens": 32}
    kwargs: dict[str, Any] = {"action_vocab": "task", "max_response_tokens": 8,
                              "kl_coef": args.kl_coef}
    return kwargs | ({"task": args.task} if args.task else {})


def show(title: str, episodes: list[dict[str, Any]]) -> None:
    """Print a few episodes and the mean scores."""
    print(f"== {title}")
    for info in episodes[:4]:
        gold = f"  gold {info['gold_score']:+.3f}" if "gold_score" in info else ""
        print(f"  score {info['score']:+.3f}{gold}  {info['prompt'][:40]!r} -> "
              f"{info['response']!r}")
    print(f"  mean score {mean_of(episodes):+.3f}", end="")
    gold_mean = mean_of(episodes, "gold_score")
    print("" if gold_mean != gold_mean else f"  mean gold {gold_mean:+.3f}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.smoke:
        import torch

        torch.set_num_threads(1)  # tiny MLPs: one thread is fastest
        args.timesteps = min(args.timesteps, 512)
    kwargs = env_kwargs(args)
    env = make_vec_env(args.num_envs, seed=args.seed, **kwargs)
    eval_env = make_vec_env(args.num_envs, seed=args.seed + 10_000, **kwargs)
    model = make_ppo(env, seed=args.seed, ent_coef=args.kl_coef,
                     tensorboard_log=None if args.tensorboard is None else str(args.tensorboard))
    show("before training", collect_episodes(model, eval_env, 16))
    callback = RLHFMetricsCallback(verbose=0)
    model.learn(args.timesteps, callback=callback, progress_bar=not args.smoke)
    eval_env.seed(args.seed + 10_000)
    show("after training", collect_episodes(model, eval_env, 16))
    if args.out is not None:
        print(f"metrics: {callback.save_history(args.out / 'metrics.csv')}, "
              f"{callback.save_history(args.out / 'metrics.json')}")


if __name__ == "__main__":
    main()
