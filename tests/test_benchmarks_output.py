"""Benchmarks write under --out; the committed benchmarks/results/ changes only with --publish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import _common
from benchmarks.run_all import BENCHMARKS, PUBLISH, commands

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_results_go_to_out_and_leave_the_committed_folder_alone(tmp_path: Path) -> None:
    before = _snapshot(_common.RESULTS)
    paths = _common.write_results("probe", {"rate": 1.5}, "# probe\n", tmp_path / "out")
    assert paths == (tmp_path / "out" / "probe.json", tmp_path / "out" / "probe.md")
    assert json.loads(paths[0].read_text()) == {"rate": 1.5}
    assert paths[1].read_text() == "# probe\n"
    assert _snapshot(_common.RESULTS) == before
    assert not (_common.RESULTS / "probe.json").exists()


def test_publish_also_writes_the_committed_folder(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    committed = tmp_path / "results"
    monkeypatch.setattr(_common, "RESULTS", committed)
    _common.write_results("probe", {"rate": 2.0}, "# probe\n", tmp_path / "out", publish=True)
    for folder in (tmp_path / "out", committed):
        assert json.loads((folder / "probe.json").read_text()) == {"rate": 2.0}
        assert (folder / "probe.md").read_text() == "# probe\n"


def test_the_default_out_is_ignored_by_git() -> None:
    assert _common.DEFAULT_OUT == ROOT / "runs" / "benchmarks"
    assert "runs/" in (ROOT / ".gitignore").read_text().splitlines()


def test_recorded_commands_leave_out_where_the_files_went() -> None:
    argv = ["--seeds", "5", "--out", "x/y", "--publish", "--out=z", "--quiet", "--name", "c"]
    assert _common.command_args(argv) == ["--seeds", "5", "--name", "c"]


def test_run_all_publishes_only_when_asked() -> None:
    plain = [c for name in BENCHMARKS for c in commands(name)]
    assert plain == [c for name in BENCHMARKS for c in BENCHMARKS[name]]
    assert all(PUBLISH not in c for c in plain)
    published = [c for name in BENCHMARKS for c in commands(name, publish=True)]
    assert sum(PUBLISH in c for c in published) >= 7  # every committed result has its command
    merges = [c for c in published if "--merge" in c]
    assert merges and all(PUBLISH in c for c in merges)
    parts = [c for c in published if c[0] == "bench_control.py" and "--merge" not in c]
    assert parts and not any(PUBLISH in c for c in parts)  # parts only feed the merge
    assert ["bench_models.py", "--cold-runs", "3", PUBLISH] in published


def test_run_all_passes_one_out_folder_to_parts_and_merges() -> None:
    runs = commands("control_pendulum_100k", out="elsewhere")
    assert all(c[-2:] == ["--out", "elsewhere"] for c in runs)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_benchmark_takes_out_and_publish(script: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--out" in proc.stdout and "--publish" in proc.stdout, proc.stdout
