"""Demonstrations for control tasks: scripted experts, saved trajectories, behaviour cloning.

Demonstrations enter the preference loop two ways (both off by default, see
:class:`~rlhf_env.control.loop.LoopConfig`'s ``demo_pairs`` and ``bc_epochs``):

- as **preferred examples**: segments cut from the demonstrations are compared against the
  agent's own segments as ``expert ≻ agent``
  (:func:`~rlhf_env.control.labeling.demonstration_comparisons`), so the reward model
  starts from "behave like this";
- as a **behaviour-cloning warm start**: :func:`behaviour_clone` fits an on-policy SB3
  agent's actor (PPO, A2C: an ``ActorCriticPolicy``) to the demonstrated actions by
  maximising their log-probability, so the first rollouts already look like the expert's.

A demonstration is a list of :class:`~rlhf_env.control.segments.Trajectory`, recorded from
any policy with :func:`collect_demonstrations` (a scripted expert, an SB3 model, a person
driving the env through a function ``obs -> action``) and kept on disk with
:func:`save_demonstrations` / :func:`load_demonstrations` (one ``.npz`` file).

Three reference experts ship, as scale references and for tests: :func:`cartpole_expert`
(a linear balancer; 200 of 200 on ``RLHF-CartPole-v0``, random: 21),
:func:`pendulum_expert` (energy-shaping swing-up, PD control near the top; about −175 per
200 steps on ``RLHF-Pendulum-v0``, random: about −1280) and
:func:`~rlhf_env.control.highway.highway_expert` (rules over the observed cars: keep right,
change lane or brake before a slower car; 33.2 of 40 on ``RLHF-Highway-v0`` with no crash
in 20 episodes, random: 9.4).

    >>> import numpy as np
    >>> demos = collect_demonstrations("RLHF-CartPole-v0", episodes=1, horizon=50)
    >>> len(demos[0]), float(demos[0].rewards.sum())
    (50, 50.0)
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rlhf_env.control.envs import CONTROL_TASKS, make_rlhf_env
from rlhf_env.control.highway import HIGHWAY_BASE_ID, highway_expert
from rlhf_env.control.segments import Trajectory, as_policy, collect_trajectories
from rlhf_env.errors import ConfigError
from rlhf_env.files import read_npz, write_bytes
from rlhf_env.numerics import check_loss
from rlhf_env.validation import check_int


def cartpole_expert(obs: np.ndarray) -> int:
    """Push towards the side the pole falls to, with a little cart-centring.

    ``obs = [x, x_dot, theta, theta_dot]``; returns ``1`` (push right) or ``0`` (left).
    """
    x, x_dot, theta, theta_dot = (float(v) for v in obs[:4])
    return int(theta + 0.5 * theta_dot + 0.05 * x + 0.1 * x_dot > 0.0)


def pendulum_expert(obs: np.ndarray) -> np.ndarray:
    """Swing up by energy shaping, then hold the top with a PD controller.

    ``obs = [cos θ, sin θ, θ̇]`` with ``θ = 0`` upright. Pendulum-v1 moves as
    ``θ̈ = 15 sin θ + 3u``, so ``H = θ̇²/2 + 15 cos θ`` is conserved without torque and is 15
    at rest on top. Far from the top the torque pumps energy towards 15 along the motion;
    within ``cos θ > 0.9`` a PD law ``u = −(20 θ + 4 θ̇)`` balances. Torque is clipped to
    ``[−2, 2]``. Returns an action of shape ``(1,)`` float32.
    """
    c, s, w = (float(v) for v in obs[:3])
    if c > 0.9:
        u = -(20.0 * np.arctan2(s, c) + 4.0 * w)
    else:
        energy = 0.5 * w * w + 15.0 * c
        u = (15.0 - energy) * (1.0 if w >= 0.0 else -1.0)
    return np.array([np.clip(u, -2.0, 2.0)], dtype=np.float32)


SCRIPTED_EXPERTS: dict[str, Callable[[np.ndarray], Any]] = {
    "CartPole-v1": cartpole_expert,
    "Pendulum-v1": pendulum_expert,
    HIGHWAY_BASE_ID: highway_expert,
}
"""Reference experts by underlying Gymnasium id (control ids resolve to theirs)."""


def scripted_expert(env_id: str) -> Callable[[np.ndarray], Any]:
    """The reference expert of ``env_id`` (a control id or its underlying Gymnasium id)."""
    task = CONTROL_TASKS.get(env_id)
    base = task.base_id if task is not None else env_id
    try:
        return SCRIPTED_EXPERTS[base]
    except KeyError:
        known = sorted({*SCRIPTED_EXPERTS, *(k for k, t in CONTROL_TASKS.items()
                                             if t.base_id in SCRIPTED_EXPERTS)})
        raise ConfigError(
            f"no scripted expert for {env_id!r}; ones exist for {', '.join(known)}. Pass your "
            "own policy (an SB3 model or a function obs -> action) as expert=."
        ) from None


def collect_demonstrations(env: str | gym.Env, expert: Any = None, *, episodes: int = 10,
                           horizon: int | None = None, seed: int = 0) -> list[Trajectory]:
    """Record ``episodes`` whole episodes of ``expert`` in the fixed-horizon form of ``env``.

    Args:
        env: an env id (made with :func:`~rlhf_env.control.envs.make_rlhf_env`) or an env.
        expert: an SB3 model, a function ``obs -> action``, or ``None`` for the id's
            :func:`scripted_expert`.
        episodes: how many episodes to record.
        horizon: episode length when ``env`` is an id (``None``: the id's default).
        seed: seed of the first reset (the later episodes follow from it).
    """
    if episodes < 1:
        raise ConfigError(f"collect_demonstrations: episodes must be >= 1, got {episodes}.")
    if isinstance(env, str):
        if expert is None:
            expert = scripted_expert(env)
        env = make_rlhf_env(env, horizon=horizon)
    elif expert is None:
        raise ConfigError("collect_demonstrations: pass expert= when env is an env object.")
    try:
        horizon = int(env.get_wrapper_attr("horizon"))
    except AttributeError:
        raise ConfigError("collect_demonstrations needs a fixed-horizon env (every episode "
                          "`horizon` steps long); make it with make_rlhf_env(...).") from None
    return collect_trajectories(env, as_policy(expert, env), episodes * horizon, seed=seed)


def save_demonstrations(trajectories: Sequence[Trajectory], path: str | Path) -> Path:
    """Write trajectories (frames left out) to one ``.npz`` file; returns its path."""
    if not trajectories:
        raise ConfigError("no demonstrations to save.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {"count": np.array(len(trajectories))}
    for i, t in enumerate(trajectories):
        for name in ("obs", "actions", "next_obs", "rewards"):
            arrays[f"{i}_{name}"] = np.asarray(getattr(t, name))
    path = path if path.suffix == ".npz" else path.with_name(path.name + ".npz")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes(path, buffer.getvalue())  # atomic: a killed save keeps the old file
    return path


def load_demonstrations(path: str | Path) -> list[Trajectory]:
    """Read trajectories written by :func:`save_demonstrations`."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"no demonstrations file {path}; write one with "
                          "save_demonstrations(collect_demonstrations(...), path).")
    data = read_npz(path, "demonstrations file", ["count"])
    try:
        count = check_int("count", data["count"].item() if data["count"].size == 1 else -1,
                          minimum=0)
    except ConfigError:
        raise ConfigError(f"{path} is not a demonstrations file (bad 'count' entry).") from None
    names = [f"{i}_{n}" for i in range(count) for n in ("obs", "actions", "next_obs", "rewards")]
    data = read_npz(path, "demonstrations file", names)
    return [Trajectory(data[f"{i}_obs"], data[f"{i}_actions"], data[f"{i}_next_obs"],
                       data[f"{i}_rewards"]) for i in range(count)]


def demonstration_arrays(trajectories: Sequence[Trajectory], observation_space: gym.Space,
                         action_space: gym.Space) -> tuple[np.ndarray, np.ndarray]:
    """All demonstrated ``(obs (N, *O) float32, actions (N, *A))``, checked against the spaces.

    Raises :class:`~rlhf_env.errors.ConfigError` saying which shape or value does not fit.
    """
    if not trajectories or not any(len(t) for t in trajectories):
        raise ConfigError("no demonstrations: record some with collect_demonstrations(...).")
    obs = np.concatenate([np.asarray(t.obs, dtype=np.float32) for t in trajectories])
    actions = np.concatenate([np.asarray(t.actions) for t in trajectories])
    o_shape = observation_space.shape
    if obs.shape[1:] != o_shape:
        raise ConfigError(
            f"demonstrations have observations of shape {obs.shape[1:]} but the agent's "
            f"observation space is {observation_space}: record them on the same task.")
    return obs, _check_actions(actions, action_space)


def _check_actions(actions: np.ndarray, space: gym.Space) -> np.ndarray:
    if isinstance(space, gym.spaces.Discrete):
        flat = actions.reshape(len(actions), -1)
        if flat.shape[1] != 1 or not np.all(np.mod(flat, 1) == 0):
            raise ConfigError(
                f"demonstrated actions of shape {actions.shape[1:]} (dtype {actions.dtype}) do "
                f"not fit the agent's {space}: a Discrete space needs one integer per step.")
        acts = flat[:, 0].astype(np.int64)
        bad = (acts < space.start) | (acts >= space.start + space.n)
        if bad.any():
            raise ConfigError(f"demonstrated action {acts[bad][0]} is outside the agent's "
                              f"{space}.")
        return acts - int(space.start)
    if isinstance(space, gym.spaces.Box):
        if actions.shape[1:] != space.shape:
            raise ConfigError(
                f"demonstrated actions have shape {actions.shape[1:]} but the agent's action "
                f"space is {space}: record them on the same task.")
        acts = actions.astype(np.float32)
        if not np.isfinite(acts).all():
            raise ConfigError("demonstrated actions contain NaN or inf.")
        return acts
    raise ConfigError(f"behaviour cloning supports Discrete and Box action spaces, not {space}.")


def _actor_critic(agent: Any) -> Any:
    from stable_baselines3.common.policies import ActorCriticPolicy

    policy = getattr(agent, "policy", agent)
    if not isinstance(policy, ActorCriticPolicy):
        raise ConfigError(
            f"behaviour cloning needs an on-policy SB3 agent (PPO, A2C: an ActorCriticPolicy); "
            f"got a {type(policy).__name__}. Use PPO or A2C, or set bc_epochs=0.")
    return policy


def check_clonable(agent: Any) -> None:
    """Raise :class:`~rlhf_env.errors.ConfigError` unless :func:`behaviour_clone` can fit
    ``agent`` (an SB3 model or policy with an ``ActorCriticPolicy``)."""
    _actor_critic(agent)


def behaviour_clone(agent: Any, trajectories: Sequence[Trajectory], *, epochs: int = 20,
                    batch_size: int = 64, learning_rate: float = 3e-3,
                    ent_weight: float = 0.0, seed: int = 0) -> list[float]:
    """Fit an on-policy SB3 agent's actor to demonstrated actions; returns the loss per epoch.

    The loss is the mean negative log-likelihood ``−log π(a_expert | s)`` over the
    demonstrated transitions (minus ``ent_weight`` times the policy entropy), through
    ``policy.evaluate_actions``, so Discrete (categorical) and Box (Gaussian) actions take
    the same path. A fresh Adam optimiser is used, so the agent's own optimiser state is
    left as it was. Observations are fed as recorded: normalise them first if the agent
    trains behind ``VecNormalize``.

    Args:
        agent: a PPO/A2C model (or its ``ActorCriticPolicy``); trained in place.
        trajectories: the demonstrations; their spaces must match the agent's.
        epochs: passes over all demonstrated transitions.
        batch_size: transitions per gradient step.
        learning_rate: Adam step size.
        ent_weight: weight of the entropy bonus (0: pure likelihood).
        seed: seed of the minibatch order.

    Returns:
        The mean negative log-likelihood of each epoch (``epochs`` floats, nats per action).
    """
    import torch

    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"behaviour_clone: epochs and batch_size must be >= 1, got "
                          f"{epochs} and {batch_size}.")
    policy = _actor_critic(agent)
    obs_np, act_np = demonstration_arrays(trajectories, policy.observation_space,
                                          policy.action_space)
    obs = torch.as_tensor(obs_np, device=policy.device)
    actions = torch.as_tensor(act_np, device=policy.device)
    optimiser = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    policy.set_training_mode(True)
    losses = []
    try:
        for _ in range(epochs):
            total = 0.0
            for idx in torch.randperm(len(obs), generator=generator).split(batch_size):
                _, log_prob, entropy = policy.evaluate_actions(obs[idx], actions[idx])
                nll = -log_prob.mean()
                loss = nll if entropy is None or not ent_weight else \
                    nll - ent_weight * entropy.mean()
                check_loss(loss, "behaviour cloning")
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(nll.detach()) * len(idx)
            losses.append(total / len(obs))
    finally:
        policy.set_training_mode(False)
    return losses


def policy_return(env: gym.Env, policy: Any, episodes: int = 5, seed: int = 0) -> float:
    """Mean return of ``policy`` over ``episodes`` seeded episodes (SB3 models act
    deterministically; functions ``obs -> action`` as they are)."""
    predict = getattr(policy, "predict", None)
    act = (lambda o: predict(o, deterministic=True)[0]) if callable(predict) else \
        as_policy(policy, env)
    total = 0.0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
    return total / episodes


__all__ = ["SCRIPTED_EXPERTS", "behaviour_clone", "cartpole_expert", "check_clonable",
           "collect_demonstrations", "demonstration_arrays", "load_demonstrations",
           "pendulum_expert", "policy_return", "save_demonstrations", "scripted_expert"]
