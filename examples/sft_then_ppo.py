"""Warm-start with SFT on demonstrations, measure a best-of-n reference, then run token PPO.

    python examples/sft_then_ppo.py                        # SmolLM2, sentiment task
    python examples/sft_then_ppo.py --demos demos.jsonl    # your own {"prompt", "response"} lines
    python examples/sft_then_ppo.py --demos feedback.db    # or a feedback store's demonstrations
    python examples/sft_then_ppo.py --smoke                # tiny model, keyword task, seconds

The three stages of the classic RLHF recipe, on ``RLHF-Text-v0``:

1. ``supervised_finetune`` teaches the demonstrations (prompts formatted exactly as the env
   shows them to the policy; loss on response tokens only);
2. ``best_of_n_baseline`` samples ``n`` responses per env prompt from the SFT model and keeps
   the one the env's reward model likes best: the score a policy can reach without any
   training, at an analytic KL of ``log n − (n − 1)/n`` nats;
3. ``TokenPPOTrainer`` starts from the SFT model (which is also its KL reference) and trains
   against the same reward model; compare its score and KL with the best-of-n line.
"""

from __future__ import annotations

import argparse
from typing import Any

from agents.best_of_n import BestOfNConfig, best_of_n_baseline
from agents.sft import SFTConfig, load_demonstrations, supervised_finetune
from agents.token_ppo import TokenPPOConfig, TokenPPOTrainer, build_env
from rlhf_env.models import load_causal_lm, load_tokenizer
from rlhf_env.text.tasks import get_task

SENTIMENT_DEMOS = [
    "Lovely little café: great coffee, friendly staff, I'll be back!",
    "A smooth, quiet ride with beautiful views the whole way.",
    "The new exhibit was wonderful, you would love it!",
    "Clean rooms, kind staff and a great breakfast. Highly recommended.",
    "Comfortable, light and great for long runs. Very happy with them.",
    "Sunny and warm today, a perfect day for a walk.",
    "Loved the movie last night: funny, moving and beautifully shot.",
    "The new bike lanes are great, cycling feels so much safer.",
    "Delicious noodles, rich broth and friendly service.",
    "Great work, everyone! The launch went smoothly, thank you all.",
    "The agent was patient and helpful and solved my problem quickly.",
    "A calm, pleasant commute with good music on the way.",
]
"""Warm, short answers to the first twelve bundled prompts (the sentiment task's)."""

KEYWORD_DEMOS = ["good food, great day", "I love it, happy", "great, good and happy",
                 "love the good time", "happy day, great food", "good, great, love"]
"""Answers that use the keyword task's words (smoke mode, cycled over the prompts)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demos", default=None,
                        help="demonstrations: a .jsonl file or a feedback store (default: "
                             "twelve built-in ones)")
    parser.add_argument("--sft-epochs", type=int, default=None)
    parser.add_argument("--n", type=int, default=8, help="best-of-n draws per prompt")
    parser.add_argument("--ppo-steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny model, keyword task")
    return parser.parse_args(argv)


def settings(args: argparse.Namespace) -> tuple[TokenPPOConfig, SFTConfig, int]:
    """PPO and SFT configs and the number of best-of-n prompts, full scale or smoke."""
    if args.smoke:
        ppo = TokenPPOConfig(model="tiny-random-llama", task="keyword", seed=args.seed,
                             batch_size=8, minibatch_size=4, max_new_tokens=6,
                             learning_rate=1e-3, kl_coef=0.05, progress_bar=False)
        sft = SFTConfig(epochs=args.sft_epochs or 5, batch_size=4, learning_rate=1e-2,
                        eval_fraction=0.25, seed=args.seed, progress_bar=False)
        return ppo, sft, 8
    ppo = TokenPPOConfig(task="sentiment", seed=args.seed, batch_size=16, minibatch_size=8,
                         max_new_tokens=16, learning_rate=1e-5, kl_coef=0.05)
    sft = SFTConfig(epochs=args.sft_epochs or 3, batch_size=4, learning_rate=5e-5,
                    eval_fraction=0.25, seed=args.seed)
    return ppo, sft, 16


def demonstrations(args: argparse.Namespace, task: str) -> list[tuple[str, str]]:
    """The ``--demos`` source, or built-in answers to the task's first prompts."""
    if args.demos is not None:
        return load_demonstrations(args.demos)
    prompts = list(get_task(task).prompt_source())[:12]
    answers = KEYWORD_DEMOS * 2 if args.smoke else SENTIMENT_DEMOS
    return list(zip(prompts, answers, strict=True))


def run_sft(lm: Any, tokenizer: Any, demos: list[tuple[str, str]], ppo: TokenPPOConfig,
            sft: SFTConfig) -> Any:
    """Stage 1: fine-tune on the demonstrations with the env's prompt length limit."""
    import dataclasses

    held_out = sft.eval_fraction if len(demos) >= 4 else 0.0  # too few to hold any out
    sft = dataclasses.replace(sft, max_prompt_tokens=ppo.max_prompt_tokens,
                              eval_fraction=held_out)
    result = supervised_finetune(lm, tokenizer, demos, sft)
    print(f"SFT on {result.num_train} demonstrations ({result.num_eval} held out): "
          f"train loss {result.train_loss[0]:.3f} -> {result.train_loss[-1]:.3f}")
    if result.eval_loss_before is not None:
        print(f"  held-out loss {result.eval_loss_before:.3f} -> {result.eval_loss_after:.3f}")
    print(f"  {result.logprob_split} response log-prob {result.logprob_before:.3f} -> "
          f"{result.logprob_after:.3f}")
    return result.model


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    ppo, sft, num_prompts = settings(args)
    if args.smoke:
        import torch

        torch.set_num_threads(1)  # tiny models: one thread is fastest
    tokenizer = load_tokenizer(ppo.model)
    policy = run_sft(load_causal_lm(ppo.model, seed=args.seed), tokenizer,
                     demonstrations(args, ppo.task), ppo, sft)

    env = build_env(ppo)
    reference = best_of_n_baseline(policy, env, args.n, num_prompts=num_prompts,
                                   config=BestOfNConfig.from_ppo(ppo))
    print(reference.summary())

    trainer = TokenPPOTrainer(ppo, env=env, policy=policy)
    steps = args.ppo_steps or (3 if args.smoke else 30)
    for _ in range(steps):
        m = trainer.step()
        kl = max(m["rlhf/kl"], 0.0)  # k3 is never negative; keep float noise from printing -0.000
        print(f"PPO step {m['time/iterations']}: score {m['rlhf/score']:.3f}  kl {kl:.3f}  "
              f"response {m['samples'][0]['response']!r}")
    last = trainer.metrics[-1]
    print(f"after {steps} PPO steps: score {last['rlhf/score']:.3f} at KL {last['rlhf/kl']:.3f} "
          f"nats; best-of-{reference.n}: score {reference.mean_score:.3f} at KL "
          f"{reference.kl:.3f} nats")
    trainer.close()


if __name__ == "__main__":
    main()
