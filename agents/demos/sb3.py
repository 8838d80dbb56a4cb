"""The first demo, kept as an option: stock Stable-Baselines3 PPO on the text bandit.

    rlhf-env demo --agent sb3           # ~4 minutes on 2 CPU cores
    rlhf-env demo --agent sb3 --smoke   # seconds: tiny model, rule reward (used by the tests)

The agent picks whole responses from the task's 152-word vocabulary (a ``MultiDiscrete``
action), so it shows SB3 working on the env unmodified, not fluent text; the main demo
(:mod:`agents.demos.token_ppo`) fine-tunes the language model itself.

Stages, each a small function: build the batched env → sample before training → PPO with a
progress bar and an RLHF metrics callback → sample after training → write the run folder
(config, metrics CSV/JSON, samples, a PNG of reward-model and gold score over training).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.demos.run_folder import new_run_dir, print_samples, write_csv, write_json
from rlhf_env.errors import ConfigError
from rlhf_env.files import plain, write_bytes
from rlhf_env.models.precision import check_precision
from rlhf_env.validation import check_fields


@dataclass(frozen=True)
class SB3DemoConfig:
    """Settings of one demo run."""

    task: str = "sentiment"
    """Task: the learned sentiment reward model with VADER as the independent gold judge."""
    model: str = "smollm2-135m-instruct"
    """Tokenizer and KL reference model."""
    num_envs: int = 16
    """Sub-envs of the batched env: responses scored per reward-model call."""
    n_steps: int = 16
    """PPO rollout length per sub-env (episodes per rollout = num_envs · n_steps)."""
    iterations: int = 30
    """PPO rollouts (updates)."""
    max_response_tokens: int = 8
    kl_coef: float = 0.01
    """Weight of log π_ref(response | prompt); 0 turns the reference model off."""
    ent_coef: float = 0.01
    """PPO entropy bonus: the agent's −log π side of the KL leash."""
    learning_rate: float = 1e-3
    frozen_precision: str = "float32"
    """Precision of the env's frozen models (KL reference, reward model's encoder):
    ``rlhf-env demo --agent sb3 --frozen-precision bfloat16``."""
    seed: int = 0
    eval_episodes: int = 8

    def __post_init__(self) -> None:
        check_fields(self)
        check_precision("SB3DemoConfig.frozen_precision", self.frozen_precision)
        for name in ("num_envs", "n_steps", "iterations", "max_response_tokens", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"demo {name} must be ≥ 1, got {getattr(self, name)}.")

    @classmethod
    def smoke(cls) -> SB3DemoConfig:
        return cls(task="keyword", model="tiny-random-llama", num_envs=4, n_steps=8,
                   iterations=2, max_response_tokens=4, kl_coef=0.01, eval_episodes=4)


def env_kwargs(cfg: SB3DemoConfig) -> dict[str, Any]:
    return {"task": cfg.task, "model": cfg.model, "action_vocab": "task",
            "max_response_tokens": cfg.max_response_tokens, "kl_coef": cfg.kl_coef,
            "frozen_precision": cfg.frozen_precision}


def sample_responses(agent: Any, cfg: SB3DemoConfig) -> list[dict]:
    """Episodes of the current policy on the same evaluation prompts (sampled, not greedy)."""
    from agents.sb3 import collect_episodes, make_vec_env

    env = make_vec_env(num_envs=cfg.eval_episodes, seed=10_000, **env_kwargs(cfg))
    episodes = collect_episodes(agent, env, cfg.eval_episodes, deterministic=False)
    keys = ("prompt", "response", "score", "gold_score", "kl_term")
    return [{k: plain(e[k]) for k in keys if k in e} for e in episodes]


def build_agent(cfg: SB3DemoConfig, run_dir: Path) -> Any:
    """Stock SB3 PPO with ``MultiInputPolicy`` on the batched env, through our VecEnv adapter
    (see :mod:`agents.sb3.factories` for why these settings suit a one-step bandit)."""
    from agents.sb3 import make_ppo, make_vec_env

    venv = make_vec_env(num_envs=cfg.num_envs, seed=cfg.seed, **env_kwargs(cfg))
    return make_ppo(venv, n_steps=cfg.n_steps, batch_size=cfg.n_steps * cfg.num_envs // 4,
                    learning_rate=cfg.learning_rate, ent_coef=cfg.ent_coef, seed=cfg.seed,
                    tensorboard_log=str(run_dir / "tensorboard"))


def train(agent: Any, cfg: SB3DemoConfig, progress_bar: bool) -> list[dict]:
    """PPO updates; returns the per-rollout RLHF metrics (``rlhf/score``, ``rlhf/gold_score``,
    ``rlhf/kl``, ``rlhf/response_length``…, keyed as logged)."""
    from agents.sb3 import RLHFMetricsCallback

    callback = RLHFMetricsCallback()
    agent.learn(total_timesteps=cfg.iterations * cfg.n_steps * cfg.num_envs, callback=callback,
                progress_bar=progress_bar)
    return callback.history


def write_run(run_dir: Path, cfg: SB3DemoConfig, history: list[dict], before: list[dict],
              after: list[dict], seconds: float) -> None:
    write_json(run_dir / "config.json", asdict(cfg))
    write_json(run_dir / "metrics.json", history)
    write_csv(history, run_dir / "metrics.csv")
    write_json(run_dir / "samples.json", {"seconds": seconds, "before": before, "after": after})
    plot(history, run_dir / "scores.png")


def plot(history: list[dict], path: Path) -> None:
    """Reward-model score (left axis) and gold score (right axis, its own scale) per rollout."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    steps = [h["time/total_timesteps"] for h in history]
    lines = ax.plot(steps, [h.get("rlhf/score", np.nan) for h in history], marker="o",
                    color="tab:blue", label="reward model (left)")
    ax.set_ylabel("reward-model score")
    if any("rlhf/gold_score" in h for h in history):
        gold = ax.twinx()
        lines += gold.plot(steps, [h.get("rlhf/gold_score", np.nan) for h in history],
                           marker="s",
                           color="tab:orange", label="gold: VADER (right)")
        gold.set_ylabel("gold score")
    ax.set_xlabel("episodes")
    ax.set_title("RLHF-Text-v0: PPO against the learned reward model")
    ax.grid(alpha=0.3)
    ax.legend(handles=lines, loc="lower right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    write_bytes(path, buffer.getvalue())
    plt.close(fig)


def run_sb3_demo(args: argparse.Namespace) -> int:
    """``rlhf-env demo --agent sb3``: build, sample, train, sample, write the run folder."""
    cfg = SB3DemoConfig.smoke() if args.smoke else SB3DemoConfig()
    cfg = dataclasses.replace(cfg, frozen_precision=getattr(args, "frozen_precision", "float32"))
    run_dir = new_run_dir(args.out, "demo-sb3")
    print(f"RLHF demo (stock SB3 PPO): task={cfg.task}, model={cfg.model}, {cfg.iterations} "
          f"PPO updates x {cfg.num_envs * cfg.n_steps} episodes; run folder {run_dir}")
    start = time.perf_counter()
    agent = build_agent(cfg, run_dir)
    before = sample_responses(agent, cfg)
    print_samples("before training", before)
    history = train(agent, cfg, progress_bar=not args.smoke)
    after = sample_responses(agent, cfg)
    print_samples("after training", after)
    write_run(run_dir, cfg, history, before, after, time.perf_counter() - start)
    print(f"\nwrote {run_dir}/metrics.csv, metrics.json, samples.json, scores.png "
          f"({time.perf_counter() - start:.0f} s)")
    return 0
