"""``rlhf-env prefs ENV_ID``: learn a control task from segment preferences.

    rlhf-env prefs RLHF-CartPole-v0 --labels 500 --timesteps 60000 --out runs/cartpole
    rlhf-env prefs RLHF-CartPole-v0 --resume runs/cartpole --rounds 15   # go on
    rlhf-env prefs RLHF-CartPole-v0 --labels 60 --labeler queue --store fb.sqlite
        # …and in another terminal: rlhf-env label fb.sqlite --follow
    rlhf-env prefs RLHF-CartPole-v0 --demos scripted --bc-epochs 20 --demo-pairs 50

The default labeler is synthetic (true returns, 10% slips). ``--labeler queue`` asks people
instead (:class:`~rlhf_env.control.queue_labeler.QueueLabeler`): each round's pairs become
clips and queue items in ``--store``, and the round waits for the answers (``--timeout``
seconds at most; unanswered items stay queued for later rounds). ``--demos`` (a file from
:func:`~rlhf_env.control.demonstrations.save_demonstrations`, or ``scripted`` for the
task's reference expert) warm-starts the loop with behaviour cloning and/or expert ≻ agent
comparisons. ``--out`` holds the checkpoint (agent, reward model, segments, feedback,
state) and the TensorBoard/CSV logs (``--out/logs``). Also runnable alone:
``python -m rlhf_env.control.cli prefs …``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rlhf_env.errors import ConfigError
from rlhf_env.validation import arg_float, arg_int


def _config(args: argparse.Namespace) -> Any:
    from rlhf_env.control.loop import LoopConfig

    bc_epochs = args.bc_epochs if args.bc_epochs is not None else (20 if args.demos else 0)
    return LoopConfig(total_timesteps=args.timesteps, total_labels=args.labels,
                      rounds=args.rounds, segment_length=args.segment_length,
                      selection=args.selection, ensemble_size=args.ensemble,
                      error_rate=args.error_rate, n_envs=args.n_envs, horizon=args.horizon,
                      seed=args.seed, demo_pairs=args.demo_pairs, bc_epochs=bc_epochs)


def _labeler(args: argparse.Namespace) -> Any:
    """``None`` (the loop's synthetic labeler) or a function ``bank -> QueueLabeler``."""
    if args.labeler == "synthetic":
        return None
    if not args.store:
        raise ConfigError("--labeler queue needs --store PATH (the feedback store people "
                          "answer with `rlhf-env label PATH`).")
    from rlhf_env.control.queue_labeler import QueueLabeler

    def make(bank: Any) -> QueueLabeler:
        return QueueLabeler(args.store, bank, args.clips, timeout=args.timeout,
                            poll_interval=args.poll, clip_format=args.clip_format,
                            notify=lambda line: print(line, flush=True))

    return make


def _demonstrations(args: argparse.Namespace) -> Any:
    if not args.demos:
        return None
    from rlhf_env.control import demonstrations as demos

    if args.demos == "scripted":
        return demos.collect_demonstrations(args.env_id, episodes=args.demo_episodes,
                                            horizon=args.horizon, seed=args.seed)
    return demos.load_demonstrations(args.demos)


def _cmd_prefs(args: argparse.Namespace) -> int:
    import torch

    from rlhf_env.control.loop import PreferenceLearningLoop

    torch.set_num_threads(args.threads)
    logs = f"{args.out}/logs" if args.out else None
    if args.resume:
        loop = PreferenceLearningLoop.resume(args.resume, log_dir=f"{args.resume}/logs",
                                             checkpoint_dir=args.resume,
                                             labeler=_labeler(args))
        if args.rounds_given:
            loop.config = replace(loop.config, rounds=args.rounds)
    else:
        loop = PreferenceLearningLoop(args.env_id, _config(args), algorithm=args.algo,
                                      log_dir=logs, checkpoint_dir=args.out,
                                      labeler=_labeler(args),
                                      demonstrations=_demonstrations(args))
    for _ in loop.run_rounds():
        if len(loop.history) == 1 and loop.state.warm_start:
            print("warm start: " + ", ".join(f"{k} {v:.3g}"
                                             for k, v in loop.state.warm_start.items()))
        m = loop.history[-1]
        print(f"round {int(m['time/rounds'])}: steps {int(m['time/total_timesteps'])} labels "
              f"{int(m['rlhf/labels_used'])} true return {m['rlhf/true_return']:.1f} reward "
              f"acc {m['rlhf/reward_val_accuracy']:.2f}", flush=True)
    if args.json:
        print(json.dumps(loop.history[-1]))
    return 0


def add_control_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``prefs`` to an ``rlhf-env`` subparsers object."""
    p = subparsers.add_parser("prefs", help="learn a control task's reward from segment "
                                            "preferences while an SB3 agent trains")
    p.add_argument("env_id", nargs="?", default="RLHF-CartPole-v0",
                   help="control id (RLHF-CartPole-v0, RLHF-Pendulum-v0, "
                        "RLHF-HalfCheetah-v0) or any Gymnasium id")
    p.add_argument("--labels", type=arg_int(1), default=500, help="label budget")
    p.add_argument("--timesteps", type=arg_int(1), default=100_000, help="agent env steps")
    p.add_argument("--rounds", type=arg_int(1), default=None, help="rounds (default 10)")
    p.add_argument("--segment-length", type=arg_int(1), default=25)
    p.add_argument("--selection", choices=("uncertainty", "random"), default="uncertainty")
    p.add_argument("--ensemble", type=arg_int(1), default=3, help="reward models in the ensemble")
    p.add_argument("--error-rate", type=arg_float(0.0, 1.0), default=0.1,
                   help="synthetic labeler slips")
    p.add_argument("--algo", default="PPO", help="SB3 algorithm name")
    p.add_argument("--n-envs", type=arg_int(1), default=4)
    p.add_argument("--horizon", type=arg_int(1), default=None, help="episode length")
    p.add_argument("--seed", type=arg_int(0), default=0)
    p.add_argument("--threads", type=arg_int(1), default=1, help="torch threads")
    p.add_argument("--out", default=None, help="checkpoint + log folder")
    p.add_argument("--resume", default=None, help="continue the run saved in this folder")
    p.add_argument("--json", action="store_true", help="print the last metrics as JSON")
    q = p.add_argument_group("people as labelers")
    q.add_argument("--labeler", choices=("synthetic", "queue"), default="synthetic",
                   help="queue: people answer clips with `rlhf-env label STORE`")
    q.add_argument("--store", default=None, help="feedback store file (--labeler queue)")
    q.add_argument("--clips", default=None, help="clip folder (default: next to --store)")
    q.add_argument("--clip-format", choices=("gif", "mp4"), default="gif")
    q.add_argument("--timeout", type=arg_float(0.0, exclusive_min=True), default=None,
                   help="most seconds a round waits for answers (default: until answered)")
    q.add_argument("--poll", type=arg_float(0.0, exclusive_min=True), default=2.0,
                   help="seconds between store checks")
    d = p.add_argument_group("demonstrations")
    d.add_argument("--demos", default=None,
                   help="demonstrations file (.npz), or 'scripted' for the reference expert")
    d.add_argument("--demo-episodes", type=arg_int(1), default=10,
                   help="episodes of the scripted expert")
    d.add_argument("--bc-epochs", type=arg_int(0), default=None,
                   help="behaviour-cloning epochs (default: 20 with --demos)")
    d.add_argument("--demo-pairs", type=arg_int(0), default=0,
                   help="expert ≻ agent comparisons from the demonstrations")
    p.set_defaults(func=_with_default_rounds(_cmd_prefs))


def _with_default_rounds(func: Any) -> Any:
    """Remember whether ``--rounds`` was given (a resumed run keeps its own otherwise)."""

    def run(args: argparse.Namespace) -> int:
        args.rounds_given = args.rounds is not None
        if args.rounds is None:
            args.rounds = 10
        return int(func(args))

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run the control commands on their own."""
    parser = argparse.ArgumentParser(prog="rlhf-env", description="control commands")
    add_control_commands(parser.add_subparsers(dest="command", required=True))
    from rlhf_env.cli import run_parsed

    return run_parsed(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
