"""``rlhf-env prefs ENV_ID``: learn a control task from segment preferences.

    rlhf-env prefs RLHF-CartPole-v0 --labels 500 --timesteps 60000 --out runs/cartpole
    rlhf-env prefs RLHF-CartPole-v0 --resume runs/cartpole --rounds 15   # go on
    rlhf-env prefs RLHF-CartPole-v0 --labels 60 --labeler queue --store fb.sqlite
        # …and in another terminal: rlhf-env label fb.sqlite --follow
    rlhf-env prefs RLHF-CartPole-v0 --labels 60 --labeler queue --store fb.sqlite \
        --correction-fraction 0.25      # a quarter of the labels: people correct episodes
    rlhf-env prefs RLHF-CartPole-v0 --demos scripted --bc-epochs 20 --demo-pairs 50

The default labeler is synthetic (true returns, 10% slips). ``--labeler queue`` asks people
instead (:class:`~rlhf_env.control.queue_labeler.QueueLabeler`): each round's pairs become
clips and queue items in ``--store``, and the round waits for the answers (``--timeout``
seconds at most; unanswered items stay queued for later rounds). ``--correction-fraction F``
spends that share of each round's labels on corrections of the agent's episodes: by the
scripted expert with the synthetic labeler, by people with ``--labeler queue``
(:class:`~rlhf_env.control.queue_corrector.QueueCorrector`: one clip per episode; people
type the step where it went wrong and the actions it should have taken, at most
``--correction-actions``). ``--demos`` (a file from
:func:`~rlhf_env.control.demonstrations.save_demonstrations`, or ``scripted`` for the
task's reference expert) warm-starts the loop with behaviour cloning and/or expert ≻ agent
comparisons. ``--out`` holds the checkpoint (agent, reward model, segments, feedback,
state) and the TensorBoard/CSV logs (``--out/logs``). ``--config FILE`` and ``--set KEY=VALUE``
set any :class:`~rlhf_env.control.loop.LoopConfig` field; the flags win over both.
``--resume`` goes on with a saved run as it was: a flag, file or ``--set`` setting that
differs from the saved run is refused (only ``--rounds`` may change). Also runnable alone:
``python -m rlhf_env.control.cli prefs …``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rlhf_env.configs import (
    ConfigDefault,
    add_config_options,
    config_from_args,
    config_to_dict,
    given,
    parse_override,
    read_config_file,
)
from rlhf_env.errors import ConfigError, SettingsError, UnknownNameError
from rlhf_env.validation import arg_float, arg_int

LOOP = "rlhf_env.control.loop:LoopConfig"
DEFAULT_ENV_ID = "RLHF-CartPole-v0"
DEFAULT_ALGORITHM = "PPO"
LOOP_FLAGS = (
    ("--timesteps", "timesteps", "total_timesteps"),
    ("--labels", "labels", "total_labels"),
    ("--rounds", "rounds", "rounds"),
    ("--segment-length", "segment_length", "segment_length"),
    ("--selection", "selection", "selection"),
    ("--ensemble", "ensemble", "ensemble_size"),
    ("--error-rate", "error_rate", "error_rate"),
    ("--n-envs", "n_envs", "n_envs"),
    ("--horizon", "horizon", "horizon"),
    ("--seed", "seed", "seed"),
    ("--demo-pairs", "demo_pairs", "demo_pairs"),
    ("--bc-epochs", "bc_epochs", "bc_epochs"),
    ("--correction-fraction", "correction_fraction", "correction_fraction"),
)
"""(flag, argparse dest, LoopConfig field) of every flag that sets a loop setting."""
USAGE_ERRORS = (SettingsError, UnknownNameError)
"""A bad setting (flag, --config, --set, or one that conflicts with --resume) exits with
status 2; other errors (a missing demonstrations file …) with 1."""


def _flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """LoopConfig field → value of every loop flag the user gave."""
    values = {field: getattr(args, dest) for _, dest, field in LOOP_FLAGS}
    if not given(values["bc_epochs"]) and args.demos:
        values["bc_epochs"] = 20
    return {k: v for k, v in values.items() if given(v)}


def _config(args: argparse.Namespace) -> Any:
    from rlhf_env.control.loop import LoopConfig

    return config_from_args(LoopConfig, args, **_flag_values(args))


def _settings_given(args: argparse.Namespace) -> dict[str, str]:
    """LoopConfig field → where the user set it (a flag, --config FILE or --set)."""
    where = {field: flag for flag, dest, field in LOOP_FLAGS if given(getattr(args, dest))}
    for text in getattr(args, "overrides", None) or ():
        where.setdefault(parse_override(text)[0].split(".")[0], "--set")
    if args.config:
        for key in read_config_file(args.config):
            where.setdefault(key, args.config)
    return where


def _resume_conflicts(args: argparse.Namespace, state: dict[str, Any]) -> list[str]:
    """What the command line asks for that differs from the run saved in ``--resume``."""
    out = []
    if args.env_id is not None and args.env_id != state["env_id"]:
        out.append(f"ENV_ID {args.env_id} (saved: {state['env_id']})")
    if args.algo is not None and args.algo != state["algorithm"]:
        out.append(f"--algo {args.algo} (saved: {state['algorithm']})")
    where = _settings_given(args)
    if where:
        wanted = config_to_dict(_config(args))
        for key, source in sorted(where.items()):
            if key != "rounds" and wanted.get(key) != state["config"].get(key):
                shown = f"{source} {wanted.get(key)}" if source.startswith("--") and \
                    source != "--set" else f"{key} = {wanted.get(key)} ({source})"
                out.append(f"{shown} (saved: {state['config'].get(key)})")
    if args.demos:
        out.append("--demos (demonstrations are used before round 0 only)")
    if args.out and Path(args.out).resolve() != Path(args.resume).resolve():
        out.append(f"--out {args.out} (a resumed run goes on in {args.resume})")
    return out


def _resume(args: argparse.Namespace) -> Any:
    """The loop saved in ``--resume``; settings that conflict with it are refused."""
    from rlhf_env.control.checkpoint import read_checkpoint
    from rlhf_env.control.loop import PreferenceLearningLoop

    state, _ = read_checkpoint(args.resume)
    conflicts = _resume_conflicts(args, state)
    if conflicts:
        raise SettingsError(
            f"--resume {args.resume}: the run saved there was made with other settings than "
            f"these: {'; '.join(conflicts)}. Drop them to go on with the saved run (only "
            f"--rounds may change), or start a new run in another folder (--out NEW_FOLDER, "
            f"without --resume).")
    saved = state["config"]
    loop = PreferenceLearningLoop.resume(
        args.resume, log_dir=f"{args.resume}/logs", checkpoint_dir=args.resume,
        labeler=_labeler(args), corrector=_corrector(
            args, state["env_id"], saved.get("horizon"), saved.get("correction_fraction", 0)))
    if "rounds" in _settings_given(args):
        loop.config = replace(loop.config, rounds=_config(args).rounds)
    return loop


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


def _corrector(args: argparse.Namespace, env_id: str, horizon: int | None,
               fraction: float) -> Any:
    """``None`` (the loop's scripted corrector, or no corrections) or a
    :class:`~rlhf_env.control.queue_corrector.QueueCorrector` (``--labeler queue``)."""
    if args.labeler == "synthetic" or not fraction:
        return None
    from rlhf_env.control.queue_corrector import QueueCorrector

    return QueueCorrector(args.store, env_id, horizon=horizon,
                          max_actions=args.correction_actions, clip_dir=args.clips,
                          timeout=args.timeout, poll_interval=args.poll,
                          clip_format=args.clip_format,
                          notify=lambda line: print(line, flush=True))


def _demonstrations(args: argparse.Namespace, config: Any) -> Any:
    if not args.demos:
        return None
    from rlhf_env.control import demonstrations as demos

    if args.demos == "scripted":
        return demos.collect_demonstrations(args.env_id or DEFAULT_ENV_ID,
                                            episodes=args.demo_episodes,
                                            horizon=config.horizon, seed=config.seed)
    return demos.load_demonstrations(args.demos)


def _cmd_prefs(args: argparse.Namespace) -> int:
    import torch

    from rlhf_env.control.loop import PreferenceLearningLoop

    torch.set_num_threads(args.threads)
    logs = f"{args.out}/logs" if args.out else None
    if args.resume:
        loop = _resume(args)
    else:
        config = _config(args)
        env_id = args.env_id or DEFAULT_ENV_ID
        labeler = _labeler(args)
        loop = PreferenceLearningLoop(env_id, config,
                                      algorithm=args.algo or DEFAULT_ALGORITHM,
                                      log_dir=logs, checkpoint_dir=args.out,
                                      labeler=labeler,
                                      demonstrations=_demonstrations(args, config),
                                      corrector=_corrector(args, env_id, config.horizon,
                                                           config.correction_fraction))
    for _ in loop.run_rounds():
        if len(loop.history) == 1 and loop.state.warm_start:
            print("warm start: " + ", ".join(f"{k} {v:.3g}"
                                             for k, v in loop.state.warm_start.items()))
        m = loop.history[-1]
        print(f"round {int(m['time/rounds'])}: steps {int(m['time/total_timesteps'])} labels "
              f"{int(m['rlhf/labels_used'])} true return {m['rlhf/true_return']:.1f} reward "
              f"acc {m['rlhf/reward_val_accuracy']:.2f}", flush=True)
    if args.json:
        from rlhf_env.files import dumps

        print(dumps(loop.history[-1], indent=None))
    return 0


def add_control_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``prefs`` to an ``rlhf-env`` subparsers object."""
    p = subparsers.add_parser("prefs", help="learn a control task's reward from segment "
                                            "preferences while an SB3 agent trains")
    p.add_argument("env_id", nargs="?", default=None,
                   help=f"control id (RLHF-CartPole-v0, RLHF-Pendulum-v0, RLHF-HalfCheetah-v0) "
                        f"or any Gymnasium id (default: {DEFAULT_ENV_ID}; with --resume: the "
                        f"saved run's)")
    p.add_argument("--labels", type=arg_int(1), default=ConfigDefault(LOOP, "total_labels"),
                   help="label budget")
    p.add_argument("--timesteps", type=arg_int(1),
                   default=ConfigDefault(LOOP, "total_timesteps"), help="agent env steps")
    p.add_argument("--rounds", type=arg_int(1), default=ConfigDefault(LOOP, "rounds"),
                   help="rounds (with --resume: the saved run's unless given)")
    p.add_argument("--segment-length", type=arg_int(1),
                   default=ConfigDefault(LOOP, "segment_length"), help="steps per segment")
    p.add_argument("--selection", choices=("uncertainty", "random"),
                   default=ConfigDefault(LOOP, "selection"), help="which pairs to ask about")
    p.add_argument("--ensemble", type=arg_int(1), default=ConfigDefault(LOOP, "ensemble_size"),
                   help="reward models in the ensemble")
    p.add_argument("--error-rate", type=arg_float(0.0, 1.0),
                   default=ConfigDefault(LOOP, "error_rate"), help="synthetic labeler slips")
    p.add_argument("--algo", default=None,
                   help=f"SB3 algorithm name (default: {DEFAULT_ALGORITHM})")
    p.add_argument("--n-envs", type=arg_int(1), default=ConfigDefault(LOOP, "n_envs"),
                   help="parallel envs")
    p.add_argument("--horizon", type=arg_int(1), default=ConfigDefault(LOOP, "horizon"),
                   help="episode length (none: the id's own)")
    p.add_argument("--seed", type=arg_int(0), default=ConfigDefault(LOOP, "seed"),
                   help="seed of everything")
    p.add_argument("--correction-fraction", type=arg_float(0.0, 1.0),
                   default=ConfigDefault(LOOP, "correction_fraction"),
                   help="share of each round's labels spent on corrections of the agent's "
                        "episodes (the scripted expert's, or people's with --labeler queue)")
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
    q.add_argument("--correction-actions", type=arg_int(1), default=5,
                   help="most corrective actions a person gives per correction "
                        "(--labeler queue)")
    d = p.add_argument_group("demonstrations")
    d.add_argument("--demos", default=None,
                   help="demonstrations file (.npz), or 'scripted' for the reference expert")
    d.add_argument("--demo-episodes", type=arg_int(1), default=10,
                   help="episodes of the scripted expert")
    d.add_argument("--bc-epochs", type=arg_int(0), default=None,
                   help="behaviour-cloning epochs (default: 20 with --demos)")
    d.add_argument("--demo-pairs", type=arg_int(0), default=ConfigDefault(LOOP, "demo_pairs"),
                   help="expert ≻ agent comparisons from the demonstrations")
    add_config_options(p, "any LoopConfig field, e.g. --set reward_epochs=10")
    p.set_defaults(func=_cmd_prefs, usage_errors=USAGE_ERRORS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the control commands on their own."""
    from rlhf_env.cli import CommandParser, run_parsed

    parser = CommandParser(prog="rlhf-env", description="control commands")
    add_control_commands(parser.add_subparsers(dest="command", required=True))

    return run_parsed(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
