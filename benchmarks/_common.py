"""Helpers shared by the benchmark scripts: machine facts and result files.

Where results go: every benchmark writes its JSON and Markdown under ``--out`` (default
``runs/benchmarks/``, which git ignores). The committed files in ``benchmarks/results/``,
which the README quotes, change only when a run is given ``--publish``: then the same files
are written there too. So trying a benchmark never overwrites the numbers the README
stands on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from rlhf_env.files import write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
"""The committed results the README quotes (written only with ``--publish``)."""
DEFAULT_OUT = ROOT / "runs" / "benchmarks"
"""Where results go unless ``--out`` says otherwise."""


def machine(*extra_dists: str) -> dict[str, Any]:
    """What a reader needs to compare numbers: CPUs and load, platform, versions, date.

    The load average matters here: a 2-CPU machine shared with other jobs slows every rate.
    """
    versions = {}
    for dist in ("torch", "transformers", "gymnasium", "stable-baselines3", *extra_dists):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
        "torch_threads": _torch_threads(),
        **versions,
    }


def _torch_threads() -> int | None:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:
        return None


def add_output_args(parser: argparse.ArgumentParser) -> None:
    """``--out FOLDER`` and ``--publish`` (see the module docstring)."""
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder for the result files (default: runs/benchmarks/)")
    parser.add_argument("--publish", action="store_true",
                        help="also write them to benchmarks/results/, the committed results "
                             "the README quotes")


def result_folders(out: Path = DEFAULT_OUT, publish: bool = False) -> list[Path]:
    """The folders a run writes to: ``out``, and ``benchmarks/results/`` with ``publish``."""
    folders = [Path(out)]
    if publish and Path(out).resolve() != RESULTS.resolve():
        folders.append(RESULTS)
    return folders


def write_results(name: str, payload: dict[str, Any], markdown: str, out: Path = DEFAULT_OUT,
                  *, publish: bool = False) -> tuple[Path, Path]:
    """Write ``<out>/<name>.json`` and ``.md`` atomically (and the same two files to
    ``benchmarks/results/`` with ``publish``); returns the paths under ``out``."""
    written = []
    for folder in result_folders(out, publish):
        paths = (folder / f"{name}.json", folder / f"{name}.md")
        write_text(paths[0], json.dumps(payload, indent=2) + "\n")
        write_text(paths[1], markdown)
        written.append(paths)
    return written[0]


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed arguments that decide the numbers (``--out`` and ``--publish`` left out),
    for a result file's record of the run."""
    return {k: v for k, v in vars(args).items() if k not in ("out", "publish")}


def command_args(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--out FOLDER``, ``--publish`` and ``--quiet``: the arguments that
    decide the numbers, as result files record them (where the files went, and whether
    progress bars were drawn, do not change them)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif arg not in ("--publish", "--quiet") and not arg.startswith("--out="):
            out.append(arg)
    return out
