"""Run every benchmark in turn (``make bench``); each writes its own results/ files.

    .venv/bin/python benchmarks/run_all.py            # all of them (roughly 30-40 min, 2 CPUs)
    .venv/bin/python benchmarks/run_all.py env models # a chosen few

Each benchmark runs in its own process, so one's memory and threads never skew another's.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "models": "bench_models.py",
    "env": "bench_env.py",
    "reward_training": "bench_reward_training.py",
    "label_efficiency": "bench_label_efficiency.py",
}


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        start = time.perf_counter()
        print(f"== {name} ==", flush=True)
        code = subprocess.call([sys.executable, str(HERE / BENCHMARKS[name])], cwd=HERE.parent)
        print(f"== {name}: exit {code} in {time.perf_counter() - start:.0f} s ==", flush=True)
        if code:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
