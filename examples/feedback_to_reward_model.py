"""From feedback to a reward model, end to end.

A small crowd of simulated annotators (VADER as their hidden judgement, each with their own
noise and a length bias) compares pairs of responses; the comparisons go into a
FeedbackStore; the quality report shows agreement and per-annotator numbers; a reward model
is trained on the comparisons, evaluated on held-out ones, saved, and plugged into
RLHF-Text-v0 by its folder path.

    python examples/feedback_to_reward_model.py            # MiniLM backbone, ~1-2 min
    python examples/feedback_to_reward_model.py --smoke    # tiny random backbone, seconds
    python examples/feedback_to_reward_model.py --out runs/feedback   # keep store and model
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import gymnasium as gym

import rlhf_env  # noqa: F401  (registers the envs)
from rlhf_env.feedback import FeedbackStore
from rlhf_env.feedback.learning.evaluation import evaluate
from rlhf_env.feedback.learning.labelers import (
    ComparisonQuery,
    SyntheticLabeler,
    SyntheticLabelerConfig,
    sample_population,
)
from rlhf_env.feedback.learning.training import RewardModelTrainer, RewardTrainerConfig
from rlhf_env.feedback.report import build_report, format_text
from rlhf_env.rewards import EncoderHeadReward, make_reward_model
from rlhf_env.text.words import SENTIMENT_WORDS


def random_responses(n: int, seed: int) -> list[str]:
    """Short responses built from the sentiment task's words (stand-ins for policy samples)."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(SENTIMENT_WORDS[:-4], k=rng.randint(3, 8))) for _ in range(n)]


def collect_comparisons(n_pairs: int, seed: int) -> list:
    """Three simulated annotators label every pair once; 20% of the pairs are labeled by all
    three, so agreement can be measured."""
    population = sample_population(3, seed=seed, temperature=0.2, error_rate=0.05,
                                   length_bias_std=0.05)
    labeler = SyntheticLabeler(make_reward_model("vader"),
                               SyntheticLabelerConfig(population=population), seed=seed)
    texts = random_responses(2 * n_pairs, seed)
    queries = [ComparisonQuery("Write a one-line review.", texts[2 * i], texts[2 * i + 1],
                               task="sentiment") for i in range(n_pairs)]
    shared = queries[: n_pairs // 5]
    return labeler.label(queries) + labeler.label(shared) + labeler.label(shared)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny backbone, few labels")
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the store and the reward model here (default: a temporary "
                             "folder, removed at the end)")
    args = parser.parse_args()
    if args.out is not None:
        run(args, args.out)
        return
    with tempfile.TemporaryDirectory(prefix="rlhf-feedback-") as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, work: Path) -> None:
    """Collect → store → report → train → evaluate → save → use, writing under ``work``."""
    n_pairs, backbone = (120, "tiny-random-bert") if args.smoke else (1500, "all-minilm-l6-v2")

    records = collect_comparisons(n_pairs, seed=0)
    work.mkdir(parents=True, exist_ok=True)
    with FeedbackStore(work / "feedback.sqlite") as store:
        store.add_many(records)
        print(format_text(build_report(store)))
        labeled = store.records()
    cut = int(0.8 * len(labeled))
    model = EncoderHeadReward(backbone=backbone, input_format="response")
    config = RewardTrainerConfig(epochs=2 if args.smoke else 4, freeze_backbone=True,
                                 head_lr=3e-3, seed=0)
    result = RewardModelTrainer(config).fit(model, labeled[:cut])
    report = evaluate(result.model, labeled[cut:])
    print(f"trained on {cut} comparisons in {result.seconds:.1f} s; held-out pairwise "
          f"accuracy {report.pairwise_accuracy:.3f} on {report.n_pairs} pairs")

    folder = work / "reward-model"
    result.model.save_pretrained(folder)
    env = gym.make("RLHF-Text-v0", reward_model=str(folder),
                   model="tiny-random-llama" if args.smoke else "smollm2-135m-instruct",
                   action_vocab="task", max_response_tokens=6)
    env.reset(seed=0)
    info = env.step(env.action_space.sample())[4]
    env.close()
    print(f"RLHF-Text-v0 with the trained reward model: {info['response']!r} -> score "
          f"{info['score']:+.3f}")

if __name__ == "__main__":
    main()
