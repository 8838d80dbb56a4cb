"""Env throughput: the batched vector env versus N envs stepped one by one, versus the raw
models, with the frozen models at float32 and at lower precisions.

    .venv/bin/python benchmarks/bench_env.py            # N = 1, 8, 32 (several minutes)
    .venv/bin/python benchmarks/bench_env.py --quick    # N = 1, 4, fewer steps
    .venv/bin/python benchmarks/bench_env.py --precisions float32,bfloat16   # fewer precisions
    .venv/bin/python benchmarks/bench_env.py --tiny --quick   # tiny models (a smoke run)

Setup (the real defaults): the ``sentiment`` task with SmolLM2-135M-Instruct's tokenizer,
the learned MiniLM sentiment reward model (its embedding cache off, so nothing is re-used),
VADER as gold, and the KL term against SmolLM2-135M-Instruct as reference (``kl_coef=0.05``);
16 response tokens drawn from the task's action vocabulary. ``--tiny``: the tiny random
Llama and a tiny random BERT reward model instead (numbers mean nothing; for smoke runs).

For each precision of the frozen models (``RLHF-Text-v0``'s ``frozen_precision``: the
reference and the reward model's encoder; the gold scorer stays as it is) and each N it times
- *batched*: ``TextBanditVectorEnv(num_envs=N)``, one reward/gold/reference call per step;
- *one by one*: N ``TextBanditEnv`` (sharing the same model objects, and so the reference's
  prompt cache), each stepped and reset;
- *raw*: the reward model, the gold scorer and the reference forward alone on the same
  texts and token ids in batches of N (its prompt cache warmed first, as the env's is):
  the ceiling for any env.
and reports env steps per second and the ratios batched/one-by-one and batched/raw; at a
lower precision also batched / float32 one-by-one and batched / float32 batched. The
batched runs of every precision see the same prompts and actions, so the error a lower
precision introduces is measured on them: the absolute difference from float32 of each
response's reward-model score and of its summed reference log-prob (and per token).
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


def build_shared(kl_coef: float, tiny: bool = False) -> dict[str, Any]:
    """Env keyword arguments with the models loaded once and shared by every env in the run
    (an env with ``frozen_precision`` converts them once, and shares the copies)."""
    from rlhf_env.models import load_causal_lm, load_tokenizer
    from rlhf_env.rewards import make_reward_model

    if tiny:
        from rlhf_env.rewards.encoder_head import EncoderHeadReward

        tokenizer, reference = load_tokenizer("tiny-random-llama"), load_causal_lm(
            "tiny-random-llama")
        reward = EncoderHeadReward(backbone="tiny-random-bert", cache_size=0)
    else:
        tokenizer, reference = load_tokenizer(), load_causal_lm()
        reward = make_reward_model("sentiment", cache_size=0)
    return {"tokenizer": tokenizer, "reward_model": reward, "gold": make_reward_model("vader"),
            "reference_model": reference, "kl_coef": kl_coef, "action_vocab": "task",
            "max_response_tokens": 16}


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


def time_raw(core: Any, episodes: list[dict], n: int) -> float:
    """Reward model + gold + reference alone on the batched run's texts, batches of n: the
    core's own models (at its precision), a fresh reference prompt cache."""
    from rlhf_env.text.reference import ReferenceScorer

    tok = core.tokenizer
    ref = ReferenceScorer(core.reference.model, tok.pad_token_id, len(tok))
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
        core.reward_model.score(prompts, responses)
        core.gold.score(prompts, responses)
        ref.sequence_logprobs(prompt_ids, response_ids)
    return len(prepared) * n / (time.perf_counter() - start)


def precision_error(episodes: list[dict], float_episodes: list[dict]) -> dict[str, float]:
    """Max and mean absolute difference from the float32 run (same prompts and actions) of
    the score, the summed reference log-prob and the reference log-prob per response token."""
    def column(eps: list[dict], key: str) -> np.ndarray:
        return np.asarray([e[key] for e in eps], dtype=np.float64)

    if [e["response"] for e in episodes] != [e["response"] for e in float_episodes]:
        raise RuntimeError("the runs saw different responses; their errors cannot be compared")
    score = np.abs(column(episodes, "score") - column(float_episodes, "score"))
    ref = np.abs(column(episodes, "ref_logprob") - column(float_episodes, "ref_logprob"))
    per_token = ref / np.maximum(column(episodes, "response_tokens"), 1)
    return {"score_max": float(score.max()), "score_mean": float(score.mean()),
            "score_std_float32": float(column(float_episodes, "score").std()),
            "ref_logprob_max": float(ref.max()), "ref_logprob_mean": float(ref.mean()),
            "ref_logprob_per_token_max": float(per_token.max()),
            "ref_logprob_per_token_mean": float(per_token.mean()),
            "episodes": len(episodes)}


def run_precision(shared: dict, precision: str, sizes: list[int], target_episodes: int
                  ) -> tuple[list[dict], dict[int, list[dict]]]:
    """The rows of one precision, and the batched run's episodes per N."""
    from rlhf_env.text.core import TextBanditCore, TextEnvConfig

    shared = {**shared, "frozen_precision": precision}
    core = TextBanditCore(TextEnvConfig(**shared))
    rows, episodes_by_n = [], {}
    for n in sizes:
        steps = max(3, target_episodes // n)
        batched, episodes = time_batched(shared, n, steps)
        single = time_one_by_one(shared, n, max(2, steps // 2))
        raw = time_raw(core, episodes, n)
        row = {"precision": precision, "num_envs": n, "batched_steps_per_s": batched,
               "one_by_one_steps_per_s": single, "raw_models_pairs_per_s": raw,
               "batched_over_one_by_one": batched / single, "batched_over_raw": batched / raw}
        print(_fmt(row), flush=True)
        rows.append(row)
        episodes_by_n[n] = episodes
    return rows, episodes_by_n


def run(sizes: list[int], target_episodes: int, kl_coef: float,
        precisions: list[str] | None = None, tiny: bool = False) -> dict[str, Any]:
    """Every precision's rows (float32 first), the cross-precision ratios and the errors."""
    precisions = ["float32", *[p for p in precisions or [] if p != "float32"]]
    rows: list[dict] = []
    errors: dict[str, dict[str, dict[str, float]]] = {}
    base: dict[int, dict] = {}
    base_episodes: dict[int, list[dict]] = {}
    shared = build_shared(kl_coef, tiny)
    for precision in precisions:
        prec_rows, episodes = run_precision(shared, precision, sizes, target_episodes)
        for row in prec_rows:
            n = row["num_envs"]
            if precision == "float32":
                base[n], base_episodes[n] = row, episodes[n]
                continue
            row["batched_over_float32_one_by_one"] = (row["batched_steps_per_s"]
                                                      / base[n]["one_by_one_steps_per_s"])
            row["batched_over_float32_batched"] = (row["batched_steps_per_s"]
                                                   / base[n]["batched_steps_per_s"])
            errors.setdefault(precision, {})[str(n)] = precision_error(episodes[n],
                                                                       base_episodes[n])
        rows += prec_rows
    return {"machine": machine(), "kl_coef": kl_coef, "tiny_models": tiny,
            "precisions": precisions, "rows": rows, "errors": errors}


def _fmt(row: dict) -> str:
    return (f"{row['precision']:>8} N={row['num_envs']:3d}  "
            f"batched {row['batched_steps_per_s']:7.1f}/s  "
            f"one-by-one {row['one_by_one_steps_per_s']:7.1f}/s  "
            f"raw {row['raw_models_pairs_per_s']:7.1f}/s"
            f"  batched/one-by-one {row['batched_over_one_by_one']:5.2f}x"
            f"  batched/raw {row['batched_over_raw']:4.2f}")


def markdown(result: dict, command: str) -> str:
    m = result["machine"]
    lines = [
        f"Command: `{command}`  ",
        f"Machine: {m['cpus']} CPUs, torch {m['torch']} ({m['torch_threads']} threads), load "
        f"average {m['load_average_1_5_15min']} at the start, {m['date']}"
        + ("  \n**Tiny random models: a smoke run, not a measurement.**"
           if result.get("tiny_models") else ""),
        "",
        "| frozen models | N | batched env (steps/s) | N envs one by one (steps/s) | raw models "
        "(pairs/s) | batched / one-by-one | batched / raw | batched / float32 one-by-one "
        "| batched / float32 batched |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        extra = (f"{r['batched_over_float32_one_by_one']:.2f}x | "
                 f"{r['batched_over_float32_batched']:.2f}x"
                 if "batched_over_float32_batched" in r else "– | –")
        lines.append(
            f"| {r.get('precision', 'float32')} | {r['num_envs']} "
            f"| {r['batched_steps_per_s']:.1f} | {r['one_by_one_steps_per_s']:.1f} "
            f"| {r['raw_models_pairs_per_s']:.1f} | {r['batched_over_one_by_one']:.2f}x "
            f"| {r['batched_over_raw']:.2f} | {extra} |")
    if result.get("errors"):
        lines += ["", "Error against float32 on the batched runs' episodes (same prompts and "
                  "actions), absolute:", "",
                  "| frozen models | N | episodes | score max | score mean | (float32 score "
                  "std) | ref log-prob max | mean | per token max | per token mean |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for precision, by_n in result["errors"].items():
            for n, e in by_n.items():
                lines.append(
                    f"| {precision} | {n} | {e['episodes']} | {e['score_max']:.4f} | "
                    f"{e['score_mean']:.4f} | {e['score_std_float32']:.3f} | "
                    f"{e['ref_logprob_max']:.3f} | {e['ref_logprob_mean']:.3f} | "
                    f"{e['ref_logprob_per_token_max']:.4f} | "
                    f"{e['ref_logprob_per_token_mean']:.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from rlhf_env.models import PRECISIONS, check_precision

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 1, 4 and few steps")
    parser.add_argument("--episodes", type=int, default=192, help="episodes timed per N")
    parser.add_argument("--kl-coef", type=float, default=0.05)
    parser.add_argument("--precisions", default=",".join(PRECISIONS),
                        help=f"frozen-model precisions to run, comma-separated (float32 always "
                             f"runs, as the reference point; of {', '.join(PRECISIONS)})")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny random models instead of SmolLM2 and MiniLM (smoke runs)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default); 1 is steadier on a busy machine")
    add_output_args(parser)
    args = parser.parse_args()
    precisions = [check_precision("--precisions", p.strip())
                  for p in args.precisions.split(",") if p.strip()]
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    sizes = [1, 4] if args.quick else [1, 8, 32]
    episodes = 16 if args.quick else args.episodes
    result = run(sizes, episodes, args.kl_coef, precisions, args.tiny)
    command = "benchmarks/bench_env.py" + " ".join(
        [""] + (["--quick"] if args.quick else []) + ([f"--episodes {args.episodes}"]
        if args.episodes != 192 else []) + ([f"--threads {args.threads}"] if args.threads else [])
        + ([f"--precisions {','.join(precisions)}"] if precisions != list(PRECISIONS) else [])
        + (["--tiny"] if args.tiny else []))
    name = "env" + ("-tiny" if args.tiny else "") + ("-quick" if args.quick else "")
    json_path, md_path = write_results(name, result,
                                       markdown(result, f".venv/bin/python {command}"),
                                       args.out, publish=args.publish)
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
