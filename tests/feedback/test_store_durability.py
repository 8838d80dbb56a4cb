"""The store survives SIGKILL in the middle of batch writes (a real subprocess)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from rlhf_env.feedback.store import FeedbackStore

# Adds records forever: single adds, then batches of 50 with add_many. It prints "begin"
# before each write call and, after the call returns, the ids it acknowledged ("ack <id>").
WRITER = r"""
import sys
from rlhf_env.feedback.records import Comparison
from rlhf_env.feedback.store import FeedbackStore

store = FeedbackStore(sys.argv[1])
i = 0
while True:
    if i % 100 < 20:
        recs = [Comparison(f"prompt {i}", "x" * 200, "y", "a", annotator="w")]
        print("begin", flush=True)
        store.add(recs[0])
    else:
        recs = [Comparison(f"prompt {i + k}", "x" * 200, "y", "b", annotator="w")
                for k in range(50)]
        print("begin", flush=True)
        store.add_many(recs)
    for r in recs:
        print("ack", r.content_hash, flush=True)
    i += len(recs)
"""


def _run_and_kill(path: str, min_acks: int) -> list[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, path], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    acked: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("ack "):
            acked.append(line.split()[1])
        elif len(acked) >= min_acks:  # "begin": a write call has just started
            break
    os.kill(proc.pid, signal.SIGKILL)  # kill it in the middle of that write
    rest, _ = proc.communicate(timeout=30)
    acked += [ln.split()[1] for ln in rest.splitlines() if ln.startswith("ack ")]
    assert proc.returncode == -signal.SIGKILL
    return acked


@pytest.mark.parametrize("min_acks", [333, 1017, 2222])
def test_sigkill_loses_no_acknowledged_record(tmp_path, min_acks):
    path = str(tmp_path / "killed.sqlite")
    acked = _run_and_kill(path, min_acks=min_acks)
    assert len(acked) >= min_acks, "the writer died before acknowledging enough records"

    con = sqlite3.connect(path)  # plain SQLite can read it (recovering the WAL)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with FeedbackStore(path) as store:
        assert store.integrity_check() == "ok"
        stored = {r.content_hash for r in store.iter()}
        missing = set(acked) - stored
        assert not missing, f"{len(missing)} acknowledged records lost"
        # a batch is one transaction: whatever was not acknowledged is all-or-nothing
        singles = sum(1 for r in store.iter() if r.preference == "a")
        assert (len(stored) - singles) % 50 == 0
        store.add(store.records()[0].swapped())  # still writable


CONCURRENT = r"""
import sys
from rlhf_env.feedback.records import Comparison
from rlhf_env.feedback.store import FeedbackStore

store = FeedbackStore(sys.argv[1], timeout=60)
for i in range(60):
    rec = Comparison(f"{sys.argv[2]} {i}", "x", "y", "a", annotator=sys.argv[2])
    store.add(rec) if i % 2 else store.add_many([rec])
"""


def test_two_processes_write_one_store(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    FeedbackStore(path).close()  # create the schema first
    procs = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT, path, name]) for name in ("w1", "w2")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with FeedbackStore(path) as store:
        assert store.count(annotator="w1") == store.count(annotator="w2") == 60
        assert store.integrity_check() == "ok"
