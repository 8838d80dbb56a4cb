"""Importing rlhf_env.rewards stays light: no torch, no transformers."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_load_torch_or_transformers():
    code = ("import sys, rlhf_env.rewards as r; r.make_reward_model('keyword'); "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_lazy_classes_resolve():
    import rlhf_env
    import rlhf_env.rewards as rewards

    assert rewards.EncoderHeadReward.__name__ == "EncoderHeadReward"
    assert rlhf_env.make_reward_model is rewards.make_reward_model
