"""``rlhf-env bench``: list, run, report and compare benchmark sweeps.

    rlhf-env bench list                                   tasks, algorithms, suites
    rlhf-env bench run --suite quick [--algos a,b] [--tasks t,u] [--seeds N] [--workers N]
                       [--out runs] [--no-resume] [--import MODULE]
    rlhf-env bench report runs/quick --out reports/quick
    rlhf-env bench compare reports/old reports/new

``--import MODULE`` (repeatable) imports a module first, so tasks and suites it registers
(``register_task``/``register_suite``) can be named; algorithms of installed packages are
found through the ``rlhf_env.algorithms`` entry-point group without it. Exit codes: 0 all
well, 1 a trial failed (the sweep still ran every other trial), 2 a bad option or name.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Sequence

from rlhf_env.errors import BenchmarkError, ConfigError, RLHFEnvError, UnknownNameError

USAGE_ERROR = 2


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise ConfigError(f"expected a comma-separated list of names, got {value!r}.")
    return names


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {value}")
    return value


def _imports(args: argparse.Namespace) -> None:
    for module in getattr(args, "imports", None) or []:
        if not module.strip() or module.startswith("."):
            raise ConfigError(f"--import takes an absolute module name (e.g. my_tasks or "
                              f"mypkg.bench_tasks), got {module!r}.")
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"--import {module}: cannot import it ({exc}). Put its folder "
                              f"on PYTHONPATH or install its package.") from exc
        except Exception as exc:  # the module itself failed while it ran
            raise ConfigError(f"--import {module}: importing it failed ({type(exc).__name__}: "
                              f"{exc}); fix the module (add --debug for its traceback).") from exc


def _cmd_list(args: argparse.Namespace) -> int:
    from rlhf_env.bench.registry import get_algorithm, list_algorithms, list_suites, list_tasks

    _imports(args)
    print("tasks:")
    for name, t in sorted(list_tasks().items()):
        print(f"  {name:24s} {t.kind:7s} steps {t.budget.steps:<8d} proxy: {t.proxy}; "
              f"gold: {t.gold}")
    print("algorithms:")
    for name in list_algorithms():
        try:
            kinds = "/".join(get_algorithm(name).kinds)
        except RLHFEnvError as exc:
            kinds = f"(cannot load: {exc})"
        print(f"  {name:24s} {kinds}")
    print("suites:")
    for name, s in sorted(list_suites().items()):
        print(f"  {name:24s} {len(s.tasks)} tasks × {len(s.algorithms)} algorithms × "
              f"{s.seeds} seeds (budget ×{s.budget_scale:g}) {s.description}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from rlhf_env.bench.sweep import run_benchmark

    _imports(args)
    results = run_benchmark(args.suite, algorithms=_split(args.algos), tasks=_split(args.tasks),
                            seeds=args.seeds, out=args.out, workers=args.workers,
                            resume=not args.no_resume, progress=not args.quiet,
                            cache_dir=args.cache, threads=args.threads)
    failed = results.failed
    print(f"{len(results.done)} trials done, {len(failed)} failed, "
          f"{len(results.unfinished)} unfinished, in {args.out}.")
    for note in results.notes:
        print(f"note: {note}")
    for run in failed:
        print(f"failed: {run.algorithm}/{run.task}/seed{run.seed}: "
              f"{run.status.get('error') or run.state}", file=sys.stderr)
    print(f"report: rlhf-env bench report {args.out}/{args.suite} --out REPORT_DIR")
    return 1 if failed else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from rlhf_env.bench.report import write_report
    from rlhf_env.bench.stats import StatsConfig

    out = write_report(args.runs, args.out, config=StatsConfig(
        reps=args.reps, seed=args.seed, min_reference_gap=args.min_reference_gap),
                       plots=not args.no_plots)
    print(f"wrote {out}/index.html, summary.json, results.csv, results.md")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from rlhf_env.bench.report import compare

    print(compare(args.a, args.b).table().markdown())
    return 0


USAGE_ERRORS = (ConfigError, UnknownNameError, BenchmarkError)
"""Errors ``rlhf-env bench`` exits with status 2 for (a bad option, name or folder)."""


def add_bench_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bench list|run|report|compare`` to an ``rlhf-env`` subparsers object."""
    bench = subparsers.add_parser("bench", help="benchmark RL algorithms on RLHF tasks",
                                  description=__doc__.split("\n")[0])
    sub = bench.add_subparsers(dest="bench_command", required=True)
    p = sub.add_parser("list", help="tasks, algorithms and suites")
    p.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                   help="import MODULE first (it registers tasks/suites)")
    p.set_defaults(func=_cmd_list, usage_errors=USAGE_ERRORS)
    p = sub.add_parser("run", help="run a suite (resumable)")
    p.add_argument("--suite", required=True, help="suite name (see `bench list`)")
    p.add_argument("--algos", default=None, help="comma-separated algorithms (default: suite's)")
    p.add_argument("--tasks", default=None, help="comma-separated tasks (default: suite's)")
    p.add_argument("--seeds", type=_positive, default=None, help="seeds 0…N−1 (default: suite's)")
    p.add_argument("--workers", type=_positive, default=None,
                   help="trials at a time (default: CPU count; 1 runs in this process)")
    p.add_argument("--threads", type=_positive, default=None,
                   help="CPU threads per trial (default: CPU count / workers; 1 on a busy "
                        "machine)")
    p.add_argument("--out", default="runs", help="runs folder (default: runs)")
    p.add_argument("--cache", default=None,
                   help="folder for what tasks prepare (default: OUT/SUITE/_cache)")
    p.add_argument("--no-resume", action="store_true", help="rerun trials already done")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                   help="import MODULE first (it registers tasks/suites)")
    p.set_defaults(func=_cmd_run, usage_errors=USAGE_ERRORS)
    p = sub.add_parser("report", help="write summary.json, results.csv/.md, plots, index.html")
    p.add_argument("runs", help="runs folder (OUT or OUT/SUITE)")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--reps", type=_positive, default=2000, help="bootstrap repetitions")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--min-reference-gap", type=_non_negative, default=2.0, metavar="SE",
                   help="leave a task out of the aggregates when its normalisation gap "
                        "(one - zero) is under SE standard errors (0: never)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    p.set_defaults(func=_cmd_report, usage_errors=USAGE_ERRORS)
    p = sub.add_parser("compare", help="two reports (or run folders) side by side")
    p.add_argument("a", help="report or runs folder")
    p.add_argument("b", help="report or runs folder")
    p.set_defaults(func=_cmd_compare, usage_errors=USAGE_ERRORS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench commands on their own (``python -m rlhf_env.bench.cli bench …``)."""
    parser = argparse.ArgumentParser(prog="rlhf-env")
    add_bench_commands(parser.add_subparsers(dest="command", required=True))
    from rlhf_env.cli import run_parsed

    return run_parsed(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
