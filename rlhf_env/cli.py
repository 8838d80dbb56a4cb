"""The ``rlhf-env`` command.

    rlhf-env demo [--agent sb3] [--smoke]   the RLHF demo (see README)
    rlhf-env models                list the offline (bundled) models
    rlhf-env label STORE           label pending feedback items in the terminal
    rlhf-env feedback report STORE volume, agreement, gold accuracy, per-annotator stats
    rlhf-env prefs ENV_ID          preference learning on a control task (the online loop)
    rlhf-env bench list|run|report|compare   benchmark RL algorithms on RLHF tasks
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_models(args: argparse.Namespace) -> int:
    from rlhf_env.models import list_bundled_models

    for name, desc in list_bundled_models().items():
        print(f"{name:24s} {desc}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from agents.demos import run_demo  # the CLI is the one place that reaches the learners

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlhf-env", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("models", help="list the bundled offline models")
    p.set_defaults(func=_cmd_models)
    p = sub.add_parser("demo", help="run the RLHF demo on the offline defaults")
    p.add_argument("--agent", choices=("token-ppo", "sb3"), default="token-ppo",
                   help="token-ppo: fine-tune the LM with token-level PPO (default); sb3: the "
                        "stock SB3 PPO demo on the word-level bandit")
    p.add_argument("--smoke", action="store_true", help="a tiny, fast run (for tests)")
    p.add_argument("--out", default="runs", help="parent folder of the run folder")
    p.set_defaults(func=_cmd_demo)
    from rlhf_env.feedback.cli import add_feedback_commands

    add_feedback_commands(sub)
    from rlhf_env.control.cli import add_control_commands

    add_control_commands(sub)
    from rlhf_env.bench.cli import add_bench_commands

    add_bench_commands(sub)
    from rlhf_env.web.cli import add_web_commands

    add_web_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
