"""Benchmark the token-level PPO trainer against TRL and against bare ``model.generate``.

    python benchmarks/bench_token_ppo.py [--steps 4] [--repeats 3] [--batch 16] [--group 4]
        [--new-tokens 16] [--threads 1] [--smollm] [--skip-trl] [--skip-sb3] [--skip-memory]

Same model, prompts, batch and lengths for every contender:

* **training**: our :class:`~agents.token_ppo.TokenPPOTrainer` (RLOO advantages, one PPO
  epoch, KL against a frozen reference) versus TRL's ``RLOOTrainer`` (``beta`` > 0, so it also
  keeps a reference model), both on the keyword rule reward, ``batch`` completions per step in
  groups of ``group`` per prompt. Reported: episodes/s and generated tokens/s after one
  warm-up step, median of ``repeats`` alternating runs, and the ratio ours / TRL.
* **SB3**: stock SB3 ``PPO`` with ``agents.CausalLMPolicy`` on the token env
  ``RLHF-TextToken-v0`` (one env step per token), the same model, prompts, sub-envs and
  response limit, episodes/s over two rollouts after a warm-up one.
* **generation**: our KV-cached sampler (which also returns log-probs and values) versus a
  bare ``model.generate(do_sample=True)`` on the same prompt batch, tokens/s and the ratio.
* **memory**: in a fresh process per mode, the RSS after loading the model and the peak RSS
  (sampled every 5 ms) while building the trainer and running two steps: full fine-tuning
  (reference = frozen copy, AdamW state for every weight) versus LoRA (reference = the
  shared base), when ``peft`` is installed.

The default model is a random-init Llama sized like a small real model (6 layers, 256 wide,
tiny tokenizer, 5.2M parameters); ``--smollm`` uses the bundled SmolLM2-135M-Instruct (slow
on CPU). Results: ``token_ppo.json`` and ``.md`` (``token_ppo_smollm`` with ``--smollm``)
under ``--out`` (default ``runs/benchmarks/``; ``--publish``: also ``benchmarks/results/``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym

import rlhf_env  # noqa: F401  (registers the env ids)
from benchmarks._common import add_output_args, command_args, machine, write_results
from rlhf_env.models import eos_token_id, load_causal_lm, load_tokenizer
from rlhf_env.models.tiny import tiny_causal_lm
from rlhf_env.rewards.rules import KeywordReward
from rlhf_env.text.core import text_core
from rlhf_env.text.words import KEYWORDS

PROMPTS = [
    "Write a short review of your favourite cafe.", "Describe your weekend in one sentence.",
    "Say something about the weather today.", "Tell a friend about a movie you saw.",
    "Write a message to thank a colleague.", "Describe the food at a new restaurant.",
    "What do you think of your new phone?", "Write one line about a trip to the sea.",
]
"""The prompts every contender uses."""


def build_model(smollm: bool, seed: int = 0) -> tuple[Any, str]:
    """The benchmark policy and the model name whose tokenizer the env uses."""
    if smollm:
        return load_causal_lm("smollm2-135m-instruct"), "smollm2-135m-instruct"
    model = tiny_causal_lm(seed=seed, hidden_size=256, intermediate_size=768,
                           num_hidden_layers=6, num_attention_heads=8, num_key_value_heads=4)
    return model, "tiny-random-llama"


def _env(args: argparse.Namespace, model_name: str) -> Any:
    return gym.make_vec("RLHF-Text-v0", num_envs=args.batch, task="keyword", model=model_name,
                        prompts=PROMPTS, max_prompt_tokens=96,
                        max_response_tokens=args.new_tokens, kl_coef=0.0)


def _our_config(args: argparse.Namespace, model_name: str, lora: bool = False,
                shared_prompt: bool = True) -> Any:
    from agents.token_ppo import TokenPPOConfig

    return TokenPPOConfig(model=model_name, task="keyword", batch_size=args.batch,
                          minibatch_size=args.batch, max_new_tokens=args.new_tokens,
                          advantage="rloo", group_size=args.group, kl_coef=0.05,
                          learning_rate=1e-5, progress_bar=False, lora_r=8 if lora else 0,
                          shared_prompt=shared_prompt)


def bench_ours(args: argparse.Namespace, shared_prompt: bool = True) -> dict[str, Any]:
    """Our trainer: seconds per step after one warm-up step. ``shared_prompt=False``: each
    response runs its own prompt pass (the ablation of the group-shared prompt)."""
    from agents.token_ppo import TokenPPOTrainer

    model, name = build_model(args.smollm)
    trainer = TokenPPOTrainer(_our_config(args, name, shared_prompt=shared_prompt),
                              env=_env(args, name), policy=model)
    trainer.step()
    start = time.perf_counter()
    metrics = [trainer.step() for _ in range(args.steps)]
    seconds = time.perf_counter() - start
    tokens = sum(m["rlhf/response_length"] * args.batch for m in metrics)
    return {"seconds": seconds, "steps": args.steps, "episodes_per_s": args.steps * args.batch
            / seconds, "tokens_per_s": tokens / seconds,
            "mean_response_tokens": tokens / (args.steps * args.batch)}


def bench_trl(args: argparse.Namespace) -> dict[str, Any]:
    """TRL's RLOOTrainer on the same model, prompts, batch, group size and lengths."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import RLOOConfig, RLOOTrainer

    model, name = build_model(args.smollm)
    tokenizer = load_tokenizer(name)
    reward = KeywordReward(KEYWORDS)

    def keyword_reward(prompts: list, completions: list, **_: Any) -> list[float | None]:
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [float(x) for x in reward.score([""] * len(texts), texts)]

    times: list[float] = []
    lengths: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a: Any, **k: Any) -> None:
            times.append(time.perf_counter())

        def on_log(self, *a: Any, logs: dict | None = None, **k: Any) -> None:
            if logs and "completions/mean_length" in logs:
                lengths.append(float(logs["completions/mean_length"]))

    prompts = [{"prompt": [{"role": "user", "content": p}]} for p in PROMPTS] * 64
    with tempfile.TemporaryDirectory() as out:
        # TRL builds its reference model from the policy's path: give it a saved folder.
        model.save_pretrained(f"{out}/model")
        tokenizer.save_pretrained(f"{out}/model")
        config = RLOOConfig(
            output_dir=out, per_device_train_batch_size=args.batch,
            num_generations=args.group, max_completion_length=args.new_tokens,
            max_steps=args.steps + 1, learning_rate=1e-5, beta=0.05, logging_steps=1,
            report_to="none", save_strategy="no", use_cpu=True, bf16=False, seed=0,
            disable_dropout=True, dataloader_num_workers=0, disable_tqdm=True,
            model_init_kwargs={"dtype": "float32"})
        trainer = RLOOTrainer(model=f"{out}/model", reward_funcs=keyword_reward, args=config,
                              train_dataset=Dataset.from_list(prompts),
                              processing_class=tokenizer, callbacks=[Clock()])
        trainer.train()
    seconds = times[-1] - times[0]
    mean_len = sum(lengths[1:]) / max(len(lengths) - 1, 1) if lengths else args.new_tokens
    return {"seconds": seconds, "steps": args.steps,
            "episodes_per_s": args.steps * args.batch / seconds,
            "tokens_per_s": args.steps * args.batch * mean_len / seconds,
            "mean_response_tokens": mean_len}


def bench_sb3(args: argparse.Namespace, rollouts: int = 2) -> dict[str, Any]:
    """Stock SB3 PPO with ``CausalLMPolicy`` on ``RLHF-TextToken-v0`` (one token per step, no
    KV cache across steps): same model, prompts, ``batch`` sub-envs and response limit; one
    rollout of ``new_tokens`` steps per sub-env and one epoch of one minibatch per update."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.lm_policy import CausalLMPolicy
    from agents.sb3 import make_vec_env

    model, name = build_model(args.smollm)
    venv = make_vec_env(args.batch, seed=0, env_id="RLHF-TextToken-v0", task="keyword",
                        model=name, prompts=PROMPTS, max_prompt_tokens=96,
                        max_response_tokens=args.new_tokens)
    rollout = args.batch * args.new_tokens
    ppo = PPO(CausalLMPolicy, venv, policy_kwargs={"model": model}, n_steps=args.new_tokens,
              batch_size=rollout, n_epochs=1, learning_rate=1e-5, seed=0)

    class Episodes(BaseCallback):
        count = 0

        def _on_step(self) -> bool:
            Episodes.count += int(self.locals["dones"].sum())
            return True

    ppo.learn(rollout)  # warm-up
    Episodes.count = 0
    start = time.perf_counter()
    ppo.learn(rollout * rollouts, callback=Episodes(), reset_num_timesteps=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "timesteps": rollout * rollouts, "episodes": Episodes.count,
            "episodes_per_s": Episodes.count / seconds,
            "tokens_per_s": rollout * rollouts / seconds}


def bench_generation(args: argparse.Namespace) -> dict[str, Any]:
    """Our sampler (tokens + log-probs + values) versus bare ``model.generate``: median
    tokens/s of ``2 · repeats + 1`` alternating calls each."""
    repeats = 2 * args.repeats + 1
    import torch

    from agents.token_ppo import PolicyWithValue, SamplingTransform, generate

    model, name = build_model(args.smollm)
    env = _env(args, name)
    obs, _ = env.reset(seed=0, options={"prompt_index": [i % len(PROMPTS)
                                                         for i in range(args.batch)]})
    ids, mask = torch.as_tensor(obs["input_ids"]), torch.as_tensor(obs["attention_mask"])
    keep = mask.any(0)
    ids, mask = ids[:, keep], mask[:, keep]
    eos = eos_token_id(text_core(env).tokenizer)
    policy = PolicyWithValue(model)

    def ours() -> int:
        gen = generate(policy, ids, mask, max_new_tokens=args.new_tokens, eos_id=eos,
                       transform=SamplingTransform(), generator=torch.Generator().manual_seed(0))
        return int(gen.mask.sum())

    def bare() -> int:
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, top_k=0,
                                 max_new_tokens=args.new_tokens, pad_token_id=eos,
                                 eos_token_id=eos)
        new = out[:, ids.shape[1]:]
        done_before = (new == eos).long().cumsum(1) - (new == eos).long()
        return int((done_before == 0).sum())

    contenders = {"ours": ours, "model.generate": bare}
    rates: dict[str, list[float]] = {label: [] for label in contenders}
    for fn in contenders.values():
        fn()  # warm-up
    for _ in range(repeats):  # alternate, so load changes on a shared machine hit both
        for label, fn in contenders.items():
            start = time.perf_counter()
            tokens = fn()
            rates[label].append(tokens / (time.perf_counter() - start))
    results: dict[str, Any] = {
        label: {"tokens_per_s": statistics.median(r), "all_tokens_per_s": r}
        for label, r in rates.items()}
    results["ratio"] = results["ours"]["tokens_per_s"] / results["model.generate"]["tokens_per_s"]
    return results


def _rss_mib() -> float:
    """Current resident set size of this process (Linux ``/proc``), in MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class _PeakRSS:
    """Samples the RSS every few milliseconds in a thread and keeps the maximum."""

    def __init__(self) -> None:
        self.peak = _rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_mib())

    def __enter__(self) -> _PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mib())


def memory_child(args: argparse.Namespace) -> None:
    """Run in a fresh process: build the trainer and run two steps; print, as JSON, the RSS
    after loading the model and the peak RSS while building and training (MiB)."""
    from agents.token_ppo import TokenPPOTrainer

    model, name = build_model(args.smollm)
    env = _env(args, name)
    gc.collect()
    before = _rss_mib()
    with _PeakRSS() as peak:
        trainer = TokenPPOTrainer(_our_config(args, name, lora=args.memory_child == "lora"),
                                  env=env, policy=model)
        trainer.step()
        trainer.step()
    print(json.dumps({"rss_after_model_load_mib": before, "peak_rss_training_mib": peak.peak,
                      "training_overhead_mib": peak.peak - before,
                      "trainable_params": sum(p.numel() for p in
                                              trainer.policy.trainable_parameters())}))


def bench_memory(args: argparse.Namespace) -> dict[str, Any]:
    """Peak RSS with full fine-tuning and with LoRA, each in a fresh interpreter."""
    try:
        import peft  # noqa: F401
    except ImportError:
        return {"skipped": "peft is not installed"}
    out = {}
    for mode in ("full", "lora"):
        cmd = [sys.executable, __file__, "--memory-child", mode, "--batch", str(args.batch),
               "--group", str(args.group), "--new-tokens", str(args.new_tokens),
               "--threads", str(args.threads)] + (["--smollm"] if args.smollm else [])
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median episodes/s (the lower middle one for an even count)."""
    ranked = sorted(runs, key=lambda r: r["episodes_per_s"])
    return {**ranked[(len(ranked) - 1) // 2],
            "all_episodes_per_s": [r["episodes_per_s"] for r in runs]}


def compare_trainers(args: argparse.Namespace) -> dict[str, Any]:
    """Ours and TRL alternately, ``repeats`` times each (the machine may be shared, so
    alternating spreads load changes over both); the median run of each and their ratio."""
    ours: list[dict[str, Any]] = []
    unshared: list[dict[str, Any]] = []
    trl_runs: list[dict[str, Any]] = []
    out: dict[str, Any] = {}
    trl_error = None
    for _ in range(args.repeats):
        ours.append(bench_ours(args))
        unshared.append(bench_ours(args, shared_prompt=False))
        if args.skip_trl or trl_error:
            continue
        try:
            trl_runs.append(bench_trl(args))
        except Exception as exc:  # report why TRL could not run, keep our numbers
            trl_error = f"{type(exc).__name__}: {exc}"
    out["ours"] = _median_run(ours)
    out["ours_unshared"] = _median_run(unshared)
    out["shared_prompt_speedup"] = (out["ours"]["episodes_per_s"]
                                    / out["ours_unshared"]["episodes_per_s"])
    if not args.skip_trl:
        import trl

        out["trl_version"] = trl.__version__
        out["trl"] = trl_error or _median_run(trl_runs)
        if trl_runs and not trl_error:
            out["speedup_vs_trl"] = out["ours"]["episodes_per_s"] / out["trl"]["episodes_per_s"]
    return out


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _trainer_rows(payload: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Table rows and the ratio sentences below the table, for the trainers that ran."""
    ours, trl, sb3 = payload["ours"], payload.get("trl"), payload.get("sb3")
    rows = [f"| ours (TokenPPOTrainer, RLOO) | {ours['episodes_per_s']:.2f} | "
            f"{ours['tokens_per_s']:.1f} | {ours['mean_response_tokens']:.1f} |"]
    notes = []
    unshared = payload.get("ours_unshared")
    if unshared:
        rows.append(f"| ours, `shared_prompt=False` (a prompt pass per response) | "
                    f"{unshared['episodes_per_s']:.2f} | {unshared['tokens_per_s']:.1f} | "
                    f"{unshared['mean_response_tokens']:.1f} |")
        notes.append(f"Group-shared prompt passes: **{payload['shared_prompt_speedup']:.2f}x** "
                     f"(without them: {_fmt(unshared['all_episodes_per_s'])} episodes/s).")
    if isinstance(trl, dict):
        rows.append(f"| TRL {payload['trl_version']} RLOOTrainer | {trl['episodes_per_s']:.2f} "
                    f"| {trl['tokens_per_s']:.1f} | {trl['mean_response_tokens']:.1f} |")
        notes.append(f"**ours / TRL: {payload['speedup_vs_trl']:.2f}x episodes/s** (median of "
                     f"{payload['repeats']} alternating runs each; ours "
                     f"{_fmt(ours['all_episodes_per_s'])}, TRL "
                     f"{_fmt(trl['all_episodes_per_s'])} episodes/s).")
    elif trl is not None:
        notes.append(f"TRL did not run: {trl}")
    if sb3:
        rows.append(f"| stock SB3 PPO + CausalLMPolicy (token env) | "
                    f"{sb3['episodes_per_s']:.2f} | {sb3['tokens_per_s']:.1f} | – |")
        notes.append(f"**ours / SB3: {payload['speedup_vs_sb3']:.1f}x episodes/s** (SB3: "
                     f"{sb3['episodes']} episodes in {sb3['seconds']:.1f} s; it pays no KL "
                     f"term, ours and TRL do).")
    return rows, notes


def _markdown(command: str, payload: dict[str, Any]) -> str:
    gen = payload["generation"]
    rows, notes = _trainer_rows(payload)
    lines = [f"# Token-level PPO benchmark\n\n```\n{command}\n```\n",
             f"Model: {payload['model']}; batch {payload['batch']} (groups of "
             f"{payload['group']}), up to {payload['new_tokens']} new tokens, "
             f"{payload['machine']['torch_threads']} torch thread(s), "
             f"{payload['machine']['cpus']} CPUs.\n",
             "| trainer | episodes/s | tokens/s | mean response tokens |", "|---|---|---|---|",
             *rows, "", *[f"{n}\n" for n in notes],
             "| generation | tokens/s |", "|---|---|",
             f"| ours (tokens + log-probs + values) | {gen['ours']['tokens_per_s']:.1f} |",
             f"| bare model.generate | {gen['model.generate']['tokens_per_s']:.1f} |",
             f"\n**ours / model.generate: {gen['ratio']:.2f}x** (median of "
             f"{len(gen['ours']['all_tokens_per_s'])} alternating calls each).\n"]
    mem = payload.get("memory")
    if isinstance(mem, dict) and "full" in mem:
        lines += ["| fine-tuning | RSS after model load (MiB) | peak RSS while training "
                  "(MiB) | training overhead (MiB) | trainable params |",
                  "|---|---|---|---|---|"]
        lines += [f"| {k} | {v['rss_after_model_load_mib']:.0f} | "
                  f"{v['peak_rss_training_mib']:.0f} | {v['training_overhead_mib']:.0f} | "
                  f"{v['trainable_params']:,} |" for k, v in mem.items()]
    elif mem:
        lines.append(f"\nMemory: {mem}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run every part, write the result files."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--group", type=int, default=4)
    p.add_argument("--new-tokens", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3,
                   help="alternating runs of each trainer; the median is reported")
    p.add_argument("--smollm", action="store_true")
    p.add_argument("--skip-trl", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-sb3", action="store_true",
                   help="skip stock SB3 PPO + CausalLMPolicy on the token env (slow)")
    p.add_argument("--memory-child", choices=["full", "lora"], help=argparse.SUPPRESS)
    add_output_args(p)
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(args)
        return
    command = "python benchmarks/bench_token_ppo.py " + " ".join(
        command_args(sys.argv[1:] if argv is None else argv))
    payload: dict[str, Any] = {
        "command": command.strip(), "machine": machine(),
        "model": "SmolLM2-135M-Instruct" if args.smollm else
        "random Llama, 6 layers x 256, vocab 2,048 (5.2M params)",
        "batch": args.batch, "group": args.group, "new_tokens": args.new_tokens,
        "repeats": args.repeats, **compare_trainers(args),
        "generation": bench_generation(args)}
    if not args.skip_sb3:
        payload["sb3"] = bench_sb3(args)
        payload["speedup_vs_sb3"] = (payload["ours"]["episodes_per_s"]
                                     / payload["sb3"]["episodes_per_s"])
    if not args.skip_memory:
        payload["memory"] = bench_memory(args)
    name = "token_ppo_smollm" if args.smollm else "token_ppo"
    paths = write_results(name, payload, _markdown(payload["command"], payload), args.out,
                          publish=args.publish)
    print(_markdown(payload["command"], payload))
    print("wrote", *paths)


if __name__ == "__main__":
    main()
