"""Sample episodes from a trained SB3 model, for before/after comparisons and demos."""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.vec_env import VecEnv


def collect_episodes(model: Any, env: VecEnv, n_episodes: int, *,
                     deterministic: bool = True) -> list[dict[str, Any]]:
    """Run ``model.predict`` on ``env`` until ``n_episodes`` episodes finish; their infos.

    ``env`` is reset first, so pass an evaluation env, not the one the model trains on
    (reseed it with ``env.seed(s)`` to compare models on the same prompts).
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be ≥ 1, got {n_episodes}.")
    obs = env.reset()
    episodes: list[dict[str, Any]] = []
    while len(episodes) < n_episodes:
        actions, _ = model.predict(obs, deterministic=deterministic)
        obs, _, dones, infos = env.step(actions)
        episodes += [info for done, info in zip(dones, infos, strict=True) if done]
    return episodes[:n_episodes]


def mean_of(episodes: list[dict[str, Any]], key: str = "score") -> float:
    """Mean of ``info[key]`` over the episodes that have it (NaN when none do)."""
    values = [float(e[key]) for e in episodes if key in e]
    return sum(values) / len(values) if values else float("nan")
