"""Trajectory reward models: score ``(observation, action, next observation)`` transitions.

The control counterpart of the text contract::

    score(obs, act, next_obs) -> np.ndarray  # float32, shape (n,)

``obs``/``next_obs`` are ``(n, *observation_shape)``, ``act`` is ``(n,)`` for ``Discrete``
spaces (one-hot encoded inside) or ``(n, *action_shape)`` for ``Box`` spaces. As for text,
``forward`` takes tensors and keeps gradients (training) while ``score`` is eval mode, no
grad, numpy in and out, and checks shapes and finiteness with errors naming the model.

=================================  =======================================================
:class:`TrajectoryRewardNet`       an MLP over (normalised obs, action, normalised next obs)
:class:`TrajectoryRewardEnsemble`  K nets; ``score`` is their mean, ``member_scores`` the
                                   ``(K, n)`` table used for uncertainty-based selection
:class:`RunningNorm`               running mean/variance observation normaliser (updated
                                   explicitly from collected data, frozen while training)
=================================  =======================================================

    >>> import gymnasium as gym, numpy as np
    >>> env = gym.make("CartPole-v1")
    >>> net = TrajectoryRewardNet(env.observation_space, env.action_space)
    >>> net.score(np.zeros((3, 4)), np.array([0, 1, 0]), np.zeros((3, 4))).shape
    (3,)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from rlhf_env.errors import ConfigError, RewardModelError
from rlhf_env.rewards.base import validate_scores
from rlhf_env.validation import check_fields


@dataclass(frozen=True)
class RewardNetConfig:
    """Settings of a :class:`TrajectoryRewardNet`."""

    hidden: tuple[int, ...] = (64, 64)
    """Widths of the hidden layers."""
    use_obs: bool = True
    """Feed the observation ``s`` to the net (off: ``r(s')`` or ``r(a, s')``)."""
    use_action: bool = True
    """Feed the action to the net."""
    use_next_obs: bool = True
    """Feed the next observation to the net."""
    normalize_obs: bool = True
    """Normalise observations with running statistics (see :class:`RunningNorm`)."""

    def __post_init__(self) -> None:
        check_fields(self)
        if not (self.use_obs or self.use_action or self.use_next_obs):
            raise ConfigError("RewardNetConfig: the net needs at least one input "
                              "(use_obs, use_action or use_next_obs).")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ConfigError(f"RewardNetConfig: hidden widths must be >= 1, got {self.hidden}.")


def _space_dims(observation_space: spaces.Space, action_space: spaces.Space) -> tuple[int, int]:
    if not isinstance(observation_space, spaces.Box):
        raise ConfigError(
            f"trajectory reward models need a Box observation space, got {observation_space}; "
            "flatten the observations first (gymnasium.wrappers.FlattenObservation)."
        )
    if isinstance(action_space, spaces.Discrete):
        return int(np.prod(observation_space.shape)), int(action_space.n)
    if isinstance(action_space, spaces.Box):
        return int(np.prod(observation_space.shape)), int(np.prod(action_space.shape))
    raise ConfigError(
        f"trajectory reward models support Discrete and Box action spaces, got {action_space}."
    )


class RunningNorm(nn.Module):
    """Running mean and variance of ``(n, dim)`` inputs; ``forward`` standardises (clip ±10)."""

    mean: Tensor
    var: Tensor
    count: Tensor

    def __init__(self, dim: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros(()))

    @torch.no_grad()
    def reset(self) -> None:
        """Forget the statistics (mean 0, variance 1, count 0)."""
        self.mean.zero_()
        self.var.fill_(1.0)
        self.count.zero_()

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        """Fold a batch ``(n, dim)`` into the statistics (parallel-variance formula)."""
        x = x.reshape(-1, self.mean.shape[0]).to(self.mean)
        n = float(x.shape[0])
        if n == 0:
            return
        b_mean, b_var = x.mean(0), x.var(0, unbiased=False)
        total = float(self.count) + n
        delta = b_mean - self.mean
        m2 = self.var * float(self.count) + b_var * n + delta.pow(2) * float(self.count) * n / total
        self.mean.add_(delta * n / total)
        self.var.copy_(m2 / total)
        self.count.fill_(total)

    def forward(self, x: Tensor) -> Tensor:
        return ((x - self.mean) / torch.sqrt(self.var + self.eps)).clamp(-10.0, 10.0)


class TrajectoryRewardNet(nn.Module):
    """An MLP reward ``r(s, a, s')`` for one observation/action space pair.

    Args:
        observation_space: a ``Box`` observation space.
        action_space: a ``Discrete`` or ``Box`` action space.
        config: layer widths, inputs and normalisation.
        name: shown in error messages.
        seed: seed of the initial weights (``None``: torch's global RNG).
    """

    out_shift: Tensor
    out_scale: Tensor

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 config: RewardNetConfig | None = None, *, name: str = "trajectory-mlp",
                 seed: int | None = None) -> None:
        super().__init__()
        self.config = config or RewardNetConfig()
        self.name = name
        self.observation_space, self.action_space = observation_space, action_space
        self.obs_dim, self.act_dim = _space_dims(observation_space, action_space)
        self.obs_shape = tuple(observation_space.shape or ())
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.norm = RunningNorm(self.obs_dim)
        self.mlp = self._build_mlp(seed)
        # affine output normalisation (set after training so rewards have unit scale)
        self.register_buffer("out_shift", torch.zeros(()))
        self.register_buffer("out_scale", torch.ones(()))

    def _build_mlp(self, seed: int | None) -> nn.Sequential:
        cfg = self.config
        width = (self.obs_dim * (int(cfg.use_obs) + int(cfg.use_next_obs))
                 + (self.act_dim if cfg.use_action else 0))
        layers: list[nn.Module] = []
        gen_state = torch.random.get_rng_state()
        if seed is not None:
            torch.manual_seed(seed)
        for h in cfg.hidden:
            layers += [nn.Linear(width, int(h)), nn.LeakyReLU()]
            width = int(h)
        layers.append(nn.Linear(width, 1))
        if seed is not None:
            torch.random.set_rng_state(gen_state)
        return nn.Sequential(*layers)

    # -- tensors ---------------------------------------------------------------------------
    def features(self, obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
        """The MLP input ``(n, d)`` of a batch of transitions."""
        n = obs.shape[0]
        parts = [self._obs(obs.reshape(n, -1))] if self.config.use_obs else []
        if self.config.use_action:
            if self.discrete:
                parts.append(nn.functional.one_hot(act.reshape(n).long(), self.act_dim).float())
            else:
                parts.append(act.reshape(n, -1).float())
        if self.config.use_next_obs:
            parts.append(self._obs(next_obs.reshape(n, -1)))
        return torch.cat(parts, dim=1)

    def _obs(self, x: Tensor) -> Tensor:
        x = x.float()
        return self.norm(x) if self.config.normalize_obs else x

    def forward(self, obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
        """Rewards ``(n,)`` with gradients (no output normalisation: training sees raw)."""
        return self.mlp(self.features(obs, act, next_obs)).reshape(-1)

    def normalized(self, raw: Tensor) -> Tensor:
        """Apply the output normalisation set by :meth:`set_output_normalization`."""
        return (raw - self.out_shift) / self.out_scale

    # -- numpy -----------------------------------------------------------------------------
    @torch.no_grad()
    def score(self, obs: Any, act: Any, next_obs: Any) -> np.ndarray:
        """Eval-mode, no-grad rewards ``float32 (n,)`` of a batch of transitions."""
        o, a, o2 = check_transitions(self, obs, act, next_obs)
        was = self.training
        self.eval()
        try:
            out = self.normalized(self.forward(o, a, o2))
        finally:
            self.train(was)
        return validate_scores(out, o.shape[0], self)

    @torch.no_grad()
    def update_normalization(self, obs: Any) -> None:
        """Fold observations ``(n, *obs_shape)`` into the running statistics."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32)).reshape(-1, self.obs_dim)
        self.norm.update(x)

    @torch.no_grad()
    def set_output_normalization(self, obs: Any, act: Any, next_obs: Any) -> None:
        """Centre and scale rewards to zero mean, unit std over the given transitions."""
        self.out_shift.zero_()
        self.out_scale.fill_(1.0)
        raw = self.score(obs, act, next_obs).astype(np.float64)
        self.out_shift.fill_(float(raw.mean()))
        self.out_scale.fill_(float(max(raw.std(), 1e-6)))

    def extra_repr(self) -> str:
        return f"name={self.name!r}, obs_dim={self.obs_dim}, act_dim={self.act_dim}"


def check_transitions(model: Any, obs: Any, act: Any, next_obs: Any
                      ) -> tuple[Tensor, Tensor, Tensor]:
    """Validate a transition batch for ``model`` and return it as tensors."""
    who = getattr(model, "name", type(model).__name__)
    o = np.asarray(obs, dtype=np.float32)
    o2 = np.asarray(next_obs, dtype=np.float32)
    a = np.asarray(act)
    n = o.shape[0] if o.ndim else 0
    for label, x in (("observations", o), ("next observations", o2)):
        if x.ndim < 1 or x.size != n * model.obs_dim or x.shape[0] != n:
            raise RewardModelError(
                f"reward model {who!r} expects {label} of shape (n, {model.obs_dim}) (the "
                f"observation space it was built for), got shape {x.shape}. Build the model "
                "from this env's observation_space."
            )
    want = n if model.discrete else n * model.act_dim
    if a.size != want or (a.ndim and a.shape[0] != n):
        shape = f"({n},)" if model.discrete else f"({n}, {model.act_dim})"
        raise RewardModelError(
            f"reward model {who!r} expects actions of shape {shape}, got shape {a.shape}."
        )
    checks: tuple[tuple[str, np.ndarray], ...] = (
        ("observations", o), ("actions", a.astype(np.float64)), ("next observations", o2))
    for label, x in checks:
        bad = ~np.isfinite(x.reshape(n, -1)).all(axis=1) if n else np.zeros(0, bool)
        if bad.any():
            raise RewardModelError(
                f"reward model {who!r} got NaN or inf in {label} of {int(bad.sum())} of {n} "
                f"transitions (rows {np.flatnonzero(bad)[:8].tolist()}); the env produced "
                "non-finite values: fix the env or clip them before scoring."
            )
    return torch.from_numpy(o), torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(o2)


class TrajectoryRewardEnsemble(nn.Module):
    """K trajectory reward nets; ``score`` is the mean of the members' normalised rewards."""

    def __init__(self, members: Sequence[TrajectoryRewardNet], name: str = "trajectory-ensemble"
                 ) -> None:
        super().__init__()
        if len(members) < 1:
            raise ConfigError("TrajectoryRewardEnsemble needs at least one member.")
        self.members = nn.ModuleList(members)
        self.name = name
        first = members[0]
        self.obs_dim, self.act_dim, self.discrete = first.obs_dim, first.act_dim, first.discrete

    @classmethod
    def build(cls, observation_space: spaces.Space, action_space: spaces.Space, k: int = 3,
              config: RewardNetConfig | None = None, seed: int = 0) -> TrajectoryRewardEnsemble:
        """``k`` members with different initial weights."""
        return cls([TrajectoryRewardNet(observation_space, action_space, config,
                                        name=f"member-{i}", seed=seed * 1000 + i)
                    for i in range(k)])

    @property
    def nets(self) -> list[TrajectoryRewardNet]:
        """The members, typed."""
        return [cast(TrajectoryRewardNet, m) for m in self.members]

    def forward(self, obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
        """Mean normalised reward ``(n,)``."""
        return self.member_forward(obs, act, next_obs).mean(0)

    def member_forward(self, obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
        """Normalised rewards of every member, ``(K, n)``."""
        return torch.stack([m.normalized(m(obs, act, next_obs)) for m in self.nets])

    @torch.no_grad()
    def member_scores(self, obs: Any, act: Any, next_obs: Any) -> np.ndarray:
        """``(K, n)`` float32 rewards of every member (eval mode, no grad)."""
        return np.stack([m.score(obs, act, next_obs) for m in self.nets])

    def score(self, obs: Any, act: Any, next_obs: Any) -> np.ndarray:
        """Mean of the members' rewards, ``float32 (n,)``."""
        scores = self.member_scores(obs, act, next_obs).mean(0).astype(np.float32)
        return validate_scores(scores, scores.shape[0], self)

    def update_normalization(self, obs: Any) -> None:
        """Update every member's observation statistics."""
        for m in self.nets:
            m.update_normalization(obs)

    def set_output_normalization(self, obs: Any, act: Any, next_obs: Any) -> None:
        """Give every member zero-mean, unit-std rewards over these transitions."""
        for m in self.nets:
            m.set_output_normalization(obs, act, next_obs)


__all__ = ["RewardNetConfig", "RunningNorm", "TrajectoryRewardEnsemble", "TrajectoryRewardNet",
           "check_transitions"]
