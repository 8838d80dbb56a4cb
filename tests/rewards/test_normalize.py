"""NormalizedReward: running statistics against numpy, freezing, clipping, state dicts."""

from __future__ import annotations

import numpy as np
import pytest

from rlhf_env.errors import ConfigError
from rlhf_env.rewards import NormalizedReward


class Sequenced:
    """Returns the next batch from a list each call."""

    name = "seq"

    def __init__(self, batches):
        self.batches = list(batches)

    def score(self, prompts, responses):
        return self.batches.pop(0)


def _batches(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(5.0, 3.0, size=n) for n in (1, 7, 16, 3)]


def test_running_stats_match_numpy():
    batches = _batches()
    rm = NormalizedReward(Sequenced(batches))
    seen: list[float] = []
    for b in batches:
        out = rm.score(["p"] * len(b), ["r"] * len(b))
        seen.extend(np.asarray(b, dtype=np.float32).tolist())
        assert rm.moments.count == len(seen)
        assert rm.moments.mean == pytest.approx(np.mean(seen), rel=1e-9)
        assert rm.moments.var == pytest.approx(np.var(seen), rel=1e-9)
        expected = (np.float32(b) - np.mean(seen)) / np.sqrt(np.var(seen) + 1e-8)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_frozen_does_not_update_and_clip_applies():
    batches = _batches(1)
    rm = NormalizedReward(Sequenced([*batches[:2], np.array([1e6, -1e6])]), clip=3.0)
    rm.score(["p"], ["r"])
    rm.score(["p"] * 7, ["r"] * 7)
    before = rm.state_dict()
    with rm.frozen():
        out = rm.score(["p"] * 2, ["r"] * 2)
    assert rm.state_dict() == before
    assert out.tolist() == [3.0, -3.0]
    assert rm.update is True


def test_state_dict_round_trip():
    batches = _batches(2)
    a = NormalizedReward(Sequenced(batches[:2]))
    a.score(["p"], ["r"])
    a.score(["p"] * 7, ["r"] * 7)
    b = NormalizedReward(Sequenced([batches[2]]), update=False)
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(b.score(["p"] * 16, ["r"] * 16), a.normalize(batches[2]),
                               rtol=1e-6)


def test_bad_state_and_config_raise():
    rm = NormalizedReward(Sequenced([]))
    with pytest.raises(ConfigError, match="lacks"):
        rm.load_state_dict({"mean": 0.0})
    with pytest.raises(ConfigError):
        rm.load_state_dict({"count": 1, "mean": 0.0, "var": -1.0})
    with pytest.raises(ConfigError):
        NormalizedReward(Sequenced([]), clip=0.0)
