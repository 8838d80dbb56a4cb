"""The learner commands of ``rlhf-env``: ``sft`` and ``ppo``.

    rlhf-env sft demos.jsonl --model smollm2-135m-instruct --out runs/sft [--epochs 3]
    rlhf-env ppo --task sentiment --reward-model runs/rm --model runs/sft --steps 50 \\
                 --out runs/ppo [--config ppo.toml] [--set ppo.learning_rate=1e-5 …]

``rlhf-env`` finds them through the ``rlhf_env.commands`` entry-point group (each entry point
is ``add(subparsers)``), so the env package never imports a learner. Importing this module
is light: torch, transformers and the trainers load when a command runs. The settings are
:class:`agents.runs.SFTRunConfig` and :class:`agents.runs.PPORunConfig` (a ``[sft]`` /
``[ppo]`` table in a config file); the flags win over ``--config`` and ``--set``. A bad
setting exits with status 2.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from rlhf_env.configs import ConfigDefault, add_config_options, config_from_args
from rlhf_env.errors import SettingsError, UnknownNameError
from rlhf_env.validation import arg_float, arg_int

USAGE_ERRORS = (SettingsError, UnknownNameError)
"""A bad setting (in ``--config``, ``--set`` or a flag) exits with status 2."""
_SFT = "agents.runs:SFTRunConfig"
_PPO = "agents.runs:PPORunConfig"


def _number(value: Any) -> str:
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    return f"{value:.3f}"


def _cmd_sft(args: argparse.Namespace) -> int:
    import torch

    from agents.runs import SFTRunConfig, run_sft
    from rlhf_env.configs import RUN_CONFIG_FILE

    torch.set_num_threads(args.threads)
    config = config_from_args(SFTRunConfig, args, **{
        "model": args.model, "task": args.task, "sft.epochs": args.epochs,
        "sft.learning_rate": args.lr, "sft.seed": args.seed})
    result = run_sft(args.demonstrations, args.out, config)
    split = f"{result.num_train} train, {result.num_eval} held out"
    print(f"fine-tuned {config.model} on {result.num_train + result.num_eval} demonstration(s) "
          f"({split}); {result.steps} step(s), {result.truncated} truncated")
    print(f"loss per epoch: {', '.join(_number(x) for x in result.train_loss)}")
    if result.eval_loss_before is not None:
        print(f"held-out loss: {_number(result.eval_loss_before)} -> "
              f"{_number(result.eval_loss_after)}")
    print(f"response log-prob ({result.logprob_split}): {_number(result.logprob_before)} -> "
          f"{_number(result.logprob_after)}")
    print(f"time: {result.seconds:.1f} s")
    print(f"saved to {args.out} (the LM and tokenizer; settings in {RUN_CONFIG_FILE}); "
          f"continue with: rlhf-env ppo --model {args.out} --out PPO_FOLDER")
    return 0


def _cmd_ppo(args: argparse.Namespace) -> int:
    import torch

    from agents.runs import CHECKPOINT_FILE, METRICS_FILE, POLICY_DIR, PPORunConfig, run_ppo
    from rlhf_env.configs import RUN_CONFIG_FILE

    torch.set_num_threads(args.threads)
    config = config_from_args(PPORunConfig, args, **{
        "steps": args.steps, "reward_model": args.reward_model, "prompts": args.prompts,
        "ppo.task": args.task, "ppo.model": args.model, "ppo.seed": args.seed,
        "ppo.learning_rate": args.lr})
    summary = run_ppo(args.out, config)
    first, last = summary.metrics[0], summary.metrics[-1]
    scorer = config.reward_model or f"the {config.ppo.task!r} task's reward model"
    print(f"trained {config.ppo.model} for {len(summary.metrics)} step(s) on task "
          f"{config.ppo.task!r} against {scorer}")
    print(f"score: {_number(first['rlhf/score'])} (first step) -> "
          f"{_number(last['rlhf/score'])} (last step)")
    if "rlhf/gold_score" in last:
        print(f"gold score: {_number(first.get('rlhf/gold_score'))} -> "
              f"{_number(last['rlhf/gold_score'])}")
    if "rlhf/kl" in last:
        print(f"KL to the reference: {_number(last['rlhf/kl'])} nats per response (last step)")
    else:
        print("KL to the reference: not measured (fixed kl_coef = 0 skips the reference pass; "
              "set reference_pass = \"always\" to log it)")
    print(f"time: {summary.seconds:.1f} s")
    print(f"saved to {summary.out}: {POLICY_DIR}/ (the policy, save_pretrained), "
          f"{CHECKPOINT_FILE} (trainer state to resume), {METRICS_FILE}, {RUN_CONFIG_FILE}")
    return 0


def _threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=arg_int(1), default=1, help="torch CPU threads")


def add_sft(subparsers: Any) -> None:
    """Add ``sft`` to an ``rlhf-env`` subparsers object (entry point ``sft``)."""
    p = subparsers.add_parser("sft", help="supervised fine-tuning of a causal LM on "
                                          "demonstrations (the optional first stage)")
    p.add_argument("demonstrations",
                   help="feedback store (SQLite file) or JSONL file of demonstrations")
    p.add_argument("--out", required=True, help="folder for the fine-tuned LM and tokenizer")
    p.add_argument("--model", default=ConfigDefault(_SFT, "model"),
                   help="causal LM to fine-tune: bundled name, local folder or hub id")
    p.add_argument("--task", default=None, help="only this task's demonstrations "
                                                "(default: all)")
    p.add_argument("--epochs", type=arg_int(1), default=ConfigDefault(_SFT, "sft.epochs"),
                   help="passes over the demonstrations")
    p.add_argument("--lr", type=arg_float(0.0, exclusive_min=True),
                   default=ConfigDefault(_SFT, "sft.learning_rate"), help="learning rate")
    p.add_argument("--seed", type=arg_int(0), default=ConfigDefault(_SFT, "sft.seed"),
                   help="seed of the split, the batch order and LoRA")
    _threads(p)
    add_config_options(p, "agents.runs.SFTRunConfig: model, task, and the table sft "
                          "(SFTConfig), e.g. --set sft.batch_size=4")
    p.set_defaults(func=_cmd_sft, usage_errors=USAGE_ERRORS)


def add_ppo(subparsers: Any) -> None:
    """Add ``ppo`` to an ``rlhf-env`` subparsers object (entry point ``ppo``)."""
    p = subparsers.add_parser("ppo", help="token-level PPO of a causal LM on a task against a "
                                          "reward model")
    p.add_argument("--out", required=True,
                   help="folder for the checkpoint, metrics and run config")
    p.add_argument("--task", default=ConfigDefault(_PPO, "ppo.task"),
                   help="task: its prompts, and its reward model unless --reward-model")
    p.add_argument("--reward-model", default=None, metavar="NAME|PATH",
                   help="a registered reward model, a folder saved by `rlhf-env rm train`, "
                        "or a hub id (default: the task's)")
    p.add_argument("--model", default=ConfigDefault(_PPO, "ppo.model"),
                   help="policy LM: bundled name, local folder (e.g. from `rlhf-env sft`) or "
                        "hub id")
    p.add_argument("--prompts", default=None,
                   help="a .txt or .jsonl file of prompts (default: the task's)")
    p.add_argument("--steps", type=arg_int(1), default=ConfigDefault(_PPO, "steps"),
                   help="PPO iterations")
    p.add_argument("--lr", type=arg_float(0.0, exclusive_min=True),
                   default=ConfigDefault(_PPO, "ppo.learning_rate"), help="learning rate")
    p.add_argument("--seed", type=arg_int(0), default=ConfigDefault(_PPO, "ppo.seed"),
                   help="seed of prompts, sampling and the value head")
    _threads(p)
    add_config_options(p, "agents.runs.PPORunConfig: steps, reward_model, prompts, and the "
                          "table ppo (TokenPPOConfig), e.g. --set ppo.batch_size=8")
    p.set_defaults(func=_cmd_ppo, usage_errors=USAGE_ERRORS)


__all__ = ["add_ppo", "add_sft"]
