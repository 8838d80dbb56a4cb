"""A demo's run folder: ``runs/<prefix>-<time>/`` and the files both demos write into it.

Every file is written atomically (:mod:`rlhf_env.files`).
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_env.files import write_json, write_text

__all__ = ["new_run_dir", "print_samples", "write_csv", "write_json"]


def new_run_dir(parent: str | Path, prefix: str) -> Path:
    """``parent/prefix-YYYYmmdd-HHMMSS`` (a numbered suffix if that already exists)."""
    base = Path(parent) / time.strftime(f"{prefix}-%Y%m%d-%H%M%S")
    run_dir, n = base, 1
    while run_dir.exists():
        run_dir, n = base.with_name(f"{base.name}-{n}"), n + 1
    run_dir.mkdir(parents=True)
    return run_dir


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Rows of scalars as CSV (columns: the union of keys, sorted; lists are left out)."""
    columns = sorted({k for row in rows for k, v in row.items() if not isinstance(v, list)})
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def print_samples(title: str, samples: list[dict[str, Any]]) -> None:
    print(f"\n== {title} ==")
    for s in samples:
        gold = f"  gold {s['gold_score']:+.2f}" if s.get("gold_score") is not None else ""
        print(f"  score {s['score']:+6.2f}{gold}  | {s['prompt'][:48]:48s} -> {s['response']!r}")
    print(f"  mean score {np.mean([s['score'] for s in samples]):+.3f}"
          + (f", mean gold {np.mean([s['gold_score'] for s in samples]):+.3f}"
             if samples and samples[0].get("gold_score") is not None else ""))
