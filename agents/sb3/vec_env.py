"""An SB3 ``VecEnv`` over a batched Gymnasium ``VectorEnv`` with same-step autoreset.

Stable-Baselines3 algorithms talk to a ``stable_baselines3.common.vec_env.VecEnv``:
``step`` returns ``(obs, rewards, dones, infos)`` with one info dict per sub-env, the last
observation of a finished episode under ``info["terminal_observation"]``. Our batched text
env (:class:`~rlhf_env.text.vector.TextBanditVectorEnv`) is a Gymnasium ``VectorEnv`` with
``AutoresetMode.SAME_STEP``: it already returns the next episode's observation and puts the
finished episodes under ``info["final_obs"]`` / ``info["final_info"]``. :class:`RLHFVecEnv`
translates between the two without stepping the sub-envs one by one, so every step is still
one reward-model call for the whole batch.

It is its own ``Monitor``: finished episodes carry ``info["episode"] = {"r", "l", "t"}``
(return, length, seconds since the adapter was made), exactly what SB3's ``Monitor`` and
``VecMonitor`` add, and ``env_is_wrapped(Monitor)`` says so. ``rollout/ep_rew_mean``,
``evaluate_policy`` and ``EvalCallback`` therefore count whole episodes with no wrapper and
no "not wrapped with a Monitor" warning. (A ``VecMonitor`` on top still works; SB3 warns that
it overwrites the same statistics.)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn


class RLHFVecEnv(VecEnv):
    """SB3 view of a Gymnasium ``VectorEnv`` that autoresets in the same step.

    Args:
        venv: the batched env, e.g. ``gym.make_vec("RLHF-Text-v0", num_envs=8)``. Its
            ``metadata["autoreset_mode"]`` must be ``AutoresetMode.SAME_STEP``.
        episode_stats: add ``info["episode"] = {"r", "l", "t"}`` to finished episodes, as SB3's
            ``Monitor`` does (the default), so ``rollout/ep_rew_mean`` is logged and
            ``evaluate_policy`` reads returns without another wrapper. ``False`` leaves it to
            a ``VecMonitor`` you add.

    The sub-envs share one batched env, so ``get_attr``/``set_attr``/``env_method`` act on that
    env: ``get_attr`` returns its attribute once per requested index, ``set_attr`` sets it for
    all sub-envs, ``env_method`` calls the method once and returns its result per index.
    ``seed(s)`` follows SB3: sub-env ``i`` gets ``s + i`` at the next ``reset()``.

    Each finished episode's info holds the env's episode info (for the text env: ``prompt``,
    ``response``, ``score``, ``kl_term``, ``gold_score`` when the task has one, …), plus
    ``terminal_observation`` and ``TimeLimit.truncated``.
    """

    def __init__(self, venv: gym.vector.VectorEnv, *, episode_stats: bool = True) -> None:
        mode = venv.metadata.get("autoreset_mode")
        if mode != gym.vector.AutoresetMode.SAME_STEP:
            raise ValueError(
                f"RLHFVecEnv needs a VectorEnv with AutoresetMode.SAME_STEP, got {mode!r}; build "
                f"it with gym.make_vec(..., vector_kwargs={{'autoreset_mode': "
                f"AutoresetMode.SAME_STEP}}) or use the env's vector_entry_point."
            )
        self.venv = venv
        self.episode_stats = episode_stats
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._returns = np.zeros(self.num_envs, dtype=np.float64)
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)
        self._start = time.perf_counter()

    # -- core API ---------------------------------------------------------------------------
    def reset(self) -> dict[str, np.ndarray]:
        """Reset every sub-env, using the seeds/options set by ``seed``/``set_options``."""
        # Gymnasium types `seed` as an int, but vector envs take one seed per sub-env too.
        seeds: Any = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, info = self.venv.reset(seed=seeds, options=self._shared_options())
        self.reset_infos = [unbatch_info(info, i) for i in range(self.num_envs)]
        self._reset_seeds()
        self._reset_options()
        self._returns[:] = 0
        self._lengths[:] = 0
        return _as_numpy(obs)

    def _shared_options(self) -> dict[str, Any] | None:
        first = self._options[0]
        if any(o != first for o in self._options):
            raise ValueError("the sub-envs share one batched env, which takes one options dict; "
                             "pass the same options to every sub-env (set_options(dict)).")
        return first or None

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the actions; the batched env steps them all in ``step_wait``."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """Step the batched env once and convert its result to SB3's layout."""
        if self._actions is None:
            raise RuntimeError("call step_async(actions) before step_wait().")
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        self._actions = None
        rewards = np.asarray(rewards, dtype=np.float32)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        dones = terminated | truncated
        self._returns += rewards
        self._lengths += 1
        infos = [self._sub_info(info, i, bool(dones[i]), bool(truncated[i] and not terminated[i]))
                 for i in range(self.num_envs)]
        return _as_numpy(obs), rewards, dones, infos

    def _sub_info(self, info: Mapping[str, Any], i: int, done: bool, cut: bool) -> dict[str, Any]:
        """SB3 info of sub-env ``i``: the finished episode's info, or the ongoing step's."""
        if not done:
            return unbatch_info(info, i)
        self.reset_infos[i] = unbatch_info(info, i, skip=("final_obs", "final_info"))
        episode = unbatch_info(info["final_info"], i) if "final_info" in info else {}
        episode["terminal_observation"] = info["final_obs"][i]
        episode["TimeLimit.truncated"] = cut
        if self.episode_stats:
            episode["episode"] = {"r": float(self._returns[i]), "l": int(self._lengths[i]),
                                  "t": round(time.perf_counter() - self._start, 6)}
        self._returns[i] = 0
        self._lengths[i] = 0
        return episode

    def close(self) -> None:
        """Close the batched env."""
        self.venv.close()

    # -- attributes and methods (shared by all sub-envs) ------------------------------------
    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The batched env's attribute, once per requested sub-env."""
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the batched env (so of every sub-env: they cannot differ)."""
        if sorted(self._get_indices(indices)) != list(range(self.num_envs)):
            raise ValueError(f"the sub-envs share one batched env; set {attr_name!r} for all "
                             f"of them (indices=None).")
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        """Call a method of the batched env once; its result is repeated per requested index."""
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper],
                       indices: VecEnvIndices = None) -> list[bool]:
        """Whether the batched env's wrapper chain contains ``wrapper_class``; SB3's
        ``Monitor`` counts as present when this adapter records its episode statistics."""
        wrapped, env = self.episode_stats and wrapper_class is Monitor, self.venv
        while isinstance(env, gym.vector.VectorWrapper):
            wrapped = wrapped or isinstance(env, wrapper_class)
            env = env.env
        return [wrapped for _ in self._get_indices(indices)]

    # -- rendering --------------------------------------------------------------------------
    def render(self, mode: str | None = None) -> Any:
        """``"ansi"``: the batched env's text render joined into one string; else SB3's."""
        if self.render_mode == "ansi" and mode in (None, "ansi"):
            frames = self.venv.render()
            return None if frames is None else "".join(str(f) for f in frames)
        return super().render(mode)

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Text envs have no images."""
        return [None] * self.num_envs


def unbatch_info(info: Mapping[str, Any], i: int, skip: Sequence[str] = ()) -> dict[str, Any]:
    """Sub-env ``i``'s entries of a Gymnasium vector ``info`` dict (``_key`` masks honoured).

    Nested dicts are unbatched recursively; numpy scalars become Python numbers.
    """
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key.startswith("_") or key in skip:
            continue
        mask = info.get(f"_{key}")
        if mask is not None and not mask[i]:
            continue
        out[key] = unbatch_info(value, i) if isinstance(value, Mapping) else _item(value[i])
    return out


def _item(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _as_numpy(obs: Any) -> Any:
    if isinstance(obs, Mapping):
        return {k: np.asarray(v) for k, v in obs.items()}
    return np.asarray(obs)
