"""Helpers shared by the benchmark scripts: machine facts and result files."""

from __future__ import annotations

import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


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


def write_results(name: str, payload: dict[str, Any], markdown: str,
                  folder: Path = RESULTS) -> tuple[Path, Path]:
    """Write ``<folder>/<name>.json`` and ``.md`` (default ``results/``) atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / f"{name}.json", folder / f"{name}.md")
    for path, text in zip(paths, (json.dumps(payload, indent=2) + "\n", markdown), strict=True):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return paths
