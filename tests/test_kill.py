"""SIGKILL during a write never leaves a broken file: each writer class is killed mid-write.

A child process writes a first version, says ``ready`` and then rewrites the target in a
loop (versions 1, 2, 3 … each large enough that writes take a while); the parent kills it
with SIGKILL at a random moment and checks that the target loads whole, as some version.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
ROOT = Path(__file__).resolve().parents[1]

WRITERS = {
    "json": """
        from rlhf_env.files import write_json
        def write(path, v):
            write_json(path, {"version": v, "rows": [[v] * 50] * 2000})
    """,
    "state": """
        import torch
        from rlhf_env.checkpoints import save_state
        def write(path, v):
            save_state(path, {"version": v, "w": torch.full((400, 400), float(v))}, "kill")
    """,
    "clip": """
        import numpy as np
        from rlhf_env.control.clips import write_clip
        def write(path, v):
            rng = np.random.default_rng(v)
            write_clip(rng.integers(0, 255, (40, 64, 64, 3), dtype=np.uint8), path)
    """,
    "folder": """
        from rlhf_env.files import atomic_folder, write_text
        def write(path, v):
            with atomic_folder(path) as tmp:
                for i in range(20):
                    write_text(tmp / f"part{i}.txt", f"{v}\\n" * 20000)
    """,
    "loop": """
        from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop
        loop = PreferenceLearningLoop("RLHF-CartPole-v0", LoopConfig(
            total_timesteps=64, total_labels=4, rounds=1, n_envs=1, ensemble_size=2,
            horizon=20), algorithm_kwargs={"n_steps": 16, "batch_size": 16})
        def write(path, v):
            loop.state.labels_used = v
            loop.checkpoint(path)
    """,
    "export": """
        from rlhf_env.feedback import Comparison
        from rlhf_env.feedback.io import export_jsonl
        def write(path, v):
            export_jsonl([Comparison(f"p{i}", "x" * 200, f"y{v}", "a", timestamp=1.0)
                          for i in range(3000)], path)
    """,
}


def _check(kind: str, path: Path) -> None:
    """``path`` holds one whole version (raises otherwise)."""
    import json

    if kind == "json":
        body = json.loads(path.read_text())
        assert len(body["rows"]) == 2000
    elif kind == "state":
        from rlhf_env.checkpoints import load_state

        state = load_state(path, "kill")
        assert float(state["w"][0, 0]) == state["version"]
    elif kind == "clip":
        from PIL import Image

        with Image.open(path) as im:
            assert im.n_frames == 40
    elif kind == "folder":
        parts = sorted(path.iterdir())
        assert len(parts) == 20
        versions = {p.read_text().split("\n", 1)[0] for p in parts}
        assert len(versions) == 1 and all(len(p.read_text()) > 0 for p in parts)
    elif kind == "loop":
        from rlhf_env.control.loop import PreferenceLearningLoop

        assert PreferenceLearningLoop.resume(path).state.labels_used >= 0
    else:
        lines = path.read_text().splitlines()
        assert len(lines) == 3000 and all(json.loads(line) for line in lines)


def _script(kind: str, path: Path) -> str:
    return textwrap.dedent(WRITERS[kind]) + textwrap.dedent(f"""
        import sys
        from pathlib import Path
        path = Path({str(path)!r})
        write(path, 0)
        print("ready", flush=True)
        v = 1
        while True:
            write(path, v)
            v += 1
    """)


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_sigkill_mid_write_leaves_a_whole_file(tmp_path, kind):
    suffix = {"clip": ".gif", "folder": "", "loop": "", "export": ".jsonl"}.get(kind, ".bin")
    rng = random.Random(kind)
    for attempt in range(1 if kind == "loop" else 3):  # the loop's child starts slowly
        path = tmp_path / f"target{attempt}{suffix}"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-c", _script(kind, path)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
            time.sleep(rng.uniform(0.02, 0.4))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        _check(kind, path)
