"""Benchmark tests register synthetic tasks, algorithms and suites; each test gets them and
the registries are restored afterwards, so no other test sees them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rlhf_env.bench import registry
from tests.bench import helpers


@pytest.fixture
def synthetic_registered() -> Iterator[None]:
    """The synthetic tasks, algorithms and suite of :mod:`tests.bench.helpers`, for one test."""
    registry.list_tasks()  # the built-ins first, so restoring keeps them
    saved = (dict(registry._TASKS), dict(registry._SUITES), dict(registry._ALGORITHMS))
    helpers.register_all()
    helpers.CALLS.clear()
    helpers.PREPARE_CALLS.clear()
    try:
        yield
    finally:
        for live, before in zip((registry._TASKS, registry._SUITES, registry._ALGORITHMS),
                                saved, strict=True):
            live.clear()
            live.update(before)
