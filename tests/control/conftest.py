"""Shared fixtures of the control tests: small CartPole segment data sets."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rlhf_env  # noqa: F401  (registers the ids)
from rlhf_env.control.segments import Segment, collect_trajectories, sample_segments


def _noisy_balancer(eps: float, rng: np.random.Generator):
    """A CartPole controller that acts at random with probability ``eps``."""

    def act(obs: np.ndarray) -> int:
        if rng.random() < eps:
            return int(rng.integers(2))
        return int(obs[2] + 0.5 * obs[3] > 0)

    return act


@pytest.fixture(scope="session")
def cartpole_segments() -> list[Segment]:
    """600 segments of 20 steps from policies of mixed skill (random → good)."""
    env = gym.make("RLHF-CartPole-v0", horizon=100)
    rng = np.random.default_rng(0)
    trajs = []
    for k, eps in enumerate((1.0, 0.5, 0.3, 0.1)):
        trajs += collect_trajectories(env, _noisy_balancer(eps, rng), 500, seed=k)
    return sample_segments(trajs, 20, 600, rng, "RLHF-CartPole-v0")
