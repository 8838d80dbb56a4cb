"""The online preference-learning loop for control tasks.

One round, each stage a small method of :class:`PreferenceLearningLoop`::

    warm_start       ─ once, before round 0, only with demonstrations= (off by default):
          │                expert ≻ agent comparisons (demo_pairs) and behaviour cloning
          │                of the agent's actor (bc_epochs)
    collect_segments ─ the agent's own rollouts (true reward only used by the labeler)
          │                cut into fixed-length segments, paired at random; never two that
          │                look the same or both lie wholly in the failure state, never one
          │                pair twice (rlhf_env.control.labeling.pair_segments)
    select_queries   ─ uncertainty: the pairs the reward ensemble disagrees on most
          │                (random in round 0, before any model exists); fewer than the
          │                round's share when too few fair pairs exist (logged)
    label            ─ SegmentLabeler (or any Labeler, e.g. people through the queue:
          │                QueueLabeler) → Comparison records; a round may get fewer
          │                labels than it asked for (the rest of the budget moves on)
    correct          ─ only with correction_fraction > 0: that share of the round's labels
          │                are ControlCorrection records (a corrector takes over the agent
          │                where it went wrong, rlhf_env.control.corrections), replayed into
          │                corrected ≻ original segment pairs
    fit_reward       ─ every ensemble member, on a bootstrap of all labels so far, through
          │                RewardModelTrainer (Bradley–Terry over segment returns)
    train_agent      ─ agent.learn(...) on LearnedRewardVecEnv (the learned reward only);
          │                a run-long learning-rate decay and log_std floor when the config
          │                asks (rlhf_env.control.schedules)
    log / checkpoint

The label budget is spent by a schedule (:func:`label_schedule`): a share up front, the rest
over the remaining rounds, evenly (``"constant"``) or front-loaded (``"hyperbolic"``).
Metrics, in the shared vocabulary of :mod:`rlhf_env.metrics` (to the agent's SB3 logger
when ``log_dir`` is set: CSV, TensorBoard when installed, or ``log_with``; and in
:attr:`history` always, one row per round with the same keys plus ``time/rounds`` and
``time/total_timesteps``):

=============================  ==========================================================
``rlhf/true_return``           mean true return of the agent's episodes in the round
``rlhf/learned_return``        mean learned (normalised) return of the same episodes
``rlhf/reward_val_accuracy``   held-out pairwise accuracy of the reward ensemble
``rlhf/new_label_accuracy``    accuracy on the round's new labels *before* training on them
``rlhf/labels_used``           labels spent so far
=============================  ==========================================================
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_env.control.checkpoint import (
    load_agent_state,
    load_reward_model,
    read_checkpoint,
    restore_agent,
    write_checkpoint,
)
from rlhf_env.control.corrections import (
    SyntheticCorrector,
    correction_share,
    replay_corrections,
    unreplayed,
)
from rlhf_env.control.demonstrations import (
    behaviour_clone,
    check_clonable,
    demonstration_arrays,
)
from rlhf_env.control.envs import make_rlhf_env
from rlhf_env.control.labeling import (
    SegmentLabeler,
    demonstration_comparisons,
    informative_pairs,
    pair_segments,
    segment_query,
)
from rlhf_env.control.models import RewardNetConfig, TrajectoryRewardEnsemble
from rlhf_env.control.schedules import rollout_aligned, run_callbacks
from rlhf_env.control.segments import (
    Segment,
    SegmentBank,
    Trajectory,
    collect_trajectories,
    failed_steps,
    sample_segments,
)
from rlhf_env.control.training import (
    default_trainer_config,
    fit_segment_ensemble,
    segment_returns,
    validation_accuracy,
)
from rlhf_env.control.wrappers import LearnedRewardVecEnv, score_transitions
from rlhf_env.errors import CheckpointError, ConfigError
from rlhf_env.feedback.learning.labelers import ComparisonLabeler, ComparisonQuery
from rlhf_env.feedback.learning.selection import RandomSelector, UncertaintySelector
from rlhf_env.feedback.records import (
    Comparison,
    ControlCorrection,
    FeedbackRecord,
    record_from_dict,
)
from rlhf_env.files import read_utf8
from rlhf_env.metrics import METRICS, check_log_with, metric_key, shared_metrics
from rlhf_env.quiet import sb3_without_temp_folder
from rlhf_env.validation import (
    check_fields,
    check_float,
    check_int,
    check_optional_float,
    check_optional_int,
)

log = logging.getLogger(__name__)

SCHEDULES = ("constant", "hyperbolic")
SELECTIONS = ("uncertainty", "random")


@dataclass(frozen=True)
class LoopConfig:
    """Settings of :class:`PreferenceLearningLoop`."""

    total_timesteps: int = 100_000
    """Agent environment steps over the whole run."""
    total_labels: int = 500
    """Label budget (pairwise comparisons)."""
    rounds: int = 10
    """Collect/label/fit/train rounds."""
    initial_label_fraction: float = 0.3
    """Share of the budget spent in round 0 (before the agent trains)."""
    schedule: str = "hyperbolic"
    """How the rest of the budget spreads over rounds: ``"constant"`` or ``"hyperbolic"``."""
    segment_length: int = 25
    """Transitions per segment."""
    candidates_per_label: int = 8
    """Candidate pairs scored per label asked (the pool uncertainty selection picks from).
    8 and a 5-member ensemble (formerly 4 and 3) were the setting the Pendulum diagnosis
    found best, and the one that held Pendulum's swing-up at 150k steps on five seeds
    (``benchmarks/results/bench_pendulum150k_ens5``); issue 14 keeps it for every task."""
    selection: str = "uncertainty"
    """``"uncertainty"`` (ensemble disagreement) or ``"random"``."""
    ensemble_size: int = 5
    """Reward models in the ensemble (>= 2 for uncertainty selection; see
    ``candidates_per_label``)."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of each reward MLP."""
    reward_inputs: tuple[str, ...] = ("next_obs",)
    """What the reward nets see, a subset of ``("obs", "action", "next_obs")``. The default,
    a state reward ``r(s')``, is the one that survived optimisation here: with the action a
    net learned "pushing left is good" from correlations in a few hundred labels, and with
    ``(s, s')`` it put the credit of failing segments on the fall itself (the transition
    into the failure state scored +4.6 and tilting states rose with the tilt), so PPO learned
    to fall in 9 steps. A state reward cannot single out a transition."""
    reward_epochs: int = 20
    """Maximum trainer epochs per round (early stopping on held-out labels)."""
    temperature: float = 1.0
    """Boltzmann temperature of the synthetic labeler (return units)."""
    error_rate: float = 0.1
    """Slip probability of the synthetic labeler."""
    n_envs: int = 4
    """Parallel envs the agent trains on."""
    horizon: int | None = None
    """Episode length (``None``: the id's default)."""
    seed: int = 0
    """Seed of everything (envs, agent, labeler, sampling, reward models)."""
    demo_pairs: int = 0
    """With ``demonstrations=``: expert ≻ agent comparisons made before round 0 (0: none).
    They train the reward model like labels but do not count against ``total_labels``."""
    bc_epochs: int = 0
    """With ``demonstrations=``: behaviour-cloning epochs on them before round 0 (0: none;
    PPO and A2C only). About 20–30 suit a few expert episodes."""
    correction_fraction: float = 0.0
    """Share of each round's labels spent on corrections instead of comparisons (0: none).
    Each correction is one label; the default corrector is a
    :class:`~rlhf_env.control.corrections.SyntheticCorrector` with the id's scripted
    expert."""

    lr_final_fraction: float | None = None
    """With a value f in [0, 1]: the agent's learning rate falls linearly from the one it
    was built with to f times that over the whole run (progress is the agent's env steps
    out of the run's, so it does not restart each round as SB3's own schedules do; see
    :mod:`rlhf_env.control.schedules`). ``None``: the algorithm's own learning rate. Made
    for Pendulum's learned arm, which lost its swing-up late in 150k-step runs; a decay to
    0 did not prevent that (``benchmarks/results/control_pendulum_diagnosis.md``), so no
    benchmark task sets it."""
    lapse_rate: float = 0.0
    """The reward trainer's :attr:`~rlhf_env.feedback.learning.training.RewardTrainerConfig.
    lapse_rate`: the share of labels its likelihood takes to be coin flips (0: plain
    Bradley–Terry; Christiano et al. 2017 use 0.1)."""
    failure_floor: bool = False
    """Cap the agent's learned reward in the task's absorbing failure state (the steps
    whose ``info["failed"]`` is true: a fallen CartPole, a crashed car) at the lowest
    learned reward of any other state in the segment bank, refreshed after every fit. The
    labels say failing is worse than anything else, but Bradley–Terry over segment sums
    can put that blame on the states before a crash instead (a Highway smoke run scored the
    crashed state −0.4 and crowded driving down to −1.05, so crashing paid). In the Highway
    benchmark task the cap then seldom bound, the ensemble already scoring the crash lowest,
    and it did not raise the true return (``benchmarks/results/control_highway_diagnosis.md``),
    so it is off by default. Tasks without a failure state are unaffected."""
    log_std_floor: float | None = None
    """Lower bound on the policy's ``log_std`` parameter, enforced after every optimiser
    step (Gaussian or gSDE policies only: a discrete-action agent fails at construction).
    ``None``: none."""

    def __post_init__(self) -> None:
        check_fields(self)
        owner = "LoopConfig"
        for name in ("total_timesteps", "total_labels", "rounds", "segment_length",
                     "candidates_per_label", "ensemble_size", "reward_epochs", "n_envs"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{owner}: {name} must be >= 1, got {getattr(self, name)}.")
        for name in ("demo_pairs", "bc_epochs"):
            if int(getattr(self, name)) < 0:
                raise ConfigError(f"{owner}: {name} must be >= 0, got {getattr(self, name)}.")
        check_float(f"{owner}.temperature", self.temperature, minimum=0.0, exclusive_min=True)
        check_float(f"{owner}.error_rate", self.error_rate, minimum=0.0, maximum=1.0)
        check_float(f"{owner}.lapse_rate", self.lapse_rate, minimum=0.0, maximum=0.99)
        check_float(f"{owner}.correction_fraction", self.correction_fraction, minimum=0.0,
                    maximum=1.0)
        check_optional_int(f"{owner}.horizon", self.horizon, minimum=1)
        check_optional_float(f"{owner}.lr_final_fraction", self.lr_final_fraction,
                             minimum=0.0, maximum=1.0)
        check_optional_float(f"{owner}.log_std_floor", self.log_std_floor)
        check_int(f"{owner}.seed", self.seed, minimum=0, maximum=2**32 - 1)
        for i, width in enumerate(self.hidden):
            check_int(f"{owner}.hidden[{i}]", width, minimum=1, maximum=1 << 16)
        if not 0.0 <= self.initial_label_fraction <= 1.0:
            raise ConfigError(f"{owner}: initial_label_fraction must be in [0, 1], got "
                              f"{self.initial_label_fraction}.")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"{owner}: schedule must be one of {SCHEDULES}, got "
                              f"{self.schedule!r}.")
        if self.selection not in SELECTIONS:
            raise ConfigError(f"{owner}: selection must be one of {SELECTIONS}, got "
                              f"{self.selection!r}.")
        unknown = set(self.reward_inputs) - {"obs", "action", "next_obs"}
        if unknown or not self.reward_inputs:
            raise ConfigError(f"{owner}: reward_inputs must be a non-empty subset of ('obs', "
                              f"'action', 'next_obs'), got {self.reward_inputs}.")
        if self.total_labels < self.rounds:
            raise ConfigError(f"{owner}: total_labels ({self.total_labels}) must be >= rounds "
                              f"({self.rounds}): every round asks for at least one label.")


def label_schedule(total: int, rounds: int, initial_fraction: float, kind: str) -> list[int]:
    """Labels per round: ``initial_fraction`` of ``total`` first, the rest spread by ``kind``.

    >>> label_schedule(100, 4, 0.4, "constant")
    [40, 20, 20, 20]
    """
    first = max(1, round(total * initial_fraction)) if rounds > 1 else total
    rest = total - first
    if rounds == 1:
        return [total]
    k = np.arange(1, rounds, dtype=np.float64)
    weights = np.ones_like(k) if kind == "constant" else 1.0 / k
    raw = rest * weights / weights.sum()
    counts = np.floor(raw).astype(int)
    counts[np.argsort(raw - counts)[::-1][:rest - counts.sum()]] += 1
    counts = np.maximum(counts, 1)
    counts[0] -= counts.sum() - rest
    return [first, *counts.tolist()]


@dataclass
class LoopState:
    """What a checkpoint restores besides the agent, the reward model and the data."""

    round: int = 0
    labels_used: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    warm_start: dict[str, float] = field(default_factory=dict)
    """What :meth:`PreferenceLearningLoop.warm_start` did (empty: it did not run)."""


ALGORITHMS = ("PPO", "A2C", "SAC", "TD3", "DQN", "DDPG")


def _algorithm_class(name: str) -> Any:
    import stable_baselines3 as sb3

    cls = getattr(sb3, name, None)
    if cls is None:
        try:
            import sb3_contrib

            cls = getattr(sb3_contrib, name, None)
        except ImportError:
            cls = None
    if cls is None:
        raise ConfigError(f"unknown SB3 algorithm {name!r}; try one of {ALGORITHMS}.")
    return cls


def _on_policy_defaults(algorithm: str, cfg: LoopConfig) -> dict[str, Any]:
    """PPO/A2C rollouts no longer than a round (so short runs stay short)."""
    if algorithm not in ("PPO", "A2C"):
        return {}
    n_steps = int(np.clip(cfg.total_timesteps // cfg.rounds // cfg.n_envs, 8, 2048))
    out: dict[str, Any] = {"n_steps": n_steps}
    if algorithm == "PPO":
        out["batch_size"] = min(64, n_steps * cfg.n_envs)
    return out


LabelerArg = ComparisonLabeler | Callable[[SegmentBank], ComparisonLabeler] | None
"""What ``labeler=`` of :class:`PreferenceLearningLoop` accepts."""


def _resolve_labeler(labeler: LabelerArg, bank: SegmentBank) -> ComparisonLabeler | None:
    """``labeler`` itself, or what the function ``bank -> labeler`` builds (``None``: none)."""
    if labeler is None or isinstance(labeler, ComparisonLabeler):
        return labeler
    built = labeler(bank) if callable(labeler) else None
    if not isinstance(built, ComparisonLabeler):
        raise ConfigError(
            f"labeler= must have a label(queries) -> records method or be a function "
            f"bank -> such a labeler; got {type(labeler).__name__}"
            + ("" if built is None else f" returning {type(built).__name__}") + "."
        )
    return built


class PreferenceLearningLoop:
    """Learn a control task's reward from segment preferences while an SB3 agent trains.

    Args:
        env_id: a control id (``"RLHF-CartPole-v0"``…) or any Gymnasium id (wrapped in the
            fixed-horizon form by :func:`~rlhf_env.control.envs.make_rlhf_env`).
        config: budgets, schedule, reward model and labeler settings.
        algorithm: an SB3 (or sb3-contrib) algorithm name.
        algorithm_kwargs: extra constructor arguments of the algorithm.
        labeler: a :class:`~rlhf_env.feedback.learning.labelers.ComparisonLabeler`
            (``label(queries) -> records``; it may answer fewer queries than asked), or a
            function ``bank -> labeler`` for labelers that need the loop's
            :class:`SegmentBank` (``lambda bank: QueueLabeler(store, bank)``); default: a
            :class:`SegmentLabeler` over true returns with the config's noise.
        log_dir: folder of the logs (``None``: keep :attr:`history` only).
        log_with: where the logs go (:data:`~rlhf_env.metrics.LOG_BACKENDS`; ``"wandb"``
            for a Weights & Biases run); ``None``: CSV, plus TensorBoard when installed.
        checkpoint_dir: where :meth:`checkpoint` writes after every round (``None``: never).
        demonstrations: expert trajectories (see
            :mod:`~rlhf_env.control.demonstrations`) that :meth:`warm_start` uses before
            round 0, as the config's ``demo_pairs`` and ``bc_epochs`` say; ``None``: none.
        corrector: what makes the corrections when ``config.correction_fraction > 0``: an
            object with ``correct(policy, n, rng=...) -> [ControlCorrection]``; default: a
            :class:`~rlhf_env.control.corrections.SyntheticCorrector` of ``env_id``.
    """

    def __init__(self, env_id: str, config: LoopConfig | None = None, *,
                 algorithm: str = "PPO", algorithm_kwargs: dict[str, Any] | None = None,
                 labeler: LabelerArg = None, log_dir: str | Path | None = None,
                 log_with: Sequence[str] | None = None,
                 checkpoint_dir: str | Path | None = None,
                 demonstrations: Sequence[Trajectory] | None = None,
                 corrector: Any = None) -> None:
        self.env_id, self.config = env_id, config or LoopConfig()
        self.algorithm, self.algorithm_kwargs = algorithm, dict(algorithm_kwargs or {})
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.log_with = _default_log_with() if log_with is None else check_log_with(log_with)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        cfg = self.config
        self.collect_env = make_rlhf_env(env_id, horizon=cfg.horizon)
        self.bank = SegmentBank()
        self.records: list[FeedbackRecord] = []
        self.labeler: ComparisonLabeler = _resolve_labeler(labeler, self.bank) or SegmentLabeler(
            self.bank, temperature=cfg.temperature, error_rate=cfg.error_rate, seed=cfg.seed,
            task=env_id)
        self.ensemble = TrajectoryRewardEnsemble.build(
            self.collect_env.observation_space, self.collect_env.action_space,
            cfg.ensemble_size,
            RewardNetConfig(hidden=tuple(cfg.hidden), use_obs="obs" in cfg.reward_inputs,
                            use_action="action" in cfg.reward_inputs,
                            use_next_obs="next_obs" in cfg.reward_inputs),
            seed=cfg.seed)
        self.venv = self._make_venv()
        kwargs = {**_on_policy_defaults(algorithm, cfg), **self.algorithm_kwargs}
        self.agent = _algorithm_class(algorithm)("MlpPolicy", self.venv, seed=cfg.seed,
                                                 verbose=0, **kwargs)
        self.run_callbacks = run_callbacks(
            self.agent, cfg.rounds * rollout_aligned(cfg.total_timesteps // cfg.rounds,
                                                     self.agent),
            lr_final_fraction=cfg.lr_final_fraction, log_std_floor=cfg.log_std_floor)
        """What every round's ``agent.learn`` gets as ``callback=`` (the config's
        ``lr_final_fraction`` and ``log_std_floor``; empty when both are ``None``)."""
        self.state = LoopState()
        self._rng = np.random.default_rng(cfg.seed)
        self.demonstrations = self._check_demonstrations(demonstrations)
        self.corrector = corrector if corrector is not None or cfg.correction_fraction == 0 \
            else SyntheticCorrector(env_id, horizon=cfg.horizon)
        self._setup_logger()

    # -- construction -------------------------------------------------------------------
    def _make_venv(self) -> LearnedRewardVecEnv:
        from stable_baselines3.common.env_util import make_vec_env

        cfg = self.config
        venv = make_vec_env(lambda: make_rlhf_env(self.env_id, horizon=cfg.horizon),
                            n_envs=cfg.n_envs, seed=cfg.seed)
        return LearnedRewardVecEnv(venv, self.ensemble)

    def _check_demonstrations(self, demonstrations: Sequence[Trajectory] | None
                              ) -> list[Trajectory] | None:
        """Fail at construction, not after the first round, when demonstrations do not fit."""
        if demonstrations is None:
            return None
        cfg = self.config
        if cfg.demo_pairs == 0 and cfg.bc_epochs == 0:
            raise ConfigError("demonstrations were given but LoopConfig.demo_pairs and "
                              "bc_epochs are both 0; set one of them (e.g. bc_epochs=20).")
        demonstration_arrays(demonstrations, self.collect_env.observation_space,
                             self.collect_env.action_space)
        if cfg.bc_epochs > 0:
            check_clonable(self.agent)
        return list(demonstrations)

    def _setup_logger(self) -> None:
        if self.log_dir is None:
            sb3_without_temp_folder(self.agent)
            return
        from rlhf_env.logger import make_logger

        self.agent.set_logger(make_logger(self.log_dir, self.log_with, run_config={
            "env_id": self.env_id, "algorithm": self.algorithm, **asdict(self.config)}))

    @property
    def history(self) -> list[dict[str, float]]:
        """One dict of metrics per finished round."""
        return self.state.history

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> list[dict[str, float]]:
        """Run the remaining rounds (all of them, or those left after :meth:`resume`)."""
        for _ in self.run_rounds():
            pass
        return self.history

    def run_rounds(self) -> Iterator[dict[str, float]]:
        """Run the remaining rounds, yielding each round's metrics."""
        cfg = self.config
        schedule = label_schedule(cfg.total_labels, cfg.rounds, cfg.initial_label_fraction,
                                  cfg.schedule)
        steps = cfg.total_timesteps // cfg.rounds
        while self.state.round < cfg.rounds:
            left = max(cfg.total_labels - self.state.labels_used, 0)
            last = self.state.round == cfg.rounds - 1
            yield self.run_round(left if last else min(schedule[self.state.round], left), steps)

    def run_round(self, n_labels: int, n_steps: int) -> dict[str, float]:
        """One round: collect → select → label → fit the reward → train the agent → log."""
        r = self.state.round
        if r == 0 and self.demonstrations is not None and not self.state.warm_start:
            self.warm_start(self.demonstrations)
        self._rng = np.random.default_rng([self.config.seed, r])
        new: list[FeedbackRecord] = []
        before = val_acc = float("nan")
        n_fix = correction_share(n_labels, self.config.correction_fraction)
        if n_labels > n_fix:
            n_ask = n_labels - n_fix
            candidates = self.collect_segments(n_ask * self.config.candidates_per_label)
            new = self.label(self.select_queries(candidates, n_ask))
        new += self.correct(n_fix)
        if new:  # people may answer none of this round's queries in time
            before = self.accuracy_on(new) if self.records else float("nan")
            self.records.extend(new)
            val_acc = self.fit_reward()
        self.venv.episode_true_returns.clear()
        self.venv.episode_learned_returns.clear()
        self.agent.learn(n_steps, reset_num_timesteps=False,
                         callback=list(self.run_callbacks) or None)
        self.state.labels_used += len(new)
        self.state.round += 1
        metrics = self._metrics(val_acc, before)
        self.state.history.append(metrics)
        self._log(metrics)
        if self.checkpoint_dir is not None:
            self.checkpoint(self.checkpoint_dir)
        return metrics

    def warm_start(self, demonstrations: Sequence[Trajectory]) -> dict[str, float]:
        """Use demonstrations before round 0 (run by the first round when the loop was given
        ``demonstrations=``; call it yourself otherwise).

        1. ``demo_pairs`` expert segments, each preferred to a segment of the agent *before*
           cloning (:func:`~rlhf_env.control.labeling.demonstration_comparisons`: records
           with annotator ``"demonstration"``), join the records, and the reward ensemble
           fits on them, so round 0 already selects queries by disagreement;
        2. ``bc_epochs`` of :func:`~rlhf_env.control.demonstrations.behaviour_clone`.

        Returns (and keeps in ``state.warm_start``, saved by :meth:`checkpoint`):
        ``demo_comparisons``, ``demo_reward_val_accuracy``, ``bc_loss_first``,
        ``bc_loss_last`` (negative log-likelihood per action) for the steps that ran.
        """
        cfg = self.config
        demonstrations = self._check_demonstrations(demonstrations) or []
        stats: dict[str, float] = {}
        if cfg.demo_pairs > 0:
            rng = np.random.default_rng([cfg.seed, 1_000_003])  # apart from the rounds' draws
            expert = sample_segments(demonstrations, cfg.segment_length, cfg.demo_pairs, rng,
                                     self.env_id)
            policy = self._agent_segments(cfg.demo_pairs, rng)
            demos = demonstration_comparisons(expert, policy, self.bank, task=self.env_id)
            self.records.extend(demos)
            stats["demo_comparisons"] = float(len(demos))
            stats["demo_reward_val_accuracy"] = self.fit_reward()
        if cfg.bc_epochs > 0:
            losses = behaviour_clone(self.agent, demonstrations, epochs=cfg.bc_epochs,
                                     seed=cfg.seed)
            stats["bc_loss_first"], stats["bc_loss_last"] = losses[0], losses[-1]
        self.state.warm_start = stats
        return stats

    def collect_segments(self, n_pairs: int) -> list[tuple[Segment, Segment]]:
        """Up to ``n_pairs`` candidate pairs from the current agent's rollouts (added to the
        bank), each a fair question (:func:`~rlhf_env.control.labeling.pair_segments`)."""
        segs = self._agent_segments(2 * n_pairs, self._rng)
        self.bank.add(segs)
        return pair_segments(segs, n_pairs, self._rng)

    def _agent_segments(self, n: int, rng: np.random.Generator) -> list[Segment]:
        """``n`` segments of the current agent's rollouts (not added to the bank)."""
        cfg = self.config
        horizon = getattr(self.collect_env.unwrapped, "horizon", None) or cfg.segment_length
        steps = max(n * cfg.segment_length // 4, 2 * horizon)
        trajs = collect_trajectories(self.collect_env, self.agent, steps,
                                     seed=int(rng.integers(2**31)))
        return sample_segments(trajs, cfg.segment_length, n, rng, self.env_id)

    def select_queries(self, pairs: list[tuple[Segment, Segment]], n: int
                       ) -> list[ComparisonQuery]:
        """The ``n`` pairs to ask about (uncertainty selection once a model is trained).

        Pairs that teach nothing and repeats are dropped first
        (:func:`~rlhf_env.control.labeling.informative_pairs`); when fewer than ``n``
        remain, all of them are asked and the log says so."""
        fair = informative_pairs(pairs)
        if len(fair) < n:
            log.warning("round %d: asking %d of the %d labels planned: only %d of %d candidate "
                        "pairs are fair questions (never two identical-looking segments, two "
                        "wholly in the failure state, or one pair twice); the rest of the "
                        "budget moves to later rounds", self.state.round, len(fair), n,
                        len(fair), len(pairs))
        queries = [segment_query(a, b, self.env_id) for a, b in fair]
        if self.config.selection == "random" or not self.records \
                or self.config.ensemble_size < 2:
            idx = RandomSelector().select(queries, n, self._rng)
        else:
            selector = UncertaintySelector(
                lambda _p, refs: segment_returns(self.ensemble, self.bank, refs))
            idx = selector.select(queries, n, self._rng)
        return [queries[int(i)] for i in idx]

    def label(self, queries: list[ComparisonQuery]) -> list[FeedbackRecord]:
        """Ask the labeler. Records already held are dropped (a queue labeler rebuilt after
        :meth:`resume` may hand an answer in again)."""
        held = {r.content_hash for r in self.records}
        return [r for r in self.labeler.label(queries) if r.content_hash not in held]

    def correct(self, n: int) -> list[FeedbackRecord]:
        """Up to ``n`` corrections of the agent's episodes, replayed into the bank (the agent
        drives again after each takeover); see :mod:`rlhf_env.control.corrections`.
        Corrections already held are dropped (a queue corrector rebuilt after
        :meth:`resume` may hand an answer in again)."""
        if n == 0 or self.corrector is None:
            return []
        held = {unreplayed(r).content_hash for r in self.records
                if isinstance(r, ControlCorrection)}
        fixes = [f for f in self.corrector.correct(self.agent, n, rng=self._rng)
                 if f.content_hash not in held]
        return list(replay_corrections(fixes, self.bank, self.config.segment_length,
                                       policy=self.agent))

    def fit_reward(self) -> float:
        """Retrain the ensemble on every label so far; returns held-out accuracy."""
        cfg = self.config
        tcfg = default_trainer_config(epochs=cfg.reward_epochs, lapse_rate=cfg.lapse_rate,
                                      seed=cfg.seed * 1000 + self.state.round)
        results = fit_segment_ensemble(self.ensemble, self.records, self.bank, tcfg)
        self.pin_failure()
        return validation_accuracy(results)

    def pin_failure(self) -> float | None:
        """With ``failure_floor`` on: set the agent's cap on the failure state's learned
        reward to the ensemble's lowest score of the bank's other states, and return it
        (``None``: off, or no such state yet)."""
        floor = None
        if self.config.failure_floor and len(self.bank):
            floor = lowest_live_reward(self.ensemble, self.bank.segments())
        self.venv.failure_reward = floor
        return floor

    def accuracy_on(self, records: list[FeedbackRecord]) -> float:
        """Share of strict comparisons the current ensemble ranks as the labeler did."""
        comps = [r for r in records if isinstance(r, Comparison) and r.preference != "tie"]
        if not comps:
            return float("nan")
        chosen = segment_returns(self.ensemble, self.bank, [str(c.chosen) for c in comps])
        rejected = segment_returns(self.ensemble, self.bank, [str(c.rejected) for c in comps])
        return float(np.mean(chosen.mean(0) > rejected.mean(0)))

    # -- metrics -----------------------------------------------------------------------------
    def _metrics(self, val_acc: float, new_acc: float) -> dict[str, float]:
        def mean(values: Any) -> float:
            return float(np.mean(values)) if len(values) else float("nan")

        return {
            ROUNDS: float(self.state.round),
            TIMESTEPS: float(self.agent.num_timesteps),
            **shared_metrics(labels_used=self.state.labels_used,
                             true_return=mean(self.venv.episode_true_returns),
                             learned_return=mean(self.venv.episode_learned_returns),
                             reward_val_accuracy=val_acc, new_label_accuracy=new_acc),
        }

    def _log(self, metrics: dict[str, float]) -> None:
        if self.log_dir is None:
            return
        logger = self.agent.logger
        for key, value in metrics.items():
            if key not in (ROUNDS, TIMESTEPS) and np.isfinite(value):
                logger.record(key, value)
        logger.dump(self.agent.num_timesteps)

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint(self, directory: str | Path) -> Path:
        """Write agent, reward model, segments, feedback and loop state to ``directory``
        (pickle-free and atomic; the previous save is kept until this one is complete, see
        :mod:`rlhf_env.control.checkpoint`)."""
        return write_checkpoint(self, directory)

    @classmethod
    def resume(cls, directory: str | Path, *, config: LoopConfig | None = None,
               **kwargs: Any) -> PreferenceLearningLoop:
        """Rebuild a loop from :meth:`checkpoint` output; ``config`` may extend the run
        (e.g. more rounds or labels). A corrupt save falls back to the previous one."""
        state, files = read_checkpoint(directory)
        saved = state["config"]
        saved["hidden"] = tuple(saved["hidden"])
        saved["reward_inputs"] = tuple(saved["reward_inputs"])
        kwargs.pop("demonstrations", None)  # used before round 0 only: never again
        if kwargs.get("algorithm_kwargs") is None:
            if state["algorithm_kwargs"] is None:
                raise ConfigError(f"{directory}: the algorithm's keyword arguments could not be "
                                  "saved as JSON; pass them again: resume(..., "
                                  "algorithm_kwargs={...}).")
            kwargs["algorithm_kwargs"] = state["algorithm_kwargs"]
        loop = cls(state["env_id"], config or LoopConfig(**saved),
                   algorithm=state["algorithm"], **kwargs)
        loop.ensemble.load_state_dict(load_reward_model(files["reward_model"]))
        loop.bank.add(SegmentBank.load(files["segments"]).segments())
        text = read_utf8(files["feedback"], CheckpointError)
        loop.records = [record_from_dict(json.loads(line)) for line in text.splitlines()
                        if line.strip()]
        restore_agent(loop.agent, load_agent_state(files["agent"]))
        loop.state = LoopState(state["round"], state["labels_used"],
                               [_current_keys(row) for row in state["history"]],
                               state.get("warm_start", {}))
        loop.pin_failure()
        return loop


def lowest_live_reward(model: Any, segments: Sequence[Segment]) -> float | None:
    """The lowest score ``model`` gives a transition of ``segments`` that does not end in
    the failure state (:func:`~rlhf_env.control.segments.failed_steps`); ``None`` when
    every transition does."""
    live = [(s, ~failed_steps(s)) for s in segments]
    live = [(s, keep) for s, keep in live if keep.any()]
    if not live:
        return None
    obs, act, nxt = (np.concatenate([np.asarray(getattr(s, name))[keep] for s, keep in live])
                     for name in ("obs", "actions", "next_obs"))
    return float(np.min(score_transitions(model, obs, act, nxt)))


ROUNDS = "time/rounds"
"""History key: rounds finished (the loop's own clock; SB3 logs ``time/iterations``)."""
TIMESTEPS = "time/total_timesteps"
"""History key: the agent's env steps so far."""
_OLD_KEYS = {"round": ROUNDS, "env_steps": TIMESTEPS}


def _current_keys(row: dict[str, float]) -> dict[str, float]:
    """A history row of an older checkpoint (short keys) in today's keys."""
    return {_OLD_KEYS.get(k) or (metric_key(k) if k in METRICS else k): v
            for k, v in row.items()}


def _default_log_with() -> tuple[str, ...]:
    """CSV, plus TensorBoard when it is installed."""
    import importlib.util

    has_tb = importlib.util.find_spec("tensorboard") is not None
    return ("csv", "tensorboard") if has_tb else ("csv",)


__all__ = ["ALGORITHMS", "SCHEDULES", "SELECTIONS", "LoopConfig", "LoopState",
           "PreferenceLearningLoop", "label_schedule", "lowest_live_reward"]
