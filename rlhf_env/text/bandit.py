"""``RLHF-Text-v0``: text generation as a one-step (bandit) environment."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from rlhf_env.text.core import TextBanditCore, TextEnvConfig
from rlhf_env.text.prompts import pick_prompts
from rlhf_env.text.spaces import check_actions


class TextBanditEnv(gym.Env):
    """Answer a prompt with a whole response; a learned reward model judges it.

    ## Description
    Each episode is one prompt and one response. ``reset()`` draws a prompt from the task's
    prompt source (through ``self.np_random``) and returns its token ids; ``step(action)``
    takes the complete response as token ids, decodes it, scores it with the reward model
    and ends the episode. With ``kl_coef > 0`` a frozen reference LM keeps responses close
    to natural text.

    ## Action Space
    ``MultiDiscrete([A] * max_response_tokens)``: one action index per response position.
    ``A`` is the vocabulary size, or the size of the restricted action vocabulary
    (``action_vocab``), where index ``i`` means token ``action_vocab[i]``. The first EOS
    token ends the response; positions after it are ignored (they act as padding). A
    response without EOS is cut at ``max_response_tokens`` (``info["hit_token_limit"]``).
    An immediate EOS gives the empty response ``""``, which the reward model scores as is.

    ## Observation Space
    ``Dict(input_ids=Box(0, V-1, (max_prompt_tokens,), int64),
    attention_mask=Box(0, 1, (max_prompt_tokens,), int64))``: the prompt (chat-formatted for
    instruct models), left-padded with the pad token; mask 1 on real tokens. A prompt
    longer than ``max_prompt_tokens`` keeps its last tokens (``long_prompt="truncate"``,
    warned once) or raises :class:`~rlhf_env.errors.PromptError` (``long_prompt="error"``).

    ## Rewards
    ``score(prompt, response) + kl_coef · log π_ref(response | prompt)``: the reward model's
    raw score plus, with a reference model, the summed reference log-probability of the
    response tokens (EOS included when emitted). The agent provides the ``− log π`` side of
    the KL (entropy bonus, or exact log-ratios in a token-level trainer). NaN/inf or
    wrongly shaped scores raise :class:`~rlhf_env.errors.RewardModelError`.

    ## Starting State
    A uniformly drawn prompt of the task.

    ## Episode End
    Always after one step: ``terminated=True``, ``truncated=False`` (a bandit has no next
    state to bootstrap from, even when the response hit the token limit).

    ## Arguments
    See :class:`~rlhf_env.text.core.TextEnvConfig`: ``task``, ``prompts``, ``model``,
    ``tokenizer``, ``reward_model``, ``gold``, ``kl_coef``, ``reference_model``,
    ``max_prompt_tokens``, ``max_response_tokens``, ``action_vocab``, ``use_chat_template``,
    ``system_prompt``, ``long_prompt``, ``device``, ``frozen_precision``, ``render_mode``
    ("ansi"), ``reward_kwargs``.

    ``reset(options={"prompt_index": i})`` answers a chosen prompt instead of a drawn one.

    ``info`` after ``step``: ``prompt``, ``response`` (texts), ``score`` (raw reward model),
    ``kl_term`` (``kl_coef · ref_logprob``, ≤ 0, added to the score), ``kl_coef``,
    ``ref_logprob`` (with a reference model: ``kl_coef > 0``, or ``reference_model`` given;
    the summed ``log π_ref`` of the response tokens, EOS included when emitted, in nats: a
    learner's KL estimate of the response is its own ``log π(response)`` minus this),
    ``gold_score`` (when the task has a gold scorer), ``response_tokens``,
    ``hit_token_limit``, ``prompt_index``, ``prompt_truncated``.

    ## Version History
    * v0: initial version.

    ## Example
    >>> import gymnasium as gym, rlhf_env
    >>> env = gym.make("RLHF-Text-v0", task="keyword", model="tiny-random-llama",
    ...                action_vocab="task", max_response_tokens=4)
    >>> obs, info = env.reset(seed=0)
    >>> sorted(obs)
    ['attention_mask', 'input_ids']
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> terminated, truncated
    (True, False)
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}  # noqa: RUF012 (gymnasium API)

    def __init__(self, **kwargs: Any) -> None:
        self.core = TextBanditCore(TextEnvConfig.from_kwargs(kwargs))
        self.render_mode = self.core.config.render_mode
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        self._index: int | None = None
        self._last: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        [index] = pick_prompts(options, self.core.prompts, [self.np_random])
        self._index = index
        self._last = {"prompt": self.core.prompts[index]}
        obs = {k: v[0] for k, v in self.core.observation([index]).items()}
        return obs, self.core.reset_info(index)

    def step(self, action: Any):
        if self._index is None:
            raise gym.error.ResetNeeded("call reset() before step(): each episode is one step.")
        actions = check_actions(action, self.action_space, batch=None)[None]
        rewards, infos = self.core.evaluate([self._index], actions)
        obs = {k: v[0] for k, v in self.core.observation([self._index]).items()}
        self._index = None
        self._last = infos[0]
        return obs, float(rewards[0]), True, False, infos[0]

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return format_episode(self._last)


def format_episode(info: dict[str, Any]) -> str:
    """A few readable lines about one episode (used by ``render`` and the demo)."""
    lines = [f"PROMPT   {info.get('prompt', '')}"]
    if "response" in info:
        lines.append(f"RESPONSE {info['response']!r}")
        scores = f"score {info['score']:+.3f}"
        if "gold_score" in info:
            scores += f"  gold {info['gold_score']:+.3f}"
        if "ref_logprob" in info:
            scores += f"  ref logp {info['ref_logprob']:.1f}"
        lines.append(scores)
    return "\n".join(lines) + "\n"


__all__ = ["TextBanditEnv", "format_episode"]
