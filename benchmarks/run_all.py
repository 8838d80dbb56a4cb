"""Run every benchmark the README quotes (``make bench``), each with the README's command.

    .venv/bin/python benchmarks/run_all.py              # all of them (several hours on 2 CPUs)
    .venv/bin/python benchmarks/run_all.py env models   # a chosen few
    .venv/bin/python benchmarks/run_all.py --list       # the names and their commands
    .venv/bin/python benchmarks/run_all.py --publish    # also update benchmarks/results/

Each command runs in its own process, so one's memory and threads never skew another's.
Every result file is written by the benchmark itself under ``--out`` (default
``runs/benchmarks/``); the control rows that took several processes are merged afterwards
from there (``bench_control.py --merge``), as they were for the README. With ``--publish``
every command that wrote a committed file in ``benchmarks/results/`` (all but the control
parts, which only feed a merge) also writes it there; ``make bench`` runs without it, so it
never overwrites the committed numbers. The README quotes those commands with ``--publish``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PUBLISH = "--publish"


def _control(*args: str) -> list[str]:
    return ["bench_control.py", *args]


BENCHMARKS: dict[str, list[list[str]]] = {
    "models": [["bench_models.py", "--cold-runs", "3"]],
    "env": [["bench_env.py"]],
    "reward_training": [["bench_reward_training.py", "--rounds", "3", "--pairs", "256"]],
    "label_efficiency": [["bench_label_efficiency.py", "--seeds", "5"]],
    "token_ppo": [["bench_token_ppo.py"]],
    "harness": [["bench_harness.py"]],
    "token_ppo_smollm": [["bench_token_ppo.py", "--smollm", "--steps", "2", "--runs", "3",
                          "--skip-sb3"]],
    "control": [
        _control("--tasks", "cartpole", "--seeds", "0", "1", "2", "--name", "control_cartpole"),
        _control("--tasks", "pendulum", "--seeds", "0", "1", "2", "--name",
                 "control_pendulum_full"),
        _control("--tasks", "pendulum", "--seeds", "0", "1", "2", "--scale", "0.5", "--name",
                 "control_pendulum"),
        _control("--tasks", "halfcheetah", "--seeds", "0", "1", "2", "--scale", "0.1",
                 "--name", "control_halfcheetah"),
        _control("--merge", "control_cartpole", "control_pendulum_full", "control_pendulum",
                 "control_halfcheetah", "--name", "control"),
    ],
    "control_pendulum_100k": [
        _control("--tasks", "pendulum", "--scale", "0.66667", "--seeds", "0", "1", "2",
                 "--arms", arm, "--name", f"pd100_{arm}") for arm in ("true", "learned")
    ] + [_control("--merge", "pd100_true", "pd100_learned", "--name", "control_pendulum_100k")],
    "control_halfcheetah_200k": [
        _control("--tasks", "halfcheetah", "--scale", "0.2", "--seeds", "0", "1", "2",
                 "--arms", arm, "--name", f"hc200_{arm}") for arm in ("true", "learned")
    ] + [_control("--merge", "hc200_true", "hc200_learned", "--name",
                  "control_halfcheetah_200k")],
    "control_labels": [["bench_control_labels.py", "--workers", "1", "--threads", "1"]],
    "control_halfcheetah_1m": [
        _control("--tasks", "halfcheetah", "--seeds", "0", "1", "2", "--arms", "true",
                 "--name", "hc1m_true"),
        *[_control("--tasks", "halfcheetah", "--seeds", str(s), "--arms", "learned", "--name",
                   f"hc1m_learned_s{s}") for s in (0, 1, 2)],
        _control("--merge", "hc1m_true", "hc1m_learned_s0", "hc1m_learned_s1",
                 "hc1m_learned_s2", "--name", "control_halfcheetah_1m"),
    ],
}
"""Name → the commands (script and arguments, run from the repository root) behind the
README's numbers for that benchmark, without the output flags (``--out``, ``--publish``)."""


def is_part(command: list[str], siblings: list[list[str]]) -> bool:
    """Whether ``command`` only feeds a ``--merge`` among ``siblings`` (its result file is
    an intermediate one, never committed)."""
    return "--merge" not in command and any("--merge" in c for c in siblings)


def commands(name: str, *, publish: bool = False, out: str | None = None) -> list[list[str]]:
    """``name``'s commands as this run executes them: ``--out OUT`` added to each when
    ``out`` is given (parts and merges alike, so a merge reads its parts where they were
    written) and, with ``publish``, ``--publish`` to each that writes a committed file."""
    runs = []
    for command in BENCHMARKS[name]:
        flags = [PUBLISH] if publish and not is_part(command, BENCHMARKS[name]) else []
        runs.append([*command, *flags, *([] if out is None else ["--out", out])])
    return runs


def _run(name: str, publish: bool, out: str | None) -> int:
    start = time.perf_counter()
    print(f"== {name} ==", flush=True)
    code = 0
    for script, *args in commands(name, publish=publish, out=out):
        code = subprocess.call([sys.executable, str(HERE / script), *args], cwd=HERE.parent)
        if code:
            break
    print(f"== {name}: exit {code} in {time.perf_counter() - start:.0f} s ==", flush=True)
    return code


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (all)")
    parser.add_argument("--list", action="store_true", help="print the names and commands")
    parser.add_argument(PUBLISH, action="store_true",
                        help="let the commands marked --publish update benchmarks/results/")
    parser.add_argument("--out", default=None,
                        help="result folder of every command (default: runs/benchmarks/)")
    args = parser.parse_args(argv)
    if args.list:
        for name in BENCHMARKS:
            print(name)
            for command in commands(name, publish=args.publish, out=args.out):
                print("    python benchmarks/" + " ".join(command))
        return 0
    chosen = args.names or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = [name for name in chosen if _run(name, args.publish, args.out)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
