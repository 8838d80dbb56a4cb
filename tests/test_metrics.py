"""The shared metric vocabulary (rlhf_env.metrics): names, keys and the log backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlhf_env.errors import ConfigError, UnknownNameError
from rlhf_env.metrics import LOG_BACKENDS, METRICS, check_log_with, metric_key, shared_metrics


def test_every_metric_has_its_name_and_a_meaning():
    for name, metric in METRICS.items():
        assert metric.name == name and metric.meaning
        assert metric_key(name) == f"rlhf/{name}"


def test_unknown_metrics_are_refused_with_a_suggestion():
    with pytest.raises(UnknownNameError, match="Did you mean 'response_length'") as info:
        metric_key("response_lenght")
    assert "train/" in str(info.value)  # where internals go instead
    with pytest.raises(UnknownNameError, match="entropy"):
        shared_metrics(entropy=1.0)


def test_shared_metrics_makes_plain_floats_under_their_keys():
    out = shared_metrics(score=np.float32(1.5), kl=torch.tensor(0.25), episodes=8)
    assert out == {"rlhf/score": 1.5, "rlhf/kl": 0.25, "rlhf/episodes": 8.0}
    assert all(type(v) is float for v in out.values())


def test_check_log_with():
    assert check_log_with(LOG_BACKENDS) == LOG_BACKENDS
    assert check_log_with("csv") == ("csv",)
    with pytest.raises(UnknownNameError, match="Did you mean 'wandb'"):
        check_log_with(["wandbb"])
    with pytest.raises(ConfigError, match="twice"):
        check_log_with(["csv", "csv"])
