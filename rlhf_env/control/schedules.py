"""Run-long training settings for SB3 agents that learn in chunks.

The preference loop trains its agent one round at a time (``agent.learn(n,
reset_num_timesteps=False)`` per round), and so does the benchmark's true-reward arm (one
call per evaluation interval). SB3 measures a schedule's progress within each ``learn``
call, so ``learning_rate=lambda progress: ...`` restarts at every round. The two
mechanisms here follow the whole run instead:

- :class:`RunSchedule` and :class:`RunLearningRate`: the learning rate as a function of the
  agent's env steps since the start of the run (``agent.num_timesteps``, which ``learn``
  keeps counting across calls and a loop checkpoint restores);
- :class:`LogStdFloor`: a lower bound on a Gaussian policy's ``log_std`` parameter (the
  diagonal Gaussian's, or gSDE's exploration matrix), enforced after every optimiser step,
  so exploration noise cannot shrink below it however long the run.

Why (issue 14): with rl-zoo's constant ``learning_rate=1e-3`` and gSDE, PPO on Pendulum's
learned reward reached the true-reward level half-way through 150k steps and then lost it
while gSDE's ``log_std`` kept falling (to −4…−4.9; −2.6 on the true reward); see
``benchmarks/results/control_pendulum_diagnosis.md`` for what was measured.

:func:`run_callbacks` builds both from two numbers, for any loop that calls ``learn`` itself::

    callbacks = run_callbacks(agent, horizon, lr_final_fraction=0.0, log_std_floor=None)
    for n in chunks:
        agent.learn(n, reset_num_timesteps=False, callback=callbacks)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from rlhf_env.errors import ConfigError
from rlhf_env.validation import check_float, check_int


@dataclass(frozen=True)
class RunSchedule:
    """A value that moves linearly from ``start`` to ``end`` over a run's first ``horizon``
    env steps and stays at ``end`` afterwards.

    >>> RunSchedule(1e-3, 0.0, 100).value(25)
    0.00075
    """

    start: float
    """Value at env step 0."""
    end: float
    """Value from env step ``horizon`` on."""
    horizon: int
    """Env steps over which the value moves (the run's, not one ``learn`` call's)."""

    def __post_init__(self) -> None:
        check_float("RunSchedule.start", self.start)
        check_float("RunSchedule.end", self.end)
        check_int("RunSchedule.horizon", self.horizon, minimum=1)

    def value(self, timesteps: int) -> float:
        """The value after ``timesteps`` env steps of the run."""
        done = min(max(timesteps / self.horizon, 0.0), 1.0)
        return self.start + done * (self.end - self.start)


class RunLearningRate(BaseCallback):
    """Set an SB3 agent's learning rate from a :class:`RunSchedule` of its env steps.

    Pass it as ``callback=`` to every ``learn`` call of the run. While a call runs it stands
    in for the agent's ``lr_schedule`` (so SB3's own update and its ``train/learning_rate``
    log use it); when the call ends the agent's own schedule is put back, so nothing of this
    callback is saved with the agent.
    """

    def __init__(self, schedule: RunSchedule) -> None:
        super().__init__()
        self.schedule = schedule
        self._own: Any = None

    def _on_training_start(self) -> None:
        self._own = self.model.lr_schedule
        self.model.lr_schedule = self._learning_rate

    def _learning_rate(self, _progress_remaining: float) -> float:
        """SB3 asks with the progress of the current call; the run's steps decide."""
        return self.schedule.value(self.model.num_timesteps)

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        if self._own is not None:
            self.model.lr_schedule = self._own
            self._own = None


def log_std_parameter(agent: Any) -> Any:
    """The ``log_std`` parameter of ``agent``'s policy (diagonal Gaussian or gSDE).

    Raises :class:`~rlhf_env.errors.ConfigError` when there is none: discrete actions, or a
    policy whose log-std is a layer's output (SAC without gSDE)."""
    import torch

    policy = getattr(agent, "policy", None)
    for owner in (policy, getattr(policy, "actor", None)):
        param = getattr(owner, "log_std", None)
        if isinstance(param, torch.nn.Parameter):
            return param
    raise ConfigError(
        f"log_std_floor needs a policy with a log_std parameter (a Gaussian or gSDE policy "
        f"over continuous actions, e.g. PPO or A2C on Pendulum); {type(agent).__name__} with "
        f"{type(policy).__name__} has none. Leave log_std_floor at None for this task.")


class LogStdFloor(BaseCallback):
    """Hold a Gaussian policy's ``log_std`` parameter at or above ``floor``.

    While a ``learn`` call runs, every optimiser step is followed by a clamp of the
    parameter (a post-step hook on the policy's optimiser, removed when the call ends), so
    the noise an update leaves behind never falls below ``exp(floor)``: the standard
    deviation itself for a diagonal Gaussian, each entry of the exploration matrix for gSDE
    (whose noise also scales with the policy's latent features). The gradient still moves
    the parameter freely above the floor.
    """

    def __init__(self, floor: float) -> None:
        super().__init__()
        self.floor = check_float("log_std_floor", floor)
        self._handle: Any = None

    def clamp(self) -> None:
        """Raise every entry of the policy's ``log_std`` below the floor to it."""
        import torch

        with torch.no_grad():
            log_std_parameter(self.model).clamp_(min=self.floor)

    def _on_training_start(self) -> None:
        self.clamp()
        policy: Any = self.model.policy
        optimizer = getattr(policy, "optimizer", None) or policy.actor.optimizer
        self._handle = optimizer.register_step_post_hook(lambda *_: self.clamp())

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self.clamp()


def rollout_aligned(steps: int, agent: Any) -> int:
    """The env steps ``agent.learn(steps)`` really takes: SB3 stops at the first whole
    rollout (on-policy: ``n_steps × n_envs``; off-policy: ``n_envs`` per step) at or past
    ``steps``, so a run of chunks ends a little after the sum of its chunks."""
    chunk = int(getattr(agent, "n_steps", 1)) * int(agent.n_envs)
    return math.ceil(steps / chunk) * chunk


def run_callbacks(agent: Any, horizon: int, *, lr_final_fraction: float | None = None,
                  log_std_floor: float | None = None) -> list[BaseCallback]:
    """The callbacks that give ``agent`` a run-long learning-rate decay and/or noise floor.

    Args:
        agent: an SB3 agent (its current learning rate, ``lr_schedule(1.0)``, is the start).
        horizon: the run's env steps (use :func:`rollout_aligned` per chunk, so the last
            chunk still learns).
        lr_final_fraction: the learning rate falls linearly to this share of its start over
            ``horizon`` (``None``: the agent's own learning rate is left alone).
        log_std_floor: the :class:`LogStdFloor` (``None``: none). Checked against the agent
            here, so a policy without a ``log_std`` parameter fails before training.
    """
    callbacks: list[BaseCallback] = []
    if lr_final_fraction is not None:
        fraction = check_float("lr_final_fraction", lr_final_fraction, minimum=0.0,
                               maximum=1.0)
        start = float(agent.lr_schedule(1.0))
        callbacks.append(RunLearningRate(RunSchedule(start, start * fraction, horizon)))
    if log_std_floor is not None:
        log_std_parameter(agent)
        callbacks.append(LogStdFloor(log_std_floor))
    return callbacks


__all__ = ["LogStdFloor", "RunLearningRate", "RunSchedule", "log_std_parameter",
           "rollout_aligned", "run_callbacks"]
