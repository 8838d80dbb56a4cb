"""The examples in module docstrings run and give the documented output."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "rlhf_env.text.bandit",
    "rlhf_env.text.token_env",
    "rlhf_env.checker",
    "rlhf_env.configs",
    "rlhf_env._toml",
    "rlhf_env.kl",
    "rlhf_env.metrics",
    "rlhf_env.quiet",
    "rlhf_env.feedback.records",
    "rlhf_env.feedback.examples",
    "rlhf_env.models.sources",
    "rlhf_env.feedback.store",
    "rlhf_env.feedback.formats",
    "rlhf_env.feedback.io",
    "rlhf_env.feedback.learning.labelers",
    "rlhf_env.feedback.learning.selection",
    "rlhf_env.feedback.learning.evaluation",
    "rlhf_env.feedback.learning.training.trainer",
    "rlhf_env.feedback.learning.runs",
    "rlhf_env.control.envs",
    "rlhf_env.control.labeling",
    "rlhf_env.control.schedules",
    "rlhf_env.control.demonstrations",
    "rlhf_env.control.highway",
    "rlhf_env.control.corrections",
    "agents.sft",
    "agents.best_of_n",
]


NEEDS = {"rlhf_env.control.highway": "highway_env"}
"""Modules whose examples run an optional package (skipped without it)."""


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no docstring examples"
    assert result.failed == 0
