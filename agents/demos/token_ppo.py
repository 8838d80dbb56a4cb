"""The main job: RLHF of SmolLM2-135M-Instruct against the learned sentiment reward model.

    rlhf-env demo                 # ~6 minutes on 2 CPU cores (token-level PPO, LoRA)
    rlhf-env demo --smoke         # seconds: tiny model, rule reward (used by the tests)
    rlhf-env demo --frozen-precision bfloat16   # reference and reward model in bfloat16
    rlhf-env demo --agent sb3     # the first demo: stock SB3 PPO on the bandit (agents.demos.sb3)

The policy is the language model itself, with LoRA adapters and a value head, trained by
:class:`~agents.token_ppo.TokenPPOTrainer` against the batched ``RLHF-Text-v0`` env: the env
gives prompts and scores whole responses with the reward model (VADER is the independent
gold judge); the trainer samples token by token, keeps a per-token KL penalty to the frozen
initial model with an adaptive coefficient, and credits tokens with RLOO over groups of
responses to the same prompt.

Stages, each a small function: build the trainer → evaluate before training (sampled
responses to fixed prompts, plus the best-of-n reranking reference) → PPO steps with a
progress bar → evaluate after → write the run folder (config, per-step metrics as CSV and
JSON keyed as logged — ``rlhf/score``, ``rlhf/kl``, ``train/approx_kl``…, see
:mod:`rlhf_env.metrics` —, samples, ``scores.png``, TensorBoard logs, the trained adapters).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.demos.run_folder import new_run_dir, print_samples, write_csv, write_json
from rlhf_env.errors import ConfigError
from rlhf_env.files import write_bytes
from rlhf_env.models.precision import check_precision
from rlhf_env.text import text_core
from rlhf_env.text.spaces import ActionVocab
from rlhf_env.validation import check_fields


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the token-level demo (the defaults are the README's main job)."""

    task: str = "sentiment"
    """Task: the learned sentiment reward model with VADER as the independent gold judge."""
    model: str = "smollm2-135m-instruct"
    """Policy, reference and tokenizer."""
    steps: int = 44
    """PPO iterations (each: one rollout of ``batch_size`` responses, then the update)."""
    batch_size: int = 16
    """Responses per rollout."""
    group_size: int = 4
    """Responses per prompt: RLOO compares each with the other responses to its prompt."""
    minibatch_size: int = 8
    ppo_epochs: int = 2
    learning_rate: float = 1e-3
    """AdamW step size of the LoRA adapters (adapters tolerate far larger steps than full
    fine-tuning)."""
    max_new_tokens: int = 20
    """Response length limit: one line of text, enough for the task's prompts."""
    lora_r: int = 8
    lora_target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    kl_coef: float = 0.4
    """Starting β of the per-token KL penalty: about the value that holds the KL near its
    target at this learning rate. Starting far lower lets the KL overshoot before β can
    catch up; starting far higher holds the policy still."""
    target_kl: float = 8.0
    """Target of the adaptive controller: summed KL per response, in nats."""
    kl_horizon: int = 128
    """Controller horizon in episodes: β moves at most ±2.5% per step of 16 responses. A
    shorter horizon let β fall to 0.05 in the first 15 steps, while the policy had barely
    moved, and the KL then overshot to 15–20 nats."""
    eval_prompts: int = 8
    """Fixed prompts sampled before and after training."""
    best_of: int = 4
    """Draws per evaluation prompt: their mean is the n=1 score, their best the best-of-n
    reference (no training, analytic KL log n − (n−1)/n)."""
    task_words_only: bool = False
    """Sample only the task's word vocabulary (plus EOS), as the SB3 demo's agent does; the
    smoke run needs it, since a random tiny model would never hit a keyword otherwise."""
    frozen_precision: str = "float32"
    """Precision of the frozen models: the KL reference and the reward model's encoder
    (``--frozen-precision``; VADER, the gold judge, has no weights). ``"bfloat16"`` is the
    fast choice on CPUs with bfloat16 units; the README gives the demo's result with it."""
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    """Further :class:`~agents.token_ppo.TokenPPOConfig` fields."""

    def __post_init__(self) -> None:
        check_fields(self)
        check_precision("DemoConfig.frozen_precision", self.frozen_precision)
        for name in ("steps", "eval_prompts", "best_of"):
            if getattr(self, name) < 1:
                raise ConfigError(f"demo {name} must be ≥ 1, got {getattr(self, name)}.")

    @classmethod
    def smoke(cls) -> DemoConfig:
        """Seconds on a CPU: the tiny random Llama on the keyword task, full fine-tuning."""
        return cls(task="keyword", model="tiny-random-llama", steps=4, batch_size=8,
                   group_size=4, minibatch_size=4, learning_rate=3e-3, max_new_tokens=6,
                   lora_r=0, target_kl=1.0, eval_prompts=4, best_of=2,
                   task_words_only=True)

    def ppo_config(self, log_dir: Path | None, progress_bar: bool) -> Any:
        """The trainer's :class:`~agents.token_ppo.TokenPPOConfig` for these settings."""
        from agents.token_ppo import TokenPPOConfig

        return TokenPPOConfig(
            model=self.model, task=self.task, seed=self.seed, batch_size=self.batch_size,
            minibatch_size=self.minibatch_size, ppo_epochs=self.ppo_epochs,
            learning_rate=self.learning_rate, max_new_tokens=self.max_new_tokens,
            advantage="rloo", group_size=self.group_size, kl_coef=self.kl_coef,
            adaptive_kl=True, target_kl=self.target_kl, kl_horizon=self.kl_horizon,
            lora_r=self.lora_r, lora_target_modules=self.lora_target_modules,
            reference_precision=self.frozen_precision, reward_precision=self.frozen_precision,
            log_dir=None if log_dir is None else str(log_dir), progress_bar=progress_bar,
            **self.extra)


# -- the stages --------------------------------------------------------------------------------
def build_trainer(cfg: DemoConfig, run_dir: Path, progress_bar: bool) -> Any:
    """The trainer with its own batched env (one sub-env per response of a rollout)."""
    from agents.token_ppo import TokenPPOTrainer, build_env

    config = cfg.ppo_config(run_dir / "tensorboard", progress_bar)
    env = build_env(config)
    if cfg.task_words_only:
        core = text_core(env)
        words = ActionVocab.from_spec("task", core.tokenizer,
                                      candidate_words=core.task.action_words)
        ids: list[int] = [] if words.token_ids is None else words.token_ids.tolist()
        config = dataclasses.replace(config, allowed_token_ids=tuple(ids))
    return TokenPPOTrainer(config, env=env)


def evaluate(trainer: Any, cfg: DemoConfig) -> dict[str, Any]:
    """``best_of`` sampled responses to each of ``eval_prompts`` fixed prompts, scored by the
    reward model and the gold judge. Same prompts and sampling seed before and after."""
    from agents.best_of_n import BestOfNConfig, best_of_n_baseline

    bon = BestOfNConfig.from_ppo(trainer.config)
    result = best_of_n_baseline(trainer.policy, trainer.env, cfg.best_of, cfg.eval_prompts,
                                bon)
    gold = result.sample_gold
    first = [{"prompt": p, "response": draws[0], "score": float(result.sample_scores[i, 0]),
              "gold_score": None if gold is None else float(gold[i, 0])}
             for i, (p, draws) in enumerate(zip(result.prompts, result.samples, strict=True))]
    return {"samples": first, "mean_score": result.baseline_score,
            "mean_gold": result.baseline_gold, "best_of_n": cfg.best_of,
            "best_of_n_score": result.mean_score, "best_of_n_gold": result.mean_gold,
            "best_of_n_kl": result.kl, "summary": result.summary()}


def train(trainer: Any, cfg: DemoConfig) -> list[dict[str, Any]]:
    """``cfg.steps`` PPO iterations; the per-step metrics."""
    return trainer.train(cfg.steps)


def save_policy(trainer: Any, directory: Path) -> None:
    """The trained policy as a ``save_pretrained`` folder: LoRA adapters (or the whole
    model), value head, tokenizer (``PolicyWithValue.from_pretrained`` loads it)."""
    trainer.save_pretrained(directory)


def plot(history: list[dict], cfg: DemoConfig, path: Path) -> None:
    """Reward-model and gold score (top) and KL against its target with β (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    episodes = [h["time/total_timesteps"] for h in history]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    lines = top.plot(episodes, [h["rlhf/score"] for h in history], marker="o", color="tab:blue",
                     label="reward model (left)")
    top.set_ylabel("reward-model score")
    if all("rlhf/gold_score" in h for h in history):
        gold = top.twinx()
        lines += gold.plot(episodes, [h["rlhf/gold_score"] for h in history], marker="s",
                           color="tab:orange", label="gold: VADER (right)")
        gold.set_ylabel("gold score")
    top.legend(handles=lines, loc="lower right")
    top.set_title(f"token-level PPO on RLHF-Text-v0 ({cfg.task}, {cfg.model})")
    kl_lines = bottom.plot(episodes, [h["rlhf/kl"] for h in history], marker="o",
                           color="tab:green",
                           label="KL to reference (nats / response)")
    bottom.axhline(cfg.target_kl, color="tab:green", linestyle="--", label="KL target")
    beta = bottom.twinx()
    kl_lines += beta.plot(episodes, [h["rlhf/kl_coef"] for h in history], color="tab:red",
                          label="β (right)")
    beta.set_ylabel("β")
    bottom.set_ylabel("KL (nats)")
    bottom.set_xlabel("episodes")
    bottom.legend(handles=[*kl_lines, *bottom.get_lines()[1:2]], loc="upper left")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    write_bytes(path, buffer.getvalue())
    plt.close(fig)


def write_run(run_dir: Path, cfg: DemoConfig, trainer: Any, before: dict, after: dict,
              seconds: float) -> None:
    history = trainer.metrics
    write_json(run_dir / "config.json", {"demo": asdict(cfg),
                                         "trainer": trainer.config.to_dict()})
    write_json(run_dir / "metrics.json", history)
    write_csv(history, run_dir / "metrics.csv")
    write_json(run_dir / "samples.json", {"seconds": seconds, "before": before, "after": after})
    plot(history, cfg, run_dir / "scores.png")
    save_policy(trainer, run_dir / "policy")


def summary_lines(history: list[dict], cfg: DemoConfig, before: dict, after: dict
                  ) -> list[str]:
    """What the run did, in numbers (printed at the end)."""
    first, last = history[0], history[-1]
    kls = [h["rlhf/kl"] for h in history[len(history) // 2:]]
    lines = [f"rollout score {first['rlhf/score']:+.3f} -> {last['rlhf/score']:+.3f}"
             + (f", gold {first['rlhf/gold_score']:+.3f} -> {last['rlhf/gold_score']:+.3f}"
                if "rlhf/gold_score" in first else ""),
             f"evaluation (n=1) score {before['mean_score']:+.3f} -> {after['mean_score']:+.3f}"
             + (f", gold {before['mean_gold']:+.3f} -> {after['mean_gold']:+.3f}"
                if before["mean_gold"] is not None else ""),
             f"before training, {before['summary']}",
             f"KL over the second half: median {np.median(kls):.2f}, mean {np.mean(kls):.2f} "
             f"nats (target {cfg.target_kl:.2f}), β {first['rlhf/kl_coef']:.3f} -> "
             f"{last['rlhf/kl_coef']:.3f}"]
    return lines


def run_token_demo(args: argparse.Namespace) -> int:
    """``rlhf-env demo``: build, evaluate, train, evaluate, write the run folder."""
    cfg = DemoConfig.smoke() if args.smoke else DemoConfig()
    cfg = dataclasses.replace(cfg, frozen_precision=getattr(args, "frozen_precision", "float32"))
    run_dir = new_run_dir(args.out, "demo")
    print(f"RLHF demo (token-level PPO): task={cfg.task}, model={cfg.model}, {cfg.steps} PPO "
          f"steps x {cfg.batch_size} responses, frozen models in {cfg.frozen_precision}; "
          f"run folder {run_dir}", flush=True)
    start = time.perf_counter()
    trainer = build_trainer(cfg, run_dir, progress_bar=not args.smoke)
    before = evaluate(trainer, cfg)
    print_samples("before training", before["samples"])
    train(trainer, cfg)
    after = evaluate(trainer, cfg)
    print_samples("after training", after["samples"])
    seconds = time.perf_counter() - start
    write_run(run_dir, cfg, trainer, before, after, seconds)
    trainer.close()
    print()
    for line in summary_lines(trainer.metrics, cfg, before, after):
        print(line)
    print(f"\nwrote {run_dir}/: config.json, metrics.csv, metrics.json, samples.json, "
          f"scores.png, tensorboard/, policy/ ({seconds:.0f} s)")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """The ``rlhf-env demo`` command: the token-level demo, or ``--agent sb3``."""
    if getattr(args, "agent", "token-ppo") == "sb3":
        from agents.demos.sb3 import run_sb3_demo

        return run_sb3_demo(args)
    return run_token_demo(args)
