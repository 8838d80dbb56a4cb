"""Benchmark RL algorithms on RLHF tasks: tasks with proxy and gold judges, trials, reports.

See :mod:`rlhf_env.bench.protocol` for the contract an algorithm implements.
"""

from __future__ import annotations

from rlhf_env.bench.protocol import (
    Algorithm,
    BenchTask,
    Budget,
    EnvSpec,
    EvalPoint,
    FunctionAlgorithm,
    Normalisation,
    Trial,
)
from rlhf_env.bench.registry import (
    Suite,
    algorithm,
    get_algorithm,
    get_suite,
    get_task,
    list_algorithms,
    list_suites,
    list_tasks,
    register_algorithm,
    register_suite,
    register_task,
)
from rlhf_env.bench.report import compare, write_report
from rlhf_env.bench.results import Results, arm_base, load_results
from rlhf_env.bench.runner import LocalRunner, TrialRunner
from rlhf_env.bench.sweep import run_benchmark

__all__ = [
    "Algorithm",
    "BenchTask",
    "Budget",
    "EnvSpec",
    "EvalPoint",
    "FunctionAlgorithm",
    "LocalRunner",
    "Normalisation",
    "Results",
    "Suite",
    "Trial",
    "TrialRunner",
    "algorithm",
    "arm_base",
    "compare",
    "get_algorithm",
    "get_suite",
    "get_task",
    "list_algorithms",
    "list_suites",
    "list_tasks",
    "load_results",
    "register_algorithm",
    "register_suite",
    "register_task",
    "run_benchmark",
    "write_report",
]
