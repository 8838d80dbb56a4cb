"""Where a token-PPO step spends its time: the trainer's named stages.

Every stage of :meth:`~agents.token_ppo.TokenPPOTrainer.step` runs inside :func:`stage`,
which names it in ``torch.profiler`` traces (``token_ppo.generate`` …) and, inside a
:func:`stage_times` block, adds its wall-clock seconds to a dict:

``with stage_times() as seconds: trainer.step()`` leaves ``seconds`` with one entry per
stage that ran:

>>> with stage_times() as seconds:
...     with stage("update"):
...         pass
>>> list(seconds)
['update']

Outside such a block a stage costs one profiler range (a few microseconds).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch

STAGES = ("generate", "score", "reference", "rewards", "advantages", "update", "record")
"""The stages of one step, in order: sampling (with old log-probs and values), the env's
reward-model call, the reference pass (absent at a fixed β = 0), per-token rewards,
advantages, the PPO update, metrics and logging."""
PREFIX = "token_ppo."
"""Prefix of the stages' names in ``torch.profiler`` traces."""

_clocks: list[dict[str, float]] = []


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Run the block as stage ``name`` (one of :data:`STAGES`)."""
    start = time.perf_counter()
    with torch.profiler.record_function(PREFIX + name):
        yield
    if _clocks:
        elapsed = time.perf_counter() - start
        for clock in _clocks:
            clock[name] = clock.get(name, 0.0) + elapsed


@contextlib.contextmanager
def stage_times() -> Iterator[dict[str, float]]:
    """A dict that collects the seconds spent in each stage run inside the block (summed
    when a stage runs more than once); stages that did not run are absent."""
    clock: dict[str, float] = {}
    _clocks.append(clock)
    try:
        yield clock
    finally:
        _clocks.remove(clock)
