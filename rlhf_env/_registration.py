"""Gymnasium registration of every rlhf-env id (string entry points: nothing heavy imports)."""

from __future__ import annotations

ENV_IDS = ("RLHF-Text-v0",)


def register_envs() -> None:
    from gymnasium.envs.registration import register, registry

    if "RLHF-Text-v0" not in registry:
        register(
            id="RLHF-Text-v0",
            entry_point="rlhf_env.text.bandit:TextBanditEnv",
            vector_entry_point="rlhf_env.text.vector:TextBanditVectorEnv",
            # One step = one whole response; the episode always ends after it.
            max_episode_steps=None,
        )
