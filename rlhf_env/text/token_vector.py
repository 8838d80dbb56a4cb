"""The batched vector version of ``RLHF-TextToken-v0`` (``gym.make_vec(..., num_envs=N)``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rlhf_env.text.core import MAX_NUM_ENVS, TextBanditCore, TextEnvConfig
from rlhf_env.text.prompts import pick_prompts
from rlhf_env.text.spaces import check_token_actions, token_spaces
from rlhf_env.text.token_env import TokenEpisodes
from rlhf_env.text.vector import reseed
from rlhf_env.validation import check_int


class TextTokenVectorEnv(VectorEnv):
    """``num_envs`` token-level text episodes stepped together.

    Each step appends one token to every sub-env's response. With a reference model, a KV
    cache per sub-env (:class:`~rlhf_env.text.reference.CachedReference`, all sub-envs in
    one left-padded batch) makes a step's reference log-probs a lookup plus one length-1
    forward for all sub-envs; sub-envs that start a new prompt are prefilled together in one
    more forward. Every response that ended in the step is scored in one reward-model call
    (and one gold call).

    Episodes have different lengths, so a sub-env that ends resets in the same step
    (``AutoresetMode.SAME_STEP``): ``step`` returns its next prompt, with the finished
    episode's last observation and info under ``info["final_obs"]`` / ``info["final_info"]``
    (present only when some sub-env ended). Sub-env ``i`` draws prompts from its own
    generator, seeded with ``seed + i``, so it matches a single ``RLHF-TextToken-v0`` reset
    with ``seed + i``. Keyword arguments are those of
    :class:`~rlhf_env.text.token_env.TextTokenEnv`.
    """

    metadata = {  # noqa: RUF012 (gymnasium API)
        "render_modes": ["ansi"], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        num_envs = check_int("num_envs", num_envs, minimum=1, maximum=MAX_NUM_ENVS)
        self.core = TextBanditCore(TextEnvConfig.from_kwargs(kwargs, "RLHF-TextToken-v0"))
        self.num_envs = num_envs
        self.render_mode = self.core.config.render_mode
        self.episodes = TokenEpisodes(self.core, num_envs)
        self.single_observation_space, self.single_action_space = token_spaces(
            self.core.vocab, self.episodes.length)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs = [seeding.np_random()[0] for _ in range(num_envs)]
        self._started = False
        self._last: list[dict[str, Any]] = [{} for _ in range(num_envs)]

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        super().reset(seed=seed if isinstance(seed, int) else None)
        reseed(self._rngs, seed, started=self._started)
        self._started = True
        chosen = pick_prompts(options, self.core.prompts, self._rngs)
        infos: dict[str, Any] = {}
        for i in range(self.num_envs):
            infos = self._add_info(infos, self._start(i, chosen[i]), i)
        self._last = [{} for _ in range(self.num_envs)]
        return self.episodes.observation(), infos

    def _start(self, i: int, index: int | None = None) -> dict[str, Any]:
        """Start sub-env ``i`` on prompt ``index`` (drawn from its generator when ``None``)."""
        if index is None:
            index = self.core.prompts.sample(self._rngs[i])
        return self.episodes.start(i, index)

    def step(self, actions: Any):
        if not self._started:
            raise RuntimeError("call reset() before step().")
        indices = check_token_actions(actions, self.core.vocab.size, self.num_envs)
        result = self.episodes.step(self.core.vocab.to_token_ids(indices))
        done = result.terminated | result.truncated
        infos: dict[str, Any] = {}
        for i in range(self.num_envs):
            infos = self._add_info(infos, {"token": result.infos[i]["token"]}, i)
        for i in (int(i) for i in np.flatnonzero(done)):
            single = {k: v[0] for k, v in self.episodes.observation([i]).items()}
            infos = self._add_info(infos, self._start(i), i)
            infos = self._add_info(infos, {"final_obs": single, "final_info": result.infos[i]}, i)
        self._last = result.infos
        return (self.episodes.observation(), result.rewards, result.terminated,
                result.truncated, infos)

    def render(self) -> tuple[str, ...] | None:
        if self.render_mode != "ansi":
            return None
        return tuple(self.episodes.render_lines(i, info) for i, info in enumerate(self._last))


__all__ = ["TextTokenVectorEnv"]
