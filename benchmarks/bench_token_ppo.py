"""Benchmark the token-level PPO trainer against TRL, against the machine's limit and against
bare ``model.generate``.

    python benchmarks/bench_token_ppo.py [--steps 4] [--runs 3] [--batch 16] [--group 4]
        [--new-tokens 16] [--beta 0.05] [--threads 1] [--smollm | --tiny] [--skip-trl]
        [--skip-grpo] [--skip-ideal] [--skip-profile] [--skip-sb3] [--skip-memory]
        [--reference-precision bfloat16]

Same model, prompts, batch (``batch`` completions per step, in groups of ``group`` per
prompt), response limit (``new_tokens``; every contender stops a response at EOS, so each
arm also reports generated tokens/s and its mean response length) and keyword rule reward
for every contender. The arms run alternately, ``runs`` times each (the starting arm rotates
from run to run), each run timing ``steps`` steps after one warm-up step; the median run of
each arm is reported, with every ratio:

* **RLOO**: our :class:`~agents.token_ppo.TokenPPOTrainer` (``advantage="rloo"``, KL
  coefficient ``beta`` against a frozen reference, one PPO epoch) versus TRL's
  ``RLOOTrainer`` at the same ``beta``; and ours with ``shared_prompt=False`` (a prompt pass
  per response), the ablation of the group-shared prompt.
* **GRPO**, at ``beta = 0`` (no reference model anywhere) and at ``beta``: ours with
  ``advantage="grpo"`` versus TRL's ``GRPOTrainer`` (group-normalised advantages, no
  reference model at ``beta = 0``), and versus the **ideal step**: only the unavoidable work
  on the same prompt batch — a bare ``model.generate``, decoding and scoring, one no-grad
  reference forward when ``beta > 0``, and one forward/backward/AdamW step over
  prompt + response. Our step can beat it: our group-shared prompt passes run each prompt
  once per group in all three passes, which the ideal step does not.
* **profile**: the seconds per stage (generate, score, reference, rewards, advantages,
  update, record) of our GRPO step at ``beta``, from the trainer's own named stages
  (:mod:`agents.token_ppo.profiling`), and the operators that took the most CPU time in one
  step under ``torch.profiler``.
* **SB3**: stock SB3 ``PPO`` with ``agents.CausalLMPolicy`` on the token env
  ``RLHF-TextToken-v0`` (one env step per token), the same model, prompts, sub-envs and
  response limit, episodes/s over two rollouts after a warm-up one.
* **generation**: our KV-cached sampler (which also returns log-probs and values) versus a
  bare ``model.generate(do_sample=True)`` on the same prompt batch, tokens/s and the ratio.
* **memory**: in a fresh process per mode, the RSS after loading the model and the peak RSS
  (sampled every 5 ms) while building the trainer and running two steps: full fine-tuning
  (reference = frozen copy, AdamW state for every weight) versus LoRA (reference = the
  shared base), each also with the reference at a lower precision (``+bfloat16``,
  ``+int8``: under LoRA that reference is a converted copy of the base), when ``peft`` is
  installed.

``--reference-precision P`` adds an arm: ours (GRPO at ``beta``) with the reference at
``P`` (``TokenPPOConfig.reference_precision``), and its ratio to the float32 one.

The default model is a random-init Llama sized like a small real model (6 layers, 256 wide,
tiny tokenizer, 5.2M parameters); ``--smollm`` uses the bundled SmolLM2-135M-Instruct (slow
on CPU), ``--tiny`` the 2-layer test model (for smoke runs only). Results:
``token_ppo.json`` and ``.md`` (``token_ppo_smollm`` with ``--smollm``, ``token_ppo_tiny``
with ``--tiny``) under ``--out`` (default ``runs/benchmarks/``; ``--publish``: also
``benchmarks/results/``).
"""

from __future__ import annotations

import argparse
import copy
import functools
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym

import rlhf_env  # noqa: F401  (registers the env ids)
from benchmarks._common import add_output_args, command_args, machine, write_results
from rlhf_env.models import PRECISIONS, eos_token_id, load_causal_lm, load_tokenizer
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
LEARNING_RATE = 1e-5
MEMORY_MODES = ("full", "lora", "full+bfloat16", "lora+bfloat16", "lora+int8")
"""Fine-tuning mode, and the reference's precision when it is not float32."""


def build_model(args: argparse.Namespace, seed: int = 0) -> tuple[Any, str]:
    """The benchmark policy and the model name whose tokenizer the env uses."""
    if args.smollm:
        return load_causal_lm("smollm2-135m-instruct"), "smollm2-135m-instruct"
    if getattr(args, "tiny", False):
        return tiny_causal_lm(seed=seed), "tiny-random-llama"
    model = tiny_causal_lm(seed=seed, hidden_size=256, intermediate_size=768,
                           num_hidden_layers=6, num_attention_heads=8, num_key_value_heads=4)
    return model, "tiny-random-llama"


def model_label(args: argparse.Namespace) -> str:
    if args.smollm:
        return "SmolLM2-135M-Instruct"
    if getattr(args, "tiny", False):
        return "random Llama, 2 layers x 64, vocab 2,048 (the test model)"
    return "random Llama, 6 layers x 256, vocab 2,048 (5.2M params)"


def beta_tag(beta: float) -> str:
    """``beta=0`` / ``beta=0.05``: the name of a β in arm names and result keys."""
    return f"beta={beta:g}"


def _env(args: argparse.Namespace, model_name: str) -> Any:
    return gym.make_vec("RLHF-Text-v0", num_envs=args.batch, task="keyword", model=model_name,
                        prompts=PROMPTS, max_prompt_tokens=96,
                        max_response_tokens=args.new_tokens, kl_coef=0.0)


def _our_config(args: argparse.Namespace, model_name: str, *, advantage: str = "rloo",
                beta: float | None = None, lora: bool = False, shared_prompt: bool = True,
                precision: str = "float32") -> Any:
    from agents.token_ppo import TokenPPOConfig

    return TokenPPOConfig(model=model_name, task="keyword", batch_size=args.batch,
                          minibatch_size=args.batch, max_new_tokens=args.new_tokens,
                          advantage=advantage, group_size=args.group,
                          kl_coef=args.beta if beta is None else beta,
                          learning_rate=LEARNING_RATE, progress_bar=False,
                          lora_r=8 if lora else 0, shared_prompt=shared_prompt,
                          reference_precision=precision)


def _rates(args: argparse.Namespace, seconds: float, tokens: float) -> dict[str, Any]:
    """One timed run: ``args.steps`` steps of ``args.batch`` episodes with ``tokens``
    generated tokens in all, in ``seconds``."""
    episodes = args.steps * args.batch
    return {"seconds": seconds, "steps": args.steps, "seconds_per_step": seconds / args.steps,
            "episodes_per_s": episodes / seconds, "tokens_per_s": tokens / seconds,
            "mean_response_tokens": tokens / episodes}


def bench_ours(args: argparse.Namespace, *, advantage: str = "rloo", beta: float | None = None,
               shared_prompt: bool = True, precision: str = "float32") -> dict[str, Any]:
    """Our trainer: seconds per step after one warm-up step. ``shared_prompt=False``: each
    response runs its own prompt pass (the ablation of the group-shared prompt)."""
    from agents.token_ppo import TokenPPOTrainer

    model, name = build_model(args)
    config = _our_config(args, name, advantage=advantage, beta=beta,
                         shared_prompt=shared_prompt, precision=precision)
    trainer = TokenPPOTrainer(config, env=_env(args, name), policy=model)
    trainer.step()
    start = time.perf_counter()
    metrics = [trainer.step() for _ in range(args.steps)]
    seconds = time.perf_counter() - start
    tokens = sum(m["rlhf/response_length"] * args.batch for m in metrics)
    return _rates(args, seconds, tokens)


TRL_TRAINERS = {"rloo": ("RLOOConfig", "RLOOTrainer"), "grpo": ("GRPOConfig", "GRPOTrainer")}
"""TRL's config and trainer class per estimator."""


def bench_trl(args: argparse.Namespace, *, kind: str = "rloo",
              beta: float | None = None) -> dict[str, Any]:
    """TRL's ``RLOOTrainer`` or ``GRPOTrainer`` (``kind``) on the same model, prompts, batch,
    group size and lengths, at ``beta`` (``GRPOTrainer`` loads no reference model at 0)."""
    import trl
    from datasets import Dataset
    from transformers import TrainerCallback

    config_cls, trainer_cls = (getattr(trl, n) for n in TRL_TRAINERS[kind])
    model, name = build_model(args)
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
        config = config_cls(
            output_dir=out, per_device_train_batch_size=args.batch,
            num_generations=args.group, max_completion_length=args.new_tokens,
            max_steps=args.steps + 1, learning_rate=LEARNING_RATE,
            beta=args.beta if beta is None else beta, logging_steps=1, report_to="none",
            save_strategy="no", use_cpu=True, bf16=False, seed=0, disable_dropout=True,
            dataloader_num_workers=0, disable_tqdm=True, model_init_kwargs={"dtype": "float32"})
        trainer = trainer_cls(model=f"{out}/model", reward_funcs=keyword_reward, args=config,
                              train_dataset=Dataset.from_list(prompts),
                              processing_class=tokenizer, callbacks=[Clock()])
        trainer.train()
    mean_len = sum(lengths[1:]) / max(len(lengths) - 1, 1) if lengths else args.new_tokens
    return _rates(args, times[-1] - times[0], args.steps * args.batch * mean_len)


def prompt_batch(args: argparse.Namespace, model_name: str,
                 grouped: bool = True) -> tuple[Any, Any, Any]:
    """The env's left-padded prompt batch (padding-only columns dropped) and its tokenizer:
    ``batch`` rows, in consecutive groups of ``group`` identical prompts as the trainer lays
    them out (``grouped=False``: a different prompt per row, cycling)."""
    import torch

    env = _env(args, model_name)
    per = args.group if grouped else 1
    obs, _ = env.reset(seed=0, options={"prompt_index": [(i // per) % len(PROMPTS)
                                                         for i in range(args.batch)]})
    ids, mask = torch.as_tensor(obs["input_ids"]), torch.as_tensor(obs["attention_mask"])
    keep = mask.any(0)
    tokenizer = text_core(env).tokenizer
    env.close()
    return ids[:, keep], mask[:, keep], tokenizer


def _response_mask(new: Any, eos: int) -> Any:
    """``(B, R)`` bool: generated tokens up to and including each row's first EOS."""
    is_eos = (new == eos).long()
    return (is_eos.cumsum(1) - is_eos) == 0


def _token_logprobs(model: Any, ids: Any, mask: Any, n: int) -> Any:
    """Log-probs ``(B, n)`` of the last ``n`` tokens of ``ids`` under ``model``."""
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                   logits_to_keep=n + 1).logits[:, :-1]
    return logits.float().log_softmax(-1).gather(-1, ids[:, -n:, None]).squeeze(-1)


def _ideal_step(model: Any, reference: Any, optimizer: Any, batch: tuple[Any, Any, Any],
                args: argparse.Namespace, beta: float) -> int:
    """The unavoidable work of one step; returns the number of generated tokens."""
    import torch

    ids, mask, tokenizer = batch
    eos = eos_token_id(tokenizer)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, top_k=0,
                             top_p=1.0, temperature=1.0, max_new_tokens=args.new_tokens,
                             pad_token_id=eos, eos_token_id=eos)
    new = out[:, ids.shape[1]:]
    resp = _response_mask(new, eos)
    texts = tokenizer.batch_decode(new.masked_fill(~resp, eos), skip_special_tokens=True)
    groups = torch.as_tensor(KeywordReward(KEYWORDS).score([""] * len(texts), texts))
    groups = groups.view(-1, args.group)
    adv = ((groups - groups.mean(1, keepdim=True)) / (groups.std(1, keepdim=True) + 1e-4))
    full_mask = torch.cat([mask.long(), resp.long()], dim=1)
    n = new.shape[1]
    logp = _token_logprobs(model, out, full_mask, n)
    per_token = -adv.view(-1, 1) * logp
    if reference is not None:
        with torch.no_grad():
            ref = _token_logprobs(reference, out, full_mask, n)
        per_token = per_token + beta * (logp - ref)
    loss = (per_token * resp).sum() / resp.sum().clamp(min=1)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return int(resp.sum())


def bench_ideal(args: argparse.Namespace, *, beta: float) -> dict[str, Any]:
    """The ideal step on the trainer's prompt batch: bare ``model.generate``, decode and score,
    a no-grad reference forward when ``beta > 0``, one forward/backward/AdamW (fused, as in
    our trainer and TRL's) over prompt + response (group-normalised advantages, k1 KL in the
    loss); after a warm-up step."""
    import torch

    model, name = build_model(args)
    batch = prompt_batch(args, name)
    from agents.token_ppo.trainer import adamw

    reference = copy.deepcopy(model).requires_grad_(False) if beta > 0 else None
    optimizer = adamw(list(model.parameters()), LEARNING_RATE, "cpu")  # fused, as TRL's
    torch.manual_seed(0)
    _ideal_step(model, reference, optimizer, batch, args, beta)
    start = time.perf_counter()
    tokens = sum(_ideal_step(model, reference, optimizer, batch, args, beta)
                 for _ in range(args.steps))
    return _rates(args, time.perf_counter() - start, tokens)


def profile_step(args: argparse.Namespace, top: int = 12) -> dict[str, Any]:
    """Where our GRPO step at ``beta`` spends its time: the trainer's stages (mean seconds
    per step over ``steps`` steps after a warm-up one, and their share of the step), and the
    ``top`` operators by CPU time (self) in one more step under ``torch.profiler``."""
    import torch

    from agents.token_ppo import TokenPPOTrainer
    from agents.token_ppo.profiling import STAGES, stage_times

    model, name = build_model(args)
    trainer = TokenPPOTrainer(_our_config(args, name, advantage="grpo"),
                              env=_env(args, name), policy=model)
    trainer.step()
    start = time.perf_counter()
    with stage_times() as seconds:
        for _ in range(args.steps):
            trainer.step()
    step = (time.perf_counter() - start) / args.steps
    stages = {s: {"seconds": seconds[s] / args.steps, "share": seconds[s] / args.steps / step}
              for s in STAGES if s in seconds}
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        trainer.step()
    events = sorted((e for e in prof.key_averages() if not e.key.startswith("token_ppo.")),
                    key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return {"trainer": f"ours, GRPO, {beta_tag(args.beta)}", "steps": args.steps,
            "seconds_per_step": step, "stages": stages,
            "other_seconds": step - sum(v["seconds"] for v in stages.values()),
            "top_ops_one_step": [{"op": e.key, "self_cpu_s": e.self_cpu_time_total / 1e6,
                                  "calls": e.count} for e in events]}


def bench_sb3(args: argparse.Namespace, rollouts: int = 2) -> dict[str, Any]:
    """Stock SB3 PPO with ``CausalLMPolicy`` on ``RLHF-TextToken-v0`` (one token per step, no
    KV cache across steps): same model, prompts, ``batch`` sub-envs and response limit; one
    rollout of ``new_tokens`` steps per sub-env and one epoch of one minibatch per update."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.lm_policy import CausalLMPolicy
    from agents.sb3 import make_vec_env

    model, name = build_model(args)
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
    tokens/s of ``2 · runs + 1`` alternating calls each."""
    repeats = 2 * args.runs + 1
    import torch

    from agents.token_ppo import PolicyWithValue, SamplingTransform, generate

    model, name = build_model(args)
    ids, mask, tokenizer = prompt_batch(args, name, grouped=False)
    eos = eos_token_id(tokenizer)
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
        return int(_response_mask(out[:, ids.shape[1]:], eos).sum())

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

    tuning, _, precision = args.memory_child.partition("+")
    model, name = build_model(args)
    env = _env(args, name)
    gc.collect()
    before = _rss_mib()
    with _PeakRSS() as peak:
        config = _our_config(args, name, lora=tuning == "lora",
                             precision=precision or "float32")
        trainer = TokenPPOTrainer(config, env=env, policy=model)
        trainer.step()
        trainer.step()
    print(json.dumps({"rss_after_model_load_mib": before, "peak_rss_training_mib": peak.peak,
                      "training_overhead_mib": peak.peak - before,
                      "trainable_params": sum(p.numel() for p in
                                              trainer.policy.trainable_parameters())}))


def bench_memory(args: argparse.Namespace) -> dict[str, Any]:
    """Peak RSS of each of :data:`MEMORY_MODES`, each in a fresh interpreter."""
    try:
        import peft  # noqa: F401
    except ImportError:
        return {"skipped": "peft is not installed"}
    out = {}
    for mode in MEMORY_MODES:
        cmd = [sys.executable, __file__, "--memory-child", mode, "--batch", str(args.batch),
               "--group", str(args.group), "--new-tokens", str(args.new_tokens),
               "--threads", str(args.threads), "--beta", str(args.beta)]
        cmd += ["--smollm"] if args.smollm else ["--tiny"] if args.tiny else []
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median episodes/s (the lower middle one for an even count)."""
    ranked = sorted(runs, key=lambda r: r["episodes_per_s"])
    return {**ranked[(len(ranked) - 1) // 2],
            "all_episodes_per_s": [r["episodes_per_s"] for r in runs]}


def arms(args: argparse.Namespace) -> dict[str, Callable[[], dict[str, Any]]]:
    """Every timed arm by name (see the module docstring), in their order within a run."""
    out: dict[str, Callable[[], dict[str, Any]]] = {
        "ours_rloo": functools.partial(bench_ours, args, advantage="rloo"),
        "ours_rloo_unshared": functools.partial(bench_ours, args, advantage="rloo",
                                                shared_prompt=False)}
    if not args.skip_trl:
        out["trl_rloo"] = functools.partial(bench_trl, args, kind="rloo")
    if args.skip_grpo:
        return out
    for beta in dict.fromkeys((0.0, args.beta)):
        tag = beta_tag(beta)
        out[f"ours_grpo_{tag}"] = functools.partial(bench_ours, args, advantage="grpo",
                                                    beta=beta)
        if not args.skip_trl:
            out[f"trl_grpo_{tag}"] = functools.partial(bench_trl, args, kind="grpo", beta=beta)
        if not args.skip_ideal:
            out[f"ideal_{tag}"] = functools.partial(bench_ideal, args, beta=beta)
    if args.reference_precision != "float32":
        out[f"ours_grpo_{beta_tag(args.beta)}_ref_{args.reference_precision}"] = \
            functools.partial(bench_ours, args, advantage="grpo",
                              precision=args.reference_precision)
    return out


def run_arms(args: argparse.Namespace,
             contenders: dict[str, Callable[[], dict[str, Any]]]) -> dict[str, Any]:
    """``args.runs`` rounds of every arm, the first arm of each round rotating (the machine
    may be shared, so alternating spreads load changes over all arms); the median run of
    each. A TRL arm that fails is reported by its error, and not run again."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
    errors: dict[str, str] = {}
    names = list(contenders)
    for r in range(args.runs):
        for name in names[r % len(names):] + names[:r % len(names)]:
            if name in errors:
                continue
            try:
                runs[name].append(contenders[name]())
            except Exception as exc:
                if not name.startswith("trl_"):
                    raise
                errors[name] = f"{type(exc).__name__}: {exc}"
    return {name: errors.get(name) or _median_run(runs[name]) for name in names}


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """``a`` against ``b``: speed ratios (> 1: ``a`` is faster) and the step-time ratio."""
    return {"episodes_per_s": a["episodes_per_s"] / b["episodes_per_s"],
            "tokens_per_s": a["tokens_per_s"] / b["tokens_per_s"],
            "step_time": a["seconds_per_step"] / b["seconds_per_step"]}


def ratios(results: dict[str, Any], args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Every comparison the benchmark makes, as ``"A / B"`` → :func:`_ratio` (arms that did
    not run, or failed, are left out)."""
    pairs = [("ours_rloo", "trl_rloo"), ("ours_rloo", "ours_rloo_unshared")]
    for beta in dict.fromkeys((0.0, args.beta)):
        tag = beta_tag(beta)
        pairs += [(f"ours_grpo_{tag}", f"trl_grpo_{tag}"), (f"ours_grpo_{tag}", f"ideal_{tag}"),
                  (f"ideal_{tag}", f"trl_grpo_{tag}")]
    tag = beta_tag(args.beta)
    pairs.append((f"ours_grpo_{tag}_ref_{args.reference_precision}", f"ours_grpo_{tag}"))
    return {f"{a} / {b}": _ratio(results[a], results[b]) for a, b in pairs
            if isinstance(results.get(a), dict) and isinstance(results.get(b), dict)}


def compare_trainers(args: argparse.Namespace) -> dict[str, Any]:
    """Run every arm (:func:`run_arms`) and compute every ratio. Also keeps the keys of the
    RLOO-only payload (``ours``, ``ours_unshared``, ``trl``, ``speedup_vs_trl``,
    ``shared_prompt_speedup``) for readers of older result files."""
    results = run_arms(args, arms(args))
    out: dict[str, Any] = {"arms": results, "ratios": ratios(results, args)}
    out["ours"], out["ours_unshared"] = results["ours_rloo"], results["ours_rloo_unshared"]
    out["shared_prompt_speedup"] = out["ratios"]["ours_rloo / ours_rloo_unshared"][
        "episodes_per_s"]
    if not args.skip_trl:
        import trl

        out["trl_version"] = trl.__version__
        out["trl"] = results["trl_rloo"]
        if "ours_rloo / trl_rloo" in out["ratios"]:
            out["speedup_vs_trl"] = out["ratios"]["ours_rloo / trl_rloo"]["episodes_per_s"]
    return out


def arm_label(name: str, trl_version: str | None = None) -> str:
    """A reader's name for an arm."""
    trl = f"TRL {trl_version}" if trl_version else "TRL"
    if name == "ours_rloo_unshared":
        return "ours, RLOO, `shared_prompt=False` (a prompt pass per response)"
    if name == "ours_rloo":
        return "ours (TokenPPOTrainer), RLOO"
    if name == "trl_rloo":
        return f"{trl} `RLOOTrainer`"
    kind, _, rest = name.partition("_grpo_") if "_grpo_" in name else name.partition("_")
    beta, _, precision = rest.partition("_ref_")
    if kind == "ideal":
        extra = " + no-grad reference" if beta != "beta=0" else ""
        return f"ideal step, {beta} (`generate`{extra} + forward/backward/AdamW)"
    who = "ours, GRPO" if kind == "ours" else f"{trl} `GRPOTrainer`"
    return f"{who}, {beta}" + (f", reference in {precision}" if precision else "")


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _arm_rows(payload: dict[str, Any]) -> list[str]:
    rows = ["| arm | episodes/s | tokens/s | mean response tokens | s/step | all runs "
            "(episodes/s) |", "|---|---:|---:|---:|---:|---|"]
    for name, r in payload["arms"].items():
        label = arm_label(name, payload.get("trl_version"))
        if isinstance(r, dict):
            rows.append(f"| {label} | {r['episodes_per_s']:.2f} | {r['tokens_per_s']:.1f} | "
                        f"{r['mean_response_tokens']:.1f} | {r['seconds_per_step']:.3f} | "
                        f"{_fmt(r['all_episodes_per_s'])} |")
        else:
            rows.append(f"| {label} | did not run: {r} | | | | |")
    sb3 = payload.get("sb3")
    if sb3:
        rows.append(f"| stock SB3 PPO + CausalLMPolicy (token env) | {sb3['episodes_per_s']:.2f} "
                    f"| {sb3['tokens_per_s']:.1f} | – | – | – |")
    return rows


def _ratio_rows(payload: dict[str, Any]) -> list[str]:
    rows = ["| A / B | episodes/s | tokens/s | step time |", "|---|---:|---:|---:|"]
    for key, r in payload["ratios"].items():
        rows.append(f"| {key} | **{r['episodes_per_s']:.2f}x** | {r['tokens_per_s']:.2f}x | "
                    f"{r['step_time']:.2f}x |")
    if payload.get("sb3"):
        rows.append(f"| ours_rloo / stock SB3 PPO | **{payload['speedup_vs_sb3']:.1f}x** | | |")
    notes = [f"Speed ratios > 1: A is faster; step time < 1: A's step is shorter. Medians of "
             f"{payload['runs']} alternating runs per arm."]
    for key, r in payload["ratios"].items():
        if key.startswith("ours_grpo") and "/ ideal" in key and r["step_time"] < 1:
            notes.append(f"`{key}`: our step is shorter than the ideal step "
                         f"({r['step_time']:.2f}x): the group-shared prompt passes run each "
                         f"prompt once per group, which the ideal step does not.")
    if payload.get("sb3"):
        notes.append("SB3 pays no KL term; the others do at β > 0.")
    return [*rows, "", *notes]


def _profile_rows(profile: dict[str, Any]) -> list[str]:
    rows = [f"Profile of one step of {profile['trainer']} ({profile['seconds_per_step']:.3f} s "
            f"per step, mean of {profile['steps']}):", "",
            "| stage | s/step | share |", "|---|---:|---:|"]
    rows += [f"| {s} | {v['seconds']:.4f} | {v['share']:.1%} |"
             for s, v in profile["stages"].items()]
    rows.append(f"| (between stages) | {profile['other_seconds']:.4f} | "
                f"{profile['other_seconds'] / profile['seconds_per_step']:.1%} |")
    rows += ["", "Top operators by CPU time (self) in one more step under torch.profiler:", "",
             "| op | self CPU s | calls |", "|---|---:|---:|"]
    rows += [f"| `{o['op']}` | {o['self_cpu_s']:.4f} | {o['calls']} |"
             for o in profile["top_ops_one_step"]]
    return rows


def _memory_rows(mem: Any) -> list[str]:
    if not (isinstance(mem, dict) and "full" in mem):
        return [f"Memory: {mem}"] if mem else []
    rows = ["| fine-tuning (+ reference precision) | RSS after model load (MiB) | peak RSS while "
            "training (MiB) | training overhead (MiB) | trainable params |",
            "|---|---|---|---|---|"]
    return rows + [f"| {k} | {v['rss_after_model_load_mib']:.0f} | "
                   f"{v['peak_rss_training_mib']:.0f} | {v['training_overhead_mib']:.0f} | "
                   f"{v['trainable_params']:,} |" for k, v in mem.items()]


def markdown(payload: dict[str, Any]) -> str:
    """The result file's Markdown."""
    gen, m = payload["generation"], payload["machine"]
    lines = [f"# Token-level PPO benchmark\n\n```\n{payload['command']}\n```\n",
             f"Model: {payload['model']}; batch {payload['batch']} (groups of "
             f"{payload['group']}), up to {payload['new_tokens']} new tokens, β = "
             f"{payload['beta']:g} where a KL term is on, {m['torch_threads']} torch "
             f"thread(s), {m['cpus']} CPUs, load average {m['load_average_1_5_15min']} at "
             f"the start.\n", *_arm_rows(payload), "", *_ratio_rows(payload), ""]
    if gen:
        lines += ["| generation | tokens/s |", "|---|---|",
                  f"| ours (tokens + log-probs + values) | {gen['ours']['tokens_per_s']:.1f} |",
                  f"| bare model.generate | {gen['model.generate']['tokens_per_s']:.1f} |",
                  f"\n**ours / model.generate: {gen['ratio']:.2f}x** (median of "
                  f"{len(gen['ours']['all_tokens_per_s'])} alternating calls each).\n"]
    if payload.get("profile"):
        lines += [*_profile_rows(payload["profile"]), ""]
    lines += _memory_rows(payload.get("memory"))
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=4, help="timed steps per run (after a warm-up)")
    p.add_argument("--batch", type=int, default=16, help="completions per step")
    p.add_argument("--group", type=int, default=4, help="completions per prompt")
    p.add_argument("--new-tokens", type=int, default=16, help="response limit")
    p.add_argument("--beta", type=float, default=0.05,
                   help="KL coefficient of the arms with a KL term (GRPO also runs at 0)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", "--repeats", dest="runs", type=int, default=3,
                   help="alternating runs of each arm; the median is reported")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--smollm", action="store_true", help="SmolLM2-135M-Instruct")
    size.add_argument("--tiny", action="store_true", help="the 2-layer test model (smoke runs)")
    p.add_argument("--reference-precision", choices=PRECISIONS, default="float32",
                   help="also run ours (GRPO at --beta) with the reference at this precision")
    p.add_argument("--skip-trl", action="store_true")
    p.add_argument("--skip-grpo", action="store_true", help="only the RLOO arms")
    p.add_argument("--skip-ideal", action="store_true")
    p.add_argument("--skip-profile", action="store_true")
    p.add_argument("--skip-generation", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-sb3", action="store_true",
                   help="skip stock SB3 PPO + CausalLMPolicy on the token env (slow)")
    p.add_argument("--memory-child", choices=MEMORY_MODES, help=argparse.SUPPRESS)
    add_output_args(p)
    return p.parse_args(argv)


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Every part the arguments ask for, as the result payload."""
    payload: dict[str, Any] = {
        "command": command, "machine": machine("trl", "peft"), "model": model_label(args),
        "batch": args.batch, "group": args.group, "new_tokens": args.new_tokens,
        "beta": args.beta, "runs": args.runs, "repeats": args.runs, "steps": args.steps,
        **compare_trainers(args),
        "generation": None if args.skip_generation else bench_generation(args)}
    if not args.skip_profile:
        payload["profile"] = profile_step(args)
    if not args.skip_sb3:
        payload["sb3"] = bench_sb3(args)
        payload["speedup_vs_sb3"] = (payload["ours"]["episodes_per_s"]
                                     / payload["sb3"]["episodes_per_s"])
    if not args.skip_memory:
        payload["memory"] = bench_memory(args)
    return payload


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run every part, write the result files."""
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(args)
        return
    command = "python benchmarks/bench_token_ppo.py " + " ".join(
        command_args(sys.argv[1:] if argv is None else argv))
    payload = run(args, command.strip())
    name = "token_ppo_smollm" if args.smollm else "token_ppo_tiny" if args.tiny else "token_ppo"
    paths = write_results(name, payload, markdown(payload), args.out, publish=args.publish)
    print(markdown(payload))
    print("wrote", *paths)


if __name__ == "__main__":
    main()
