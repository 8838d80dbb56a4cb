"""Env throughput: the batched vector env versus N envs stepped one by one, versus the raw models.

    .venv/bin/python benchmarks/bench_env.py            # N = 1, 8, 32 (a few minutes)
    .venv/bin/python benchmarks/bench_env.py --quick    # N = 1, 4, fewer steps

Setup (the real defaults): the ``sentiment`` task with SmolLM2-135M-Instruct's tokenizer,
the learned MiniLM sentiment reward model (its embedding cache off, so nothing is re-used),
VADER as gold, and the KL term against SmolLM2-135M-Instruct as reference (``kl_coef=0.05``);
16 response tokens drawn from the task's action vocabulary.

For each N it times
- *batched*: ``TextBanditVectorEnv(num_envs=N)``, one reward/gold/reference call per step;
- *one by one*: N ``TextBanditEnv`` (sharing the same model objects, and so the reference's
  prompt cache), each stepped and reset;
- *raw*: the reward model, the gold scorer and the reference forward alone on the same
  texts and token ids in batches of N (its prompt cache warmed first, as the env's is):
  the ceiling for any env.
and reports env steps per second and the ratios batched/one-by-one and batched/raw.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import add_output_args, machine, write_results


def build_shared(kl_coef: float) -> dict[str, Any]:
    """Models loaded once and shared by every env in the run."""
    from rlhf_env.models import load_causal_lm, load_tokenizer
    from rlhf_env.rewards import make_reward_model

    return {
        "tokenizer": load_tokenizer(),
        "reward_model": make_reward_model("sentiment", cache_size=0),
        "gold": make_reward_model("vader"),
        "reference_model": load_causal_lm(),
        "kl_coef": kl_coef,
        "action_vocab": "task",
        "max_response_tokens": 16,
    }


def time_batched(shared: dict, n: int, steps: int) -> tuple[float, list[dict]]:
    from rlhf_env.text.vector import TextBanditVectorEnv

    venv = TextBanditVectorEnv(num_envs=n, **shared)
    venv.reset(seed=0)
    venv.action_space.seed(0)
    actions = [venv.action_space.sample() for _ in range(steps + 1)]
    venv.step(actions[0])  # warm-up
    episodes: list[dict] = []
    start = time.perf_counter()
    for a in actions[1:]:
        *_, info = venv.step(a)
        episodes += _unbatch(info["final_info"], n)
    return n * steps / (time.perf_counter() - start), episodes


def _unbatch(info: dict, n: int) -> list[dict]:
    return [{k: v[i] for k, v in info.items() if not k.startswith("_")} for i in range(n)]


def time_one_by_one(shared: dict, n: int, steps: int) -> float:
    from rlhf_env.text.bandit import TextBanditEnv

    envs = [TextBanditEnv(**shared) for _ in range(n)]
    for i, env in enumerate(envs):
        env.reset(seed=i)
        env.action_space.seed(i)
    actions = [[env.action_space.sample() for env in envs] for _ in range(steps + 1)]
    for env, a in zip(envs, actions[0], strict=True):  # warm-up
        env.step(a)
        env.reset()
    start = time.perf_counter()
    for row in actions[1:]:
        for env, a in zip(envs, row, strict=True):
            env.step(a)
            env.reset()
    return n * steps / (time.perf_counter() - start)


def time_raw(shared: dict, core: Any, episodes: list[dict], n: int) -> float:
    """Reward model + gold + reference alone on the batched run's texts, batches of n."""
    from rlhf_env.text.reference import ReferenceScorer

    ref = ReferenceScorer(shared["reference_model"], shared["tokenizer"].pad_token_id,
                          len(shared["tokenizer"]))
    tok = shared["tokenizer"]
    batches = [episodes[i : i + n] for i in range(0, len(episodes) - n + 1, n)]
    prepared = []
    for batch in batches:
        prompts = [e["prompt"] for e in batch]
        responses = [e["response"] for e in batch]
        prompt_ids = [core.encode_prompt(int(e["prompt_index"]))[0] for e in batch]
        response_ids = [np.asarray([*tok.encode(r, add_special_tokens=False), tok.eos_token_id])
                        for r in responses]
        prepared.append((prompts, responses, prompt_ids, response_ids))
    for _, _, prompt_ids, response_ids in prepared:  # warm its prompt cache, as the env's is
        ref.sequence_logprobs(prompt_ids, response_ids)
    start = time.perf_counter()
    for prompts, responses, prompt_ids, response_ids in prepared:
        shared["reward_model"].score(prompts, responses)
        shared["gold"].score(prompts, responses)
        ref.sequence_logprobs(prompt_ids, response_ids)
    return len(prepared) * n / (time.perf_counter() - start)


def run(sizes: list[int], target_episodes: int, kl_coef: float) -> dict[str, Any]:
    from rlhf_env.text.core import TextBanditCore, TextEnvConfig

    shared = build_shared(kl_coef)
    core = TextBanditCore(TextEnvConfig(**shared))
    rows = []
    for n in sizes:
        steps = max(3, target_episodes // n)
        batched, episodes = time_batched(shared, n, steps)
        single = time_one_by_one(shared, n, max(2, steps // 2))
        raw = time_raw(shared, core, episodes, n)
        row = {"num_envs": n, "batched_steps_per_s": batched, "one_by_one_steps_per_s": single,
               "raw_models_pairs_per_s": raw, "batched_over_one_by_one": batched / single,
               "batched_over_raw": batched / raw}
        print(_fmt(row), flush=True)
        rows.append(row)
    return {"machine": machine(), "kl_coef": kl_coef, "rows": rows}


def _fmt(row: dict) -> str:
    return (f"N={row['num_envs']:3d}  batched {row['batched_steps_per_s']:7.1f}/s  "
            f"one-by-one {row['one_by_one_steps_per_s']:7.1f}/s  "
            f"raw {row['raw_models_pairs_per_s']:7.1f}/s"
            f"  batched/one-by-one {row['batched_over_one_by_one']:5.2f}x"
            f"  batched/raw {row['batched_over_raw']:4.2f}")


def markdown(result: dict, command: str) -> str:
    lines = [
        f"Command: `{command}`  ",
        f"Machine: {result['machine']['cpus']} CPUs, torch {result['machine']['torch']} "
        f"({result['machine']['torch_threads']} threads), {result['machine']['date']}",
        "",
        "| N | batched env (steps/s) | N envs one by one (steps/s) | raw models (pairs/s) "
        "| batched / one-by-one | batched / raw |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['num_envs']} | {r['batched_steps_per_s']:.1f} "
            f"| {r['one_by_one_steps_per_s']:.1f} "
            f"| {r['raw_models_pairs_per_s']:.1f} | {r['batched_over_one_by_one']:.2f}x "
            f"| {r['batched_over_raw']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 1, 4 and few steps")
    parser.add_argument("--episodes", type=int, default=192, help="episodes timed per N")
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default); 1 is steadier on a busy machine")
    add_output_args(parser)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    sizes = [1, 4] if args.quick else [1, 8, 32]
    episodes = 16 if args.quick else args.episodes
    result = run(sizes, episodes, args.kl_coef)
    command = "benchmarks/bench_env.py" + " ".join(
        [""] + (["--quick"] if args.quick else []) + ([f"--episodes {args.episodes}"]
        if args.episodes != 192 else []) + ([f"--threads {args.threads}"] if args.threads else []))
    json_path, md_path = write_results("env" + ("-quick" if args.quick else ""), result,
                                       markdown(result, f".venv/bin/python {command}"),
                                       args.out, publish=args.publish)
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
