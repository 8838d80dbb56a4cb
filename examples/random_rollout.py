"""Random responses on ``RLHF-Text-v0``: what the env shows an agent and how it scores.

    python examples/random_rollout.py                  # the default task (sentiment, SmolLM2)
    python examples/random_rollout.py --task length    # a rule-based task
    python examples/random_rollout.py --smoke          # tiny model, keyword task, seconds

Each episode is one prompt and one whole response (a random action = random tokens from the
restricted action vocabulary). The output shows the prompt, the decoded response, the raw
reward-model score and, when the task has one, the independent gold score.
"""

from __future__ import annotations

import argparse

import gymnasium as gym

import rlhf_env  # noqa: F401  (registers RLHF-Text-v0)

SMOKE_KWARGS = {"model": "tiny-random-llama", "max_prompt_tokens": 32, "max_response_tokens": 6}
"""A tiny random Llama and the shipped tiny tokenizer: builds in a second, no downloads."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default=None, help="sentiment (default), keyword or length")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny model and a rule task")
    return parser.parse_args(argv)


def make_env(args: argparse.Namespace) -> gym.Env:
    """The default env (or the chosen task) with a restricted action vocabulary."""
    kwargs: dict = {"action_vocab": "task", "render_mode": "ansi"}
    if args.smoke:
        kwargs |= {**SMOKE_KWARGS, "task": args.task or "keyword"}
    elif args.task:
        kwargs["task"] = args.task
    return gym.make("RLHF-Text-v0", **kwargs)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    env = make_env(args)
    env.action_space.seed(args.seed)
    scores = []
    for episode in range(args.episodes):
        env.reset(seed=args.seed + episode)
        _, reward, _, _, info = env.step(env.action_space.sample())
        scores.append(info["score"])
        print(f"--- episode {episode}  reward {reward:+.3f}")
        print(env.render(), end="")
    print(f"mean score over {len(scores)} random responses: {sum(scores) / len(scores):+.3f}")


if __name__ == "__main__":
    main()
