"""Plug a plain Python function in as the reward model, then train PPO against it.

    python examples/custom_reward_function.py           # SmolLM2 tokens, the task's words
    python examples/custom_reward_function.py --smoke   # tiny model, seconds

``reward_model=`` accepts any function ``fn(prompt: str, response: str) -> float`` (or a
batched ``fn(prompts, responses) -> array``); the env wraps it, checks its scores (NaN/inf
or wrong shapes raise a clear error) and calls it once per batch of responses. Here the
function rewards enthusiasm: each exclamation mark, and the word "thanks" (when the tokenizer
has it), up to a cap, minus a little for every other word.
"""

from __future__ import annotations

import argparse
from typing import Any

from agents.sb3 import RLHFMetricsCallback, collect_episodes, make_ppo, make_vec_env, mean_of


def enthusiasm(prompt: str, response: str) -> float:
    """+1 per "!" or "thanks" (at most 3), −0.1 per other word: short, excited replies win."""
    words = response.lower().split()
    cheers = response.count("!") + words.count("thanks")
    others = sum(1 for w in words if w.strip("!") not in ("", "thanks"))
    return float(min(cheers, 3)) - 0.1 * others


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny model, a few hundred steps")
    return parser.parse_args(argv)


def env_kwargs(smoke: bool) -> dict[str, Any]:
    """The task's prompts and words; only the reward model is replaced by our function."""
    kwargs: dict[str, Any] = {"task": "keyword", "reward_model": enthusiasm,
                              "action_vocab": ["!", "thanks", "good", "the", "day", "very"]}
    if smoke:
        kwargs |= {"model": "tiny-random-llama", "max_response_tokens": 4,
                   "max_prompt_tokens": 32, "action_vocab": ["!", "good", "the", "day", "very"]}
    return kwargs


def report(title: str, episodes: list[dict[str, Any]]) -> None:
    """Print each response with its score and the function's own value, to show they agree."""
    print(f"== {title}")
    for info in episodes[:4]:
        print(f"  score {info['score']:+.3f}  enthusiasm() {enthusiasm('', info['response']):+.3f}"
              f"  {info['response']!r}")
    print(f"  mean score {mean_of(episodes):+.3f}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.smoke:
        import torch

        torch.set_num_threads(1)
        args.timesteps = min(args.timesteps, 512)
    env = make_vec_env(8, seed=args.seed, **env_kwargs(args.smoke))
    eval_env = make_vec_env(8, seed=args.seed + 1, **env_kwargs(args.smoke))
    print(f"reward model: {enthusiasm.__name__} (a plain Python function)")
    model = make_ppo(env, seed=args.seed)
    report("before training", collect_episodes(model, eval_env, 8))
    model.learn(args.timesteps, callback=RLHFMetricsCallback())
    eval_env.seed(args.seed + 1)
    report("after training", collect_episodes(model, eval_env, 8))


if __name__ == "__main__":
    main()
