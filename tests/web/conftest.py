"""Fixtures for the web app: a store with one item of each kind, tokens, and a real server
process on 127.0.0.1 (a free port), stopped by the test that started it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from rlhf_env.feedback.store import FeedbackStore

EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A `rlhf-env serve` process."""

    store: Path
    port: int
    args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        cmd = [sys.executable, "-m", "rlhf_env.cli", "serve", str(self.store),
               "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    started: list[Server] = []

    def make(store: Path, *args: str, port: int | None = None) -> Server:
        srv = Server(store, port or free_port(), list(args)).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


def fill(store: FeedbackStore, evil: bool = False) -> dict[str, int]:
    """One item of each kind; returns kind → item id."""
    ids = {
        "comparison": store.enqueue("comparison", "Greet the user.",
                                    [EVIL if evil else "Hello there!", "Go away."],
                                    priority=5),
        "ranking": store.enqueue("ranking", "Name a fruit.", ["Apple", "Rock", "Banana"],
                                 priority=4),
        "rating": store.enqueue("rating", "Be kind.", ["You are great."], scale=(1, 5),
                                priority=3),
        "correction": store.enqueue("correction", "Spell it.", ["The cat sat on teh mat."],
                                    priority=2),
        "demonstration": store.enqueue("demonstration", "Write a haiku.", [], priority=1),
    }
    return ids
