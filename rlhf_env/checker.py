"""``check_rlhf_env``: gymnasium's and SB3's env checkers plus the contracts of this package.

Each check is a small function that raises :class:`~rlhf_env.errors.CheckError` with a
message saying what is wrong and what to change. Our own checks run first (they give the
most precise messages), then gymnasium's ``check_env`` and SB3's ``check_env``.

What we check on top of the generic checkers:

* spaces: a flat ``Dict`` observation with integer ``Box`` ``input_ids`` and
  ``attention_mask`` of equal shape (a ``MultiDiscrete`` observation would be one-hot encoded
  by SB3 over the whole vocabulary), both ``int64``;
* values: token ids inside ``[0, vocab)``, mask in ``{0, 1}``, left padding (once the mask
  turns 1 it stays 1), padding positions holding the pad id;
* ``info`` after ``step``: ``prompt``, ``response``, ``score`` (and ``gold_score`` when the
  task has a gold scorer); finite rewards; a bandit episode ends after one step;
* seeding: ``reset(seed=s)`` twice gives identical observations, and the same action after
  the same seed gives the same reward;
* vector envs (:class:`~rlhf_env.text.vector.TextBanditVectorEnv`): batch shapes and the
  ``AutoresetMode.SAME_STEP`` ``final_obs`` / ``final_info`` layout.

    >>> import gymnasium as gym, rlhf_env
    >>> env = gym.make("RLHF-Text-v0", task="keyword", model="tiny-random-llama",
    ...                action_vocab="task", max_response_tokens=4)
    >>> rlhf_env.check_rlhf_env(env, warn=False)   # raises CheckError on a problem
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlhf_env.errors import CheckError, ConfigError
from rlhf_env.text.core import TextBanditCore, text_core

OBS_KEYS = ("input_ids", "attention_mask")
"""Keys every text observation must have."""
STEP_INFO_KEYS = ("prompt", "response", "score")
"""Keys ``info`` must carry after ``step`` (plus ``gold_score`` when the task has gold)."""
MAX_EPISODE_STEPS = 10_000
"""A text episode that runs longer than this is reported as never ending."""


def check_rlhf_env(env: Any, *, seed: int = 0, skip_sb3: bool = False, warn: bool = True) -> None:
    """Check a text env (or its batched vector env) against gymnasium, SB3 and our contracts.

    Args:
        env: a ``gymnasium.Env`` (wrapped or not) or a ``gymnasium.vector.VectorEnv``.
        seed: the seed used for the reset/determinism checks.
        skip_sb3: skip Stable-Baselines3's ``check_env`` (single envs only).
        warn: let the generic checkers emit their warnings (``False`` silences them).

    Raises:
        CheckError: the first broken contract, with a message saying what to change.
    """
    if isinstance(env, gym.vector.VectorEnv):
        check_vector_env(env, seed=seed)
        return
    if not isinstance(env, gym.Env):
        raise CheckError(f"check_rlhf_env expects a gymnasium.Env or VectorEnv, got "
                         f"{type(env).__name__}; build it with gym.make or gym.make_vec.")
    if is_text_env(env):
        check_observation_space(env.observation_space)
        check_action_space(env.action_space)
        check_single_rollout(env, seed)
    else:
        check_finite_rollout(env, seed)
    check_determinism(env, seed)
    run_gymnasium_checker(env, warn)
    if not skip_sb3:
        run_sb3_checker(env, warn)


def is_text_env(env: Any) -> bool:
    """Whether the text contracts apply: the env is one of ours (:func:`text_core` finds its
    core) or has an ``input_ids`` observation (control envs with human feedback get the
    generic checks)."""
    if _core(env) is not None:
        return True
    base = getattr(env, "unwrapped", env)
    space = getattr(base, "single_observation_space", base.observation_space)
    return isinstance(space, spaces.Dict) and "input_ids" in space.spaces


# -- spaces ---------------------------------------------------------------------------------
def check_observation_space(space: spaces.Space) -> spaces.Dict:
    """A flat ``Dict`` with int64 ``Box`` ``input_ids`` and ``attention_mask`` of equal shape.

    Returns the space, typed as a ``Dict``, once it passes.
    """
    if not isinstance(space, spaces.Dict):
        raise CheckError(
            f"the observation space is {type(space).__name__}; it must be a flat spaces.Dict "
            f"with 'input_ids' and 'attention_mask' Box entries (what MultiInputPolicy expects)."
        )
    missing = [k for k in OBS_KEYS if k not in space.spaces]
    if missing:
        raise CheckError(f"the observation Dict lacks {missing}; add integer Box entries "
                         f"'input_ids' (token ids) and 'attention_mask' (1 on real tokens).")
    for key, sub in space.spaces.items():
        if isinstance(sub, (spaces.Dict, spaces.Tuple)):
            raise CheckError(f"observation entry {key!r} is a nested {type(sub).__name__}; SB3 "
                             f"supports flat Dict observations only: flatten it into top keys.")
    for key in OBS_KEYS:
        _check_token_box(key, space.spaces[key])
    ids, mask = space.spaces["input_ids"], space.spaces["attention_mask"]
    if ids.shape != mask.shape:
        raise CheckError(f"'input_ids' has shape {ids.shape} but 'attention_mask' has "
                         f"{mask.shape}; give both the shape (max_prompt_tokens,).")
    return space


def _check_token_box(key: str, sub: spaces.Space) -> None:
    if isinstance(sub, (spaces.MultiDiscrete, spaces.MultiBinary, spaces.Discrete)):
        raise CheckError(
            f"observation {key!r} is {type(sub).__name__}; SB3 one-hot encodes such observations "
            f"(one input per vocabulary entry and position). Use spaces.Box(0, high, "
            f"(max_prompt_tokens,), np.int64) instead."
        )
    if not isinstance(sub, spaces.Box):
        raise CheckError(f"observation {key!r} is {type(sub).__name__}; use an integer "
                         f"spaces.Box of shape (max_prompt_tokens,) and dtype np.int64.")
    if sub.dtype != np.int64:
        raise CheckError(
            f"observation {key!r} has dtype {sub.dtype}; token ids and masks must be integer "
            f"np.int64 Box arrays (float ids lose precision and cannot index an embedding). "
            f"Build the Box with dtype=np.int64 and return int64 arrays."
        )
    if len(sub.shape) != 1:
        raise CheckError(f"observation {key!r} has shape {sub.shape}; use one dimension "
                         f"(max_prompt_tokens,) per env.")
    if np.any(sub.low < 0):
        raise CheckError(f"observation {key!r} allows negative values (low={sub.low.min()}); "
                         f"set low=0: token ids and masks are never negative.")
    if key == "attention_mask" and np.any(sub.high != 1):
        raise CheckError(f"'attention_mask' has high={sub.high.max()}; a mask is 0 or 1, so "
                         f"use spaces.Box(0, 1, shape, np.int64).")


def check_action_space(space: spaces.Space) -> None:
    """A ``MultiDiscrete`` response (bandit) or a ``Discrete`` next token (token env)."""
    if not isinstance(space, (spaces.MultiDiscrete, spaces.Discrete)):
        raise CheckError(
            f"the action space is {type(space).__name__}; a text env takes token (or restricted "
            f"vocabulary) indices: MultiDiscrete for a whole response, Discrete for one token."
        )


# -- observation values ---------------------------------------------------------------------
def check_observation(obs: Any, space: Any, pad_id: int | None, where: str) -> None:
    """One observation: keys, int64 dtypes, shapes, id range, mask values and padding."""
    if not isinstance(obs, Mapping) or any(k not in obs for k in OBS_KEYS):
        raise CheckError(f"{where} returned {type(obs).__name__} without keys {OBS_KEYS}; "
                         f"return a dict of numpy arrays matching the observation space.")
    ids, mask = obs["input_ids"], obs["attention_mask"]
    for key, arr in (("input_ids", ids), ("attention_mask", mask)):
        if not isinstance(arr, np.ndarray) or arr.dtype != np.int64:
            kind = getattr(arr, "dtype", type(arr).__name__)
            raise CheckError(f"{where} returned {key!r} as {kind}; return np.int64 arrays "
                             f"(e.g. `np.asarray(ids, dtype=np.int64)`).")
        if arr.shape != space.spaces[key].shape:
            raise CheckError(f"{where} returned {key!r} of shape {arr.shape}, but the space "
                             f"says {space.spaces[key].shape}; pad or truncate to that length.")
    _check_id_range(ids, int(space.spaces["input_ids"].high.max()), where)
    check_mask(ids, mask, pad_id, where)


def _check_id_range(ids: np.ndarray, high: int, where: str) -> None:
    bad = (ids < 0) | (ids > high)
    if bad.any():
        raise CheckError(f"{where} returned token ids outside [0, {high}] (e.g. "
                         f"{ids[bad][:3].tolist()}); ids must index the tokenizer's vocabulary.")


def check_mask(ids: np.ndarray, mask: np.ndarray, pad_id: int | None, where: str) -> None:
    """Mask in {0, 1}, left padding, padding positions hold the pad id, at least one token."""
    if not np.isin(mask, (0, 1)).all():
        raise CheckError(f"{where} returned an attention_mask with values "
                         f"{np.unique(mask)[:5].tolist()}; use 1 for real tokens, 0 for padding.")
    if np.any(np.diff(mask) < 0):
        raise CheckError(
            f"{where} returned an attention_mask that goes from 1 back to 0 "
            f"({mask.tolist()}); prompts are left-padded: padding first, then the prompt, so "
            f"once the mask turns 1 it stays 1."
        )
    if not mask.any():
        raise CheckError(f"{where} returned an all-zero attention_mask: the prompt is empty; "
                         f"every observation needs at least one real token.")
    pads = ids[mask == 0]
    expected = pad_id if pad_id is not None else (int(pads[0]) if pads.size else None)
    if pads.size and np.any(pads != expected):
        raise CheckError(
            f"{where} returned padding positions (mask 0) holding token ids "
            f"{np.unique(pads)[:5].tolist()}, expected the pad id {expected}; fill padding with "
            f"tokenizer.pad_token_id and set the mask to 1 on every real token."
        )


# -- one episode ----------------------------------------------------------------------------
def check_single_rollout(env: gym.Env, seed: int) -> None:
    """reset, then step to the end of the episode (one step for a bandit, one token per step
    for a token env): observation values, finite rewards, the bandit's end, the final info."""
    space = env.observation_space
    pad_id = _pad_id(env)
    obs, _ = env.reset(seed=seed)
    check_observation(obs, space, pad_id, "reset()")
    for _ in range(MAX_EPISODE_STEPS):
        obs, reward, terminated, truncated, info = env.step(fixed_action(env.action_space, seed))
        check_observation(obs, space, pad_id, "step()")
        check_reward(reward, "step()")
        if isinstance(env.action_space, spaces.MultiDiscrete):
            check_bandit_end(terminated, truncated)
        if terminated or truncated:
            check_step_info(info, _expects_gold(env), "the last step()")
            return
    raise CheckError(f"the episode did not end within {MAX_EPISODE_STEPS} steps; a text env "
                     f"must end it at EOS (terminated) or at its token limit (truncated).")


def check_finite_rollout(env: gym.Env, seed: int) -> None:
    """reset + one step of a non-text env: the reward is finite."""
    env.reset(seed=seed)
    check_reward(env.step(fixed_action(env.action_space, seed))[1], "step()")


def check_reward(reward: Any, where: str) -> None:
    """A finite real number (or array of them, for vector envs)."""
    arr = np.asarray(reward)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise CheckError(f"{where} returned a reward of type {arr.dtype}; return a float.")
    if not np.isfinite(arr).all():
        raise CheckError(f"{where} returned a non-finite reward ({arr.tolist()}); the reward "
                         f"model must never pass NaN/inf to the agent: validate its scores.")


def check_bandit_end(terminated: Any, truncated: Any) -> None:
    """A whole-response (bandit) episode ends after its one step, as ``terminated``."""
    if not bool(np.all(terminated)):
        raise CheckError("the bandit env did not return terminated=True after its one step; a "
                         "whole response ends the episode (no next state to bootstrap from).")
    if bool(np.any(truncated)):
        raise CheckError("the bandit env returned truncated=True; the episode ends by design "
                         "after one step, so return terminated=True and truncated=False.")


def check_step_info(info: Any, expects_gold: bool | None, where: str) -> None:
    """``info`` after a step carries the texts and scores needed for logging."""
    if not isinstance(info, Mapping):
        raise CheckError(f"{where} returned info of type {type(info).__name__}; return a dict.")
    keys = [*STEP_INFO_KEYS, "gold_score"] if expects_gold else list(STEP_INFO_KEYS)
    missing = [k for k in keys if k not in info]
    if missing:
        raise CheckError(
            f"{where} info lacks {missing}; after a step info must carry the decoded 'prompt' "
            f"and 'response' texts, the raw reward-model 'score' and, when the task has a gold "
            f"scorer, 'gold_score', so logging never has to recompute them."
        )
    for key in keys[2:]:
        if not np.isfinite(np.asarray(info[key], dtype=np.float64)).all():
            raise CheckError(f"{where} info[{key!r}] is not finite ({info[key]!r}).")


def check_determinism(env: gym.Env, seed: int) -> None:
    """reset(seed) twice gives the same observation; the same action then the same reward."""
    action = fixed_action(env.action_space, seed)
    first = _seeded_episode(env, seed, action)
    second = _seeded_episode(env, seed, action)
    if not _obs_equal(first[0], second[0]):
        raise CheckError(
            f"reset(seed={seed}) twice gave different observations; draw prompts only from "
            f"self.np_random and call super().reset(seed=seed) first in reset()."
        )
    if first[1] != second[1]:
        raise CheckError(
            f"the same action after reset(seed={seed}) gave rewards {first[1]} and {second[1]}; "
            f"step() must be deterministic given the seed (put the reward model in eval mode, "
            f"draw randomness from self.np_random)."
        )


def _seeded_episode(env: gym.Env, seed: int, action: Any) -> tuple[Any, float]:
    obs, _ = env.reset(seed=seed)
    obs = copy.deepcopy(obs)
    reward = env.step(action)[1]
    return obs, float(reward)


def _obs_equal(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_obs_equal(a[k], b[k]) for k in a)
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


# -- generic checkers -----------------------------------------------------------------------
def run_gymnasium_checker(env: gym.Env, warn: bool) -> None:
    """``gymnasium.utils.env_checker.check_env`` on the unwrapped env, as a ``CheckError``."""
    from gymnasium.utils.env_checker import check_env

    base = env.unwrapped
    _run_external("gymnasium's check_env", warn, lambda: check_env(
        base, skip_render_check=base.render_mode is None, skip_close_check=True))


def run_sb3_checker(env: gym.Env, warn: bool) -> None:
    """``stable_baselines3.common.env_checker.check_env``, as a ``CheckError``."""
    from stable_baselines3.common.env_checker import check_env

    _run_external("Stable-Baselines3's check_env", warn, lambda: check_env(env, warn=warn))


def _run_external(name: str, warn: bool, run: Any) -> None:
    with warnings.catch_warnings():
        if not warn:
            warnings.simplefilter("ignore")
        try:
            run()
        except Exception as exc:  # any failure of a generic checker becomes a CheckError
            raise CheckError(f"{name} failed: {type(exc).__name__}: {exc}") from exc


# -- vector envs ----------------------------------------------------------------------------
def check_vector_env(env: gym.vector.VectorEnv, *, seed: int = 0) -> None:
    """Batch shapes, values, SAME_STEP autoreset layout and determinism of a vector env.

    Non-text vector envs only get the reward checks (shape ``(num_envs,)``, finite).
    """
    if not is_text_env(env):
        env.reset(seed=seed)
        _check_batch_rewards(env.step(fixed_action(env.action_space, seed))[1], env.num_envs)
        return
    check_autoreset_mode(env)
    single = check_observation_space(env.single_observation_space)
    check_action_space(env.single_action_space)
    batched: Any = env.observation_space
    expected = (env.num_envs, *(single["input_ids"].shape or ()))
    for key in OBS_KEYS:
        shape = batched[key].shape
        if shape != expected:
            raise CheckError(f"the vector observation_space[{key!r}] has shape {shape}, expected "
                             f"{expected}; use gymnasium.vector.utils.batch_space(single, n).")
    obs, _ = env.reset(seed=seed)
    _check_batch_obs(env, obs, "reset()")
    actions = fixed_action(env.action_space, seed)
    for _ in range(MAX_EPISODE_STEPS):  # token envs: step until some sub-env finished
        step = env.step(actions)
        check_vector_step(env, obs, step)
        if np.any(step[2]) or np.any(step[3]):
            break
    check_vector_determinism(env, seed, actions)


def check_autoreset_mode(env: gym.vector.VectorEnv) -> None:
    """The env declares ``AutoresetMode.SAME_STEP`` (what the SB3 adapter expects)."""
    mode = env.metadata.get("autoreset_mode")
    if mode != gym.vector.AutoresetMode.SAME_STEP:
        raise CheckError(
            f"the vector env's metadata['autoreset_mode'] is {mode!r}; one-step text episodes "
            f"reset in the same step: set metadata['autoreset_mode'] = AutoresetMode.SAME_STEP "
            f"and return finished episodes under info['final_obs'] / info['final_info']."
        )


def _check_batch_obs(env: gym.vector.VectorEnv, obs: Any, where: str) -> None:
    if not isinstance(obs, Mapping) or any(k not in obs for k in OBS_KEYS):
        raise CheckError(f"{where} returned {type(obs).__name__}; return a dict of (num_envs, "
                         f"max_prompt_tokens) int64 arrays with keys {OBS_KEYS}.")
    for key in OBS_KEYS:
        if np.ndim(obs[key]) != 2 or np.shape(obs[key])[0] != env.num_envs:
            raise CheckError(f"{where} returned {key} of shape {np.shape(obs[key])}; expected "
                             f"({env.num_envs}, max_prompt_tokens): one row per sub-env.")
    pad_id = _pad_id(env)
    for i in range(env.num_envs):
        row = {k: obs[k][i] for k in OBS_KEYS}
        check_observation(row, env.single_observation_space, pad_id, f"{where} (sub-env {i})")


def check_vector_step(env: gym.vector.VectorEnv, reset_obs: Any, step: tuple) -> None:
    """Shapes of a vector step and the SAME_STEP final observations and infos."""
    obs, rewards, terminated, truncated, info = step
    n = env.num_envs
    _check_batch_obs(env, obs, "step()")
    for name, arr in (("terminated", terminated), ("truncated", truncated)):
        _check_batch_shape(name, arr, n)
    _check_batch_rewards(rewards, n)
    if isinstance(env.single_action_space, spaces.MultiDiscrete):
        check_bandit_end(terminated, truncated)
    done = np.asarray(terminated) | np.asarray(truncated)
    check_final_obs(env, info, done, reset_obs)
    check_final_info(info, done, _expects_gold(env))


def _check_batch_shape(name: str, arr: Any, n: int) -> None:
    if np.shape(arr) != (n,):
        raise CheckError(f"step() returned {name} of shape {np.shape(arr)}; expected ({n},), "
                         f"one entry per sub-env.")


def _check_batch_rewards(rewards: Any, n: int) -> None:
    _check_batch_shape("rewards", rewards, n)
    check_reward(rewards, "step()")


def check_final_obs(env: gym.vector.VectorEnv, info: Mapping, done: np.ndarray,
                    reset_obs: Any) -> None:
    """``info["final_obs"]`` holds each finished episode's last observation.

    A bandit's final observation is the prompt it answered; a token env's is that prompt
    followed by the response, so only the bandit's is compared with ``reset_obs``.
    """
    if not done.any():
        return  # gymnasium adds final_obs only in steps where a sub-env finished
    if "final_obs" not in info or "_final_obs" not in info:
        raise CheckError("step() info lacks 'final_obs'/'_final_obs' for finished sub-envs; "
                         "with SAME_STEP autoreset put each finished episode's last observation "
                         "there (gymnasium's VectorEnv._add_info does the layout).")
    if not np.array_equal(np.asarray(info["_final_obs"], dtype=bool), done):
        raise CheckError(f"info['_final_obs'] is {info['_final_obs']} but the finished sub-envs "
                         f"are {done}; the mask must mark exactly the finished ones.")
    pad_id = _pad_id(env)
    for i in np.flatnonzero(done):
        final = info["final_obs"][i]
        check_observation(final, env.single_observation_space, pad_id, f"final_obs[{i}]")
        bandit = isinstance(env.single_action_space, spaces.MultiDiscrete)
        if bandit and not np.array_equal(final["input_ids"], reset_obs["input_ids"][i]):
            raise CheckError(f"info['final_obs'][{i}] is not the prompt the sub-env was "
                             f"answering; store the finished episode's observation there, not "
                             f"the next prompt's.")


def check_final_info(info: Mapping, done: np.ndarray, expects_gold: bool | None) -> None:
    """``info["final_info"]`` holds each finished episode's info (prompt, response, score…)."""
    if not done.any():
        return
    final = info.get("final_info")
    if not isinstance(final, Mapping) or "_final_info" not in info:
        raise CheckError("step() info lacks a 'final_info' dict (and its '_final_info' mask); "
                         "with SAME_STEP autoreset the finished episodes' infos go there.")
    if not np.array_equal(np.asarray(info["_final_info"], dtype=bool), done):
        raise CheckError(f"info['_final_info'] is {info['_final_info']} but the finished "
                         f"sub-envs are {done}.")
    for i in np.flatnonzero(done):
        episode = {k: v[i] for k, v in final.items()
                   if not k.startswith("_") and final.get(f"_{k}", done)[i]}
        check_step_info(episode, expects_gold, f"final_info (sub-env {i})")


def check_vector_determinism(env: gym.vector.VectorEnv, seed: int, actions: Any) -> None:
    """reset(seed) twice gives the same batch; the same actions then the same rewards."""
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=seed)
        obs = copy.deepcopy(obs)
        runs.append((obs, np.asarray(env.step(actions)[1]).copy()))
    if not _obs_equal(runs[0][0], runs[1][0]):
        raise CheckError(f"reset(seed={seed}) twice gave different batches; seed sub-env i "
                         f"with seed + i and draw prompts only from its generator.")
    if not np.array_equal(runs[0][1], runs[1][1]):
        raise CheckError(f"the same actions after reset(seed={seed}) gave rewards "
                         f"{runs[0][1].tolist()} and {runs[1][1].tolist()}; step() must be "
                         f"deterministic given the seed.")


# -- helpers --------------------------------------------------------------------------------
def fixed_action(space: spaces.Space, seed: int) -> Any:
    """A reproducible sample of ``space`` that leaves the env's own action space unseeded."""
    local = copy.deepcopy(space)
    local.seed(seed)
    return local.sample()


def _core(env: Any) -> TextBanditCore | None:
    """The core of one of our text envs; ``None`` for any other env."""
    try:
        return text_core(env)
    except ConfigError:
        return None


def _pad_id(env: Any) -> int | None:
    """The tokenizer's pad id for our envs; ``None`` (padding must just be uniform) otherwise."""
    core = _core(env)
    pad = None if core is None else core.tokenizer.pad_token_id
    return None if pad is None else int(pad)


def _expects_gold(env: Any) -> bool | None:
    """Whether ``info`` must carry ``gold_score``; ``None`` when the env does not say."""
    core = _core(env)
    return None if core is None else core.gold is not None


__all__ = [
    "check_action_space",
    "check_determinism",
    "check_mask",
    "check_observation",
    "check_observation_space",
    "check_rlhf_env",
    "check_step_info",
    "check_vector_env",
    "is_text_env",
]
