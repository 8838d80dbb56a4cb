"""The examples in the reward modules' docstrings run and give the documented output."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["rules", "vader", "ensemble", "registry"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"rlhf_env.rewards.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
