"""Gymnasium registration of every rlhf-env id (string entry points: nothing heavy imports)."""

from __future__ import annotations

CONTROL_ENV_IDS = {
    # id: (underlying task, horizon); see rlhf_env.control.envs for the fixed-horizon design
    "RLHF-CartPole-v0": ("CartPole-v1", 200),
    "RLHF-Pendulum-v0": ("Pendulum-v1", 200),
    "RLHF-HalfCheetah-v0": ("HalfCheetah-v5", 1000),
    "RLHF-Highway-v0": ("highway-fast-v0", 40),  # highway-env; see rlhf_env.control.highway
}

ENV_IDS = ("RLHF-Text-v0", "RLHF-TextToken-v0", *CONTROL_ENV_IDS)


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
    if "RLHF-TextToken-v0" not in registry:
        register(
            id="RLHF-TextToken-v0",
            entry_point="rlhf_env.text.token_env:TextTokenEnv",
            vector_entry_point="rlhf_env.text.token_vector:TextTokenVectorEnv",
            # One step = one token; the env ends episodes itself (EOS or max_response_tokens).
            max_episode_steps=None,
        )
    for env_id, (base_id, horizon) in CONTROL_ENV_IDS.items():
        if env_id not in registry:
            register(
                id=env_id,
                entry_point="rlhf_env.control.envs:make_control_env",
                kwargs={"base_id": base_id, "horizon": horizon},
            )
