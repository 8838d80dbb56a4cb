"""The batched vector version of ``RLHF-Text-v0`` (``gym.make_vec(..., num_envs=N)``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rlhf_env.text.bandit import format_episode
from rlhf_env.text.core import MAX_NUM_ENVS, TextBanditCore, TextEnvConfig
from rlhf_env.text.prompts import pick_prompts
from rlhf_env.text.spaces import check_actions
from rlhf_env.validation import check_int


class TextBanditVectorEnv(VectorEnv):
    """``num_envs`` text bandits stepped together: one reward-model call per step.

    Every sub-episode ends after one step, so the env resets in the same step
    (``AutoresetMode.SAME_STEP``): ``step`` returns the next prompts, with the finished
    episodes' observations and infos under ``info["final_obs"]`` and ``info["final_info"]``.
    Sub-env ``i`` draws prompts from its own generator, seeded with ``seed + i``.

    All responses of a step are decoded, then scored in one batched reward-model call, one
    gold-scorer call and one reference forward pass. That is where the speed comes from.
    Keyword arguments are those of :class:`~rlhf_env.text.bandit.TextBanditEnv`.
    """

    metadata = {  # noqa: RUF012 (gymnasium API)
        "render_modes": ["ansi"], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        num_envs = check_int("num_envs", num_envs, minimum=1, maximum=MAX_NUM_ENVS)
        self.core = TextBanditCore(TextEnvConfig.from_kwargs(kwargs))
        self.num_envs = num_envs
        self.render_mode = self.core.config.render_mode
        self.single_observation_space = self.core.observation_space
        self.single_action_space = self.core.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs = [seeding.np_random()[0] for _ in range(num_envs)]
        self._indices: list[int] | None = None
        self._last: list[dict[str, Any]] = []

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        super().reset(seed=seed if isinstance(seed, int) else None)
        reseed(self._rngs, seed, started=self._indices is not None)
        self._indices = pick_prompts(options, self.core.prompts, self._rngs)
        return self.core.observation(self._indices), self._reset_infos(self._indices)

    def _reset_infos(self, indices: list[int]) -> dict[str, Any]:
        infos: dict[str, Any] = {}
        for i, index in enumerate(indices):
            infos = self._add_info(infos, self.core.reset_info(index), i)
        return infos

    def step(self, actions: Any):
        if self._indices is None:
            raise RuntimeError("call reset() before step().")
        actions = check_actions(actions, self.single_action_space, batch=self.num_envs)
        finished = self._indices
        rewards, episode_infos = self.core.evaluate(finished, actions)
        final_obs = self.core.observation(finished)
        self._last = episode_infos
        self._indices = [self.core.prompts.sample(rng) for rng in self._rngs]
        obs = self.core.observation(self._indices)
        infos = self._reset_infos(self._indices)
        for i, info in enumerate(episode_infos):
            single_obs = {k: v[i] for k, v in final_obs.items()}
            infos = self._add_info(infos, {"final_obs": single_obs, "final_info": info}, i)
        done = np.ones(self.num_envs, dtype=bool)
        return obs, rewards, done, np.zeros(self.num_envs, dtype=bool), infos

    def render(self) -> tuple[str, ...] | None:
        if self.render_mode != "ansi":
            return None
        return tuple(format_episode(info) for info in self._last)


def sub_env_seeds(seed: int | list[int | None] | None, n: int) -> list[int | None]:
    """Per-sub-env seeds: ``seed + i`` for an int, the list itself, or ``None`` for each."""
    if seed is None:
        return [None] * n
    if isinstance(seed, int):
        return [seed + i for i in range(n)]
    if len(seed) != n:
        raise ValueError(f"got {len(seed)} seeds for {n} sub-envs.")
    return list(seed)


def reseed(rngs: list[np.random.Generator], seed: int | list[int | None] | None,
           started: bool) -> None:
    """Reseed the sub-envs' prompt generators in place for ``reset(seed=...)``; with no seed,
    only the first reset draws fresh entropy (later resets keep the streams going)."""
    for i, s in enumerate(sub_env_seeds(seed, len(rngs))):
        if s is not None or (seed is None and not started):
            rngs[i] = seeding.np_random(s)[0]
