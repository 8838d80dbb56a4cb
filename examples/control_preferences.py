"""Teach CartPole from preferences alone: an SB3 PPO agent never sees the true reward.

User story: "I have a control task but no reward function; a (here: simulated) person
compares short clips of the agent, and the agent learns from a reward model trained on
those comparisons."

    python examples/control_preferences.py                 # ~60k steps, 500 labels
    python examples/control_preferences.py --smoke         # a tiny run (seconds)
    python examples/control_preferences.py --demos 5       # warm start from an expert

The synthetic person prefers the segment with the higher true return (Boltzmann-rational,
10% slips). ``RLHF-CartPole-v0`` runs fixed 200-step episodes in which a fall is an
absorbing, visibly bad state, so segments carry a preference signal. With ``--out DIR``
TensorBoard logs go to ``DIR/logs`` (``--out runs/control``, then ``tensorboard --logdir
runs/control``) and clips of the best and the worst labeled segment are written as GIFs for
a look (without ``--out`` they go to a temporary folder, removed at the end).
``--demos N`` records N episodes of a scripted CartPole expert first: the agent is
behaviour-cloned on them and 50 expert ≻ agent comparisons join the labels (free ones: they
do not count against the budget).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from rlhf_env.control.clips import write_segment_clip
from rlhf_env.control.demonstrations import collect_demonstrations
from rlhf_env.control.envs import random_policy_return
from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop


def random_return(loop: PreferenceLearningLoop, episodes: int = 5) -> float:
    """Mean true return of the uniform random policy (for scale)."""
    return random_policy_return(loop.collect_env, episodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny, fast run")
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--timesteps", type=int, default=60_000)
    parser.add_argument("--out", default=None,
                        help="keep logs, checkpoint and clips here (default: a temporary "
                             "folder, removed at the end)")
    parser.add_argument("--demos", type=int, default=0,
                        help="episodes of a scripted expert to warm-start from (0: none)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.out is not None:
        run(args, Path(args.out))
        return
    with tempfile.TemporaryDirectory(prefix="control-prefs-") as tmp:
        run(args, Path(tmp))
        print("(logs, checkpoint and clips were in a temporary folder; pass --out DIR to "
              "keep them)")


def run(args: argparse.Namespace, out: Path) -> None:
    """The loop, the clips and the result line, writing everything under ``out``."""
    if args.smoke:
        config = LoopConfig(total_timesteps=1536, total_labels=48, rounds=3, segment_length=15,
                            n_envs=2, ensemble_size=2, reward_epochs=5, horizon=100)
        ppo: dict[str, float] = {"n_steps": 256, "batch_size": 64, "n_epochs": 4}
    else:
        config = LoopConfig(total_timesteps=args.timesteps, total_labels=args.labels)
        ppo = {"n_steps": 256, "batch_size": 128, "n_epochs": 10, "gamma": 0.98,
               "learning_rate": 1e-3}
    demos = None
    if args.demos:
        demos = collect_demonstrations("RLHF-CartPole-v0", episodes=args.demos,
                                       horizon=config.horizon)
        config = replace(config, bc_epochs=30, demo_pairs=50)
    loop = PreferenceLearningLoop("RLHF-CartPole-v0", config, algorithm_kwargs=ppo,
                                  log_dir=out / "logs", checkpoint_dir=out / "checkpoint",
                                  demonstrations=demos)
    for m in loop.run_rounds():
        if demos and m["time/rounds"] == 1:
            w = loop.state.warm_start
            print(f"warm start: {int(w['demo_comparisons'])} expert comparisons, cloning "
                  f"loss {w['bc_loss_first']:.2f} -> {w['bc_loss_last']:.2f}")
        print(f"round {int(m['time/rounds'])}: labels {int(m['rlhf/labels_used'])}, env steps "
              f"{int(m['time/total_timesteps'])}, true return {m['rlhf/true_return']:.1f}, "
              f"learned return {m['rlhf/learned_return']:.1f}, reward accuracy "
              f"{m['rlhf/reward_val_accuracy']:.2f}")
    last = loop.history[-1]
    segs = sorted(loop.bank.segments(), key=lambda s: s.true_return)
    clips = [write_segment_clip(s, out / "clips") for s in (segs[-1], segs[0])]
    print(f"clips: best {clips[0]} worst {clips[1]}")
    print(f"result: true return {last['rlhf/true_return']:.1f} (random policy "
          f"{random_return(loop):.1f}) after {int(last['time/total_timesteps'])} env steps on "
          f"the learned reward, {int(last['rlhf/labels_used'])} labels, reward-model held-out "
          f"accuracy {np.nan_to_num(last['rlhf/reward_val_accuracy']):.2f}")

if __name__ == "__main__":
    main()
