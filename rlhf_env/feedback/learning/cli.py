"""``rlhf-env rm``: train a reward model from feedback, and evaluate a saved one.

    rlhf-env rm train fb.sqlite --out rm/ [--backbone NAME] [--epochs N] [--task T]
                      [--config rm.toml] [--set trainer.head_lr=1e-3 …]
    rlhf-env rm eval rm/ held_out.jsonl [--task T] [--json]

``train`` reads a feedback store (or a feedback JSONL file), holds out
``trainer.val_fraction`` of the records, trains an encoder-head reward model
(:class:`~rlhf_env.feedback.learning.runs.RMTrainConfig`: ``[model]`` and ``[trainer]``
tables in a config file) and saves it with ``save_pretrained`` in ``--out``, next to
``run_config.toml``. ``eval`` scores any reward model (a saved folder, a registered name)
on a store or feedback file: accuracy on comparisons (and ranking pairs, corrections),
calibration, rating correlations. Both exit with status 2 for a bad setting.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from rlhf_env.configs import ConfigDefault, add_config_options, config_from_args
from rlhf_env.errors import SettingsError, UnknownNameError
from rlhf_env.validation import arg_int

USAGE_ERRORS = (SettingsError, UnknownNameError)
"""A bad setting (in ``--config``, ``--set`` or a flag) exits with status 2."""
_TRAIN = "rlhf_env.feedback.learning.runs:RMTrainConfig"
_EVAL = "rlhf_env.feedback.learning.runs:RMEvalConfig"


def _number(value: float | None, digits: int = 3) -> str:
    import math

    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _cmd_train(args: argparse.Namespace) -> int:
    from rlhf_env.feedback.learning.runs import RMTrainConfig, train_reward_model

    config = config_from_args(RMTrainConfig, args, **{
        "model.backbone": args.backbone, "trainer.epochs": args.epochs,
        "trainer.seed": args.seed, "task": args.task})
    summary = train_reward_model(args.store, args.out, config)
    report = summary.report
    accuracy = "n/a (no held-out records)" if report is None else (
        f"{_number(report.pairwise_accuracy)} on {report.n_pairs} held-out pair(s)")
    examples = ", ".join(f"{n} {kind}" for kind, n in summary.examples.items() if n)
    print(f"trained on {summary.n_train} record(s) ({examples}), held out {summary.n_val}; "
          f"best epoch {summary.best_epoch}, {summary.steps} step(s)")
    print(f"held-out accuracy: {accuracy}")
    print(f"time: {summary.seconds:.1f} s")
    print(f"saved to {summary.out} (load it with make_reward_model({str(summary.out)!r}) or "
          f"--reward-model {summary.out})")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from rlhf_env.feedback.learning.runs import RMEvalConfig, evaluate_reward_model
    from rlhf_env.files import dumps

    config = config_from_args(RMEvalConfig, args, task=args.task)
    report, n = evaluate_reward_model(args.model, args.data, config)
    if args.json:
        print(dumps({"model": args.model, "data": args.data, "records": n,
                     **report.to_dict()}, indent=None))
        return 0
    print(f"{args.model} on {n} record(s) of {args.data}:")
    print(f"  pairwise accuracy  {_number(report.pairwise_accuracy)} "
          f"({report.n_pairs} pair(s), {report.n_ties} tie(s) left out)")
    print(f"  calibration (ECE)  {_number(report.ece)}")
    if report.n_ratings:
        print(f"  ratings            pearson {_number(report.rating.get('pearson'))}, "
              f"spearman {_number(report.rating.get('spearman'))} "
              f"({report.n_ratings} rating(s))")
    for annotator, row in report.per_annotator.items():
        print(f"  annotator {annotator:12s} accuracy {_number(row['accuracy'])} "
              f"({int(row['n'])} pair(s))")
    return 0


def add_reward_model_commands(subparsers: Any) -> None:
    """Add ``rm train`` and ``rm eval`` to an ``rlhf-env`` subparsers object."""
    rm = subparsers.add_parser("rm", help="train a reward model from feedback, evaluate one")
    sub = rm.add_subparsers(dest="rm_command", required=True, metavar="COMMAND")
    p = sub.add_parser("train", help="train a reward model from a feedback store and save it")
    p.add_argument("store", help="feedback store (SQLite file) or feedback JSONL file")
    p.add_argument("--out", required=True, help="folder to save the model in")
    p.add_argument("--backbone", default=ConfigDefault(_TRAIN, "model.backbone"),
                   help="encoder: bundled name, local folder or hub id (sets model.backbone)")
    p.add_argument("--epochs", type=arg_int(1), default=ConfigDefault(_TRAIN, "trainer.epochs"),
                   help="most passes over the data (sets trainer.epochs)")
    p.add_argument("--seed", type=arg_int(0), default=ConfigDefault(_TRAIN, "trainer.seed"),
                   help="seed of the split and the training (sets trainer.seed)")
    p.add_argument("--task", default=None, help="only this task's records (default: all)")
    add_config_options(p, "RMTrainConfig: name, task, and the tables model (EncoderHeadConfig) "
                          "and trainer (RewardTrainerConfig), e.g. --set model.head.kind=mlp")
    p.set_defaults(func=_cmd_train, usage_errors=USAGE_ERRORS)

    p = sub.add_parser("eval", help="a reward model's accuracy on a store or feedback file")
    p.add_argument("model", help="saved reward-model folder (or a registered name)")
    p.add_argument("data", help="feedback store (SQLite file) or feedback JSONL file")
    p.add_argument("--task", default=None, help="only this task's records (default: all)")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    add_config_options(p, "RMEvalConfig: task, condition_on_annotator, n_bins")
    p.set_defaults(func=_cmd_eval, usage_errors=USAGE_ERRORS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rm`` on its own (``python -m rlhf_env.feedback.learning.cli rm …``)."""
    from rlhf_env.cli import CommandParser, run_parsed

    parser = CommandParser(prog="rlhf-env")
    add_reward_model_commands(parser.add_subparsers(dest="command", required=True))
    return run_parsed(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
