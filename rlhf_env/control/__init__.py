"""Control tasks with human feedback: the env reward replaced by one learned from preferences.

==========================  ===============================================================
:mod:`.envs`                fixed-horizon ids (``RLHF-CartPole-v0``…) and ``make_rlhf_env``
:mod:`.highway`             ``RLHF-Highway-v0`` (highway-env): settings, offscreen frames, expert
:mod:`.wrappers`            ``LearnedRewardWrapper`` (one env) and ``LearnedRewardVecEnv`` (SB3)
:mod:`.segments`            segment records, sampling from rollouts, the ``SegmentBank``
:mod:`.models`              trajectory reward models (MLP, ensembles, observation normalisation)
:mod:`.training`            segment comparisons through the text ``RewardModelTrainer``
:mod:`.labeling`            synthetic labels from true segment returns (Boltzmann, 10% slips)
:mod:`.clips`               segments as GIF/MP4 clips queued for human labeling
:mod:`.queue_labeler`       ``QueueLabeler``: the loop asks people through the queue and waits
:mod:`.queue_corrector`     ``QueueCorrector``: people correct the agent's episodes (the queue)
:mod:`.queue_channel`       what both share: their items, answers handed out once, the wait
:mod:`.demonstrations`      scripted experts, saved demonstrations, behaviour cloning
:mod:`.corrections`         takeovers (``ControlCorrection``) replayed into corrected ≻ original
                            pairs; the synthetic corrector
:mod:`.schedules`           run-long learning-rate decay and log_std floor for chunked ``learn``
:mod:`.loop`                ``PreferenceLearningLoop``: collect → select → label → fit → RL
:mod:`.cli`                 the ``rlhf-env prefs`` command
==========================  ===============================================================

Submodules load on first attribute access (torch and SB3 are imported only then).
"""

from __future__ import annotations

from rlhf_env._lazy import lazy_getattr

_EXPORTS = {
    "CONTROL_TASKS": "rlhf_env.control.envs:CONTROL_TASKS",
    "FixedHorizon": "rlhf_env.control.envs:FixedHorizon",
    "make_control_env": "rlhf_env.control.envs:make_control_env",
    "make_rlhf_env": "rlhf_env.control.envs:make_rlhf_env",
    "LearnedRewardWrapper": "rlhf_env.control.wrappers:LearnedRewardWrapper",
    "LearnedRewardVecEnv": "rlhf_env.control.wrappers:LearnedRewardVecEnv",
    "Segment": "rlhf_env.control.segments:Segment",
    "SegmentBank": "rlhf_env.control.segments:SegmentBank",
    "collect_trajectories": "rlhf_env.control.segments:collect_trajectories",
    "sample_segments": "rlhf_env.control.segments:sample_segments",
    "RewardNetConfig": "rlhf_env.control.models:RewardNetConfig",
    "TrajectoryRewardNet": "rlhf_env.control.models:TrajectoryRewardNet",
    "TrajectoryRewardEnsemble": "rlhf_env.control.models:TrajectoryRewardEnsemble",
    "fit_segment_model": "rlhf_env.control.training:fit_segment_model",
    "fit_segment_ensemble": "rlhf_env.control.training:fit_segment_ensemble",
    "segment_returns": "rlhf_env.control.training:segment_returns",
    "SegmentLabeler": "rlhf_env.control.labeling:SegmentLabeler",
    "write_clip": "rlhf_env.control.clips:write_clip",
    "enqueue_segment_pairs": "rlhf_env.control.clips:enqueue_segment_pairs",
    "QueueLabeler": "rlhf_env.control.queue_labeler:QueueLabeler",
    "QueueCorrector": "rlhf_env.control.queue_corrector:QueueCorrector",
    "behaviour_clone": "rlhf_env.control.demonstrations:behaviour_clone",
    "collect_demonstrations": "rlhf_env.control.demonstrations:collect_demonstrations",
    "save_demonstrations": "rlhf_env.control.demonstrations:save_demonstrations",
    "load_demonstrations": "rlhf_env.control.demonstrations:load_demonstrations",
    "scripted_expert": "rlhf_env.control.demonstrations:scripted_expert",
    "highway_expert": "rlhf_env.control.highway:highway_expert",
    "SyntheticCorrector": "rlhf_env.control.corrections:SyntheticCorrector",
    "replay_correction": "rlhf_env.control.corrections:replay_correction",
    "replay_corrections": "rlhf_env.control.corrections:replay_corrections",
    "correction_demonstrations": "rlhf_env.control.corrections:correction_demonstrations",
    "RunSchedule": "rlhf_env.control.schedules:RunSchedule",
    "RunLearningRate": "rlhf_env.control.schedules:RunLearningRate",
    "LogStdFloor": "rlhf_env.control.schedules:LogStdFloor",
    "run_callbacks": "rlhf_env.control.schedules:run_callbacks",
    "LoopConfig": "rlhf_env.control.loop:LoopConfig",
    "PreferenceLearningLoop": "rlhf_env.control.loop:PreferenceLearningLoop",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
