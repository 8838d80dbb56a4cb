"""RLHF-Highway-v0: spaces, the absorbing crash, determinism, offscreen frames, the expert."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("highway_env", reason="RLHF-Highway-v0 needs highway-env (the control "
                                          "extra)")

from rlhf_env.control.clips import draw_highway, segment_frames, write_clip
from rlhf_env.control.demonstrations import collect_demonstrations
from rlhf_env.control.envs import make_rlhf_env
from rlhf_env.control.highway import (
    FAILURE_OBSERVATION,
    FASTER,
    IDLE,
    highway_expert,
    offscreen_video,
)
from rlhf_env.control.segments import Segment, collect_trajectories
from rlhf_env.errors import MissingDependencyError


def rollout(env: gym.Env, seed: int, policy) -> tuple[list, list, list]:
    obs, _ = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], []
    truncated = False
    while not truncated:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        assert not terminated
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
    return observations, rewards, infos


def test_spaces_and_the_default_horizon() -> None:
    env = gym.make("RLHF-Highway-v0")
    assert env.action_space == gym.spaces.Discrete(5)
    assert env.observation_space.shape == (5, 5)
    assert env.observation_space.dtype == np.float32
    observations, rewards, _ = rollout(env, 0, highway_expert)
    assert len(rewards) == 40
    values = np.stack(observations)
    assert values.dtype == np.float32 and np.abs(values).max() <= 1.0
    assert all(0.0 <= r <= 1.0 for r in rewards)


def test_a_crash_is_an_absorbing_visibly_bad_state() -> None:
    env = gym.make("RLHF-Highway-v0", horizon=30)
    observations, rewards, infos = rollout(env, 0, lambda obs: FASTER)  # rams the car ahead
    failed = [i["failed"] for i in infos]
    first = failed.index(True)
    assert 0 < first < 29 and all(failed[first:])
    assert infos[first]["crashed"]  # highway-env's own flag at the crash step
    assert rewards[first + 1:] == [0.0] * (29 - first)  # nothing to gain after the crash
    assert all(r > 0.6 for r in rewards[:first])  # driving pays 0.67-1 per step
    assert all(np.array_equal(o, np.asarray(FAILURE_OBSERVATION, np.float32))
               for o in observations[first + 1:])
    assert not np.array_equal(observations[first], np.asarray(FAILURE_OBSERVATION, np.float32))


def test_deterministic_under_a_seed() -> None:
    a, b = gym.make("RLHF-Highway-v0", horizon=12), gym.make("RLHF-Highway-v0", horizon=12)
    actions = [3, 0, 1, 2, 4, 1, 3, 3, 0, 2, 1, 1]
    runs = []
    for env, seed in ((a, 5), (b, 5), (a, 6)):
        it = iter(actions)
        obs, rewards, _ = rollout(env, seed, lambda o, it=it: next(it))
        runs.append((np.stack(obs), np.array(rewards)))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0], runs[2][0])


def test_rgb_frames_render_offscreen_even_with_the_dummy_driver(monkeypatch) -> None:
    # highway-env draws nothing under SDL_VIDEODRIVER=dummy; our render scope swaps in
    # "offscreen" for the call and puts the user's setting back.
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.delenv("DISPLAY", raising=False)
    env = make_rlhf_env("RLHF-Highway-v0", horizon=12, render_mode="rgb_array")
    traj = collect_trajectories(env, lambda obs: FASTER, 12, seed=0, record_frames=True)[0]
    assert os.environ["SDL_VIDEODRIVER"] == "dummy"
    assert traj.frames is not None and traj.frames.shape == (12, 150, 600, 3)
    assert traj.frames.dtype == np.uint8
    assert all(len(np.unique(f.reshape(-1, 3), axis=0)) > 3 for f in traj.frames)  # not blank
    red = (traj.frames[-1][..., 0] > 200) & (traj.frames[-1][..., 1] < 150)
    assert red.sum() > 20  # the crashed cars are drawn red in the absorbing state


def test_gymnasium_render_check_passes_in_rgb_array_mode() -> None:
    import warnings

    from gymnasium.utils.env_checker import check_env

    env = gym.make("RLHF-Highway-v0", render_mode="rgb_array", horizon=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=False)  # remakes the env in its other modes


def test_offscreen_video_restores_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    with offscreen_video():
        assert os.environ["SDL_VIDEODRIVER"] == "offscreen"
    assert "SDL_VIDEODRIVER" not in os.environ
    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")  # a user's own driver is kept
    with offscreen_video():
        assert os.environ["SDL_VIDEODRIVER"] == "x11"


def test_segments_without_frames_are_drawn_for_clips(tmp_path) -> None:
    env = gym.make("RLHF-Highway-v0", horizon=10)
    traj = collect_trajectories(env, lambda obs: FASTER, 10, seed=0)[0]
    seg = Segment(traj.obs, traj.actions, traj.next_obs, traj.rewards,
                  source="RLHF-Highway-v0")
    frames = segment_frames(seg)
    assert frames.shape == (11, 100, 360, 3)
    crashed = draw_highway(np.asarray(FAILURE_OBSERVATION))
    driving = draw_highway(traj.obs[0])
    red = np.array([230, 60, 60], np.uint8)
    assert (crashed == red).all(axis=-1).any() and not (driving == red).all(axis=-1).any()
    assert write_clip(frames, tmp_path / "drive.gif").stat().st_size > 500


def test_the_expert_beats_random_and_never_crashes() -> None:
    env = gym.make("RLHF-Highway-v0", horizon=25)
    rng = np.random.default_rng(0)
    expert, random, random_crashes = [], [], 0
    for seed in (0, 1, 2, 3):
        _, rewards, infos = rollout(env, seed, highway_expert)
        assert not infos[-1]["failed"]
        expert.append(sum(rewards))
        _, rewards, infos = rollout(env, seed, lambda obs: int(rng.integers(5)))
        random.append(sum(rewards))
        random_crashes += infos[-1]["failed"]
    assert min(expert) > 18.0  # of 25 (19.1-22.0 measured); random: 4.8-19.8
    assert np.mean(expert) > np.mean(random) + 4.0 and random_crashes >= 2
    _, idle, _ = rollout(env, 0, lambda obs: IDLE)
    assert expert[0] > sum(idle)


def test_demonstrations_use_the_highway_expert() -> None:
    demos = collect_demonstrations("RLHF-Highway-v0", episodes=1, horizon=8)
    assert len(demos) == 1 and len(demos[0]) == 8
    assert demos[0].obs.shape == (8, 5, 5)
    expected = [highway_expert(o) for o in demos[0].obs]
    assert demos[0].actions.tolist() == expected


def test_missing_highway_env_says_how_to_install(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "highway_env", None)  # import fails
    with pytest.raises(MissingDependencyError, match=r"rlhf-env\[control\]"):
        make_rlhf_env("RLHF-Highway-v0")
