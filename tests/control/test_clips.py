"""Segments become clips, wait in the labeling queue, and the answers train a reward model."""

from __future__ import annotations

import io
import sys

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from rlhf_env.control.clips import (
    draw_cartpole,
    draw_pendulum,
    enqueue_segment_pairs,
    segment_frames,
    write_clip,
    write_segment_clip,
)
from rlhf_env.control.models import TrajectoryRewardNet
from rlhf_env.control.segments import Segment, SegmentBank
from rlhf_env.control.training import fit_segment_model
from rlhf_env.errors import ConfigError, MissingDependencyError
from rlhf_env.feedback.records import Comparison
from rlhf_env.feedback.store import FeedbackStore
from rlhf_env.feedback.terminal import TerminalLabeler


def test_cartpole_frames_show_the_failure() -> None:
    upright = draw_cartpole(np.array([0.0, 0.0, 0.0, 0.0]))
    fallen = draw_cartpole(np.array([0.0, 0.0, 0.5, 0.0]))
    red = np.array([200, 30, 30], dtype=np.uint8)
    assert not (upright == red).all(axis=2).any()
    assert (fallen == red).all(axis=2).sum() > 20


def test_write_clip_makes_an_animated_gif(tmp_path) -> None:
    frames = np.stack([draw_cartpole(np.array([x, 0, 0, 0])) for x in np.linspace(-1, 1, 6)])
    path = write_clip(frames, tmp_path / "c.gif")
    with Image.open(path) as img:
        assert img.n_frames == 6 and img.size == (160, 100)
    with pytest.raises(ConfigError, match=r"must end in \.gif or \.mp4"):
        write_clip(frames, tmp_path / "c.avi")
    assert not (tmp_path / "c.avi").exists()


def test_write_clip_makes_an_mp4_that_reads_back(cartpole_segments, tmp_path) -> None:
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v2 as imageio

    segment = cartpole_segments[0]
    frames = segment_frames(segment)
    assert frames.shape == (21, 100, 160, 3)  # every observation and the last next one
    path = write_segment_clip(segment, tmp_path, "mp4")
    assert path.name == f"{segment.id}.mp4"
    with imageio.get_reader(path, format="FFMPEG") as reader:
        back = np.stack(list(reader.iter_data()))
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames).mean() < 4.0  # lossy, but the same picture
    odd = write_clip(frames[:3, :99, :157], tmp_path / "odd.mp4")  # H.264 needs even sides
    with imageio.get_reader(odd, format="FFMPEG") as reader:
        assert np.stack(list(reader.iter_data())).shape == (3, 100, 158, 3)


def test_mp4_without_imageio_ffmpeg_says_how_to_install_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if not installed
    frames = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    with pytest.raises(MissingDependencyError, match="`pip install imageio-ffmpeg`"):
        write_clip(frames, tmp_path / "c.mp4")
    assert write_clip(frames, tmp_path / "c.gif").exists()  # GIF clips need no ffmpeg


def test_pendulum_segments_are_drawn_too() -> None:
    up, down = np.array([1.0, 0.0, 0.0]), np.array([-1.0, 0.0, 0.0])
    green = np.array([40, 160, 60], dtype=np.uint8)
    assert (draw_pendulum(up) == green).all(axis=2).sum() > 20
    assert not (draw_pendulum(down) == green).all(axis=2).any()
    upright_rows = np.nonzero((draw_pendulum(up) == green).all(axis=2))[0]
    assert upright_rows.max() < 50  # the rod points up from the pivot in the middle
    seg = Segment(np.stack([up, down]), np.zeros((2, 1)), np.stack([down, up]), np.zeros(2),
                  source="RLHF-Pendulum-v0")
    assert segment_frames(seg).shape == (3, 100, 100, 3)


def test_queued_clips_are_labeled_in_the_terminal_and_train(cartpole_segments,
                                                             tmp_path) -> None:
    good = [s for s in cartpole_segments if s.true_return == 20.0][:3]
    down = [s for s in cartpole_segments if s.true_return == 0.0][:3]  # wholly fallen
    pairs = [(good[0], down[0]), (down[1], good[1]), (good[2], down[2]),
             (down[0], down[1])]  # two fallen clips teach nothing: never queued
    store = FeedbackStore(tmp_path / "fb.sqlite")
    ids = enqueue_segment_pairs(store, pairs, tmp_path / "clips", task="cartpole")
    assert len(ids) == 3 and len(list((tmp_path / "clips").glob("*.gif"))) == 6 + 3  # + strips
    out = io.StringIO()
    TerminalLabeler(store, "alice", stdin=io.StringIO("1\n2\n1\n"), stdout=out,
                    opener=lambda path: None).run()
    assert ".gif" in out.getvalue()  # the terminal shows the clips as files to open
    records = [r for r in store.records() if isinstance(r, Comparison)]
    assert len(records) == 3 and records[0].response_a.endswith(".gif")
    bank = SegmentBank(good + down)
    assert bank.get(records[0].chosen).id == good[0].id  # clip path → segment
    assert [bank.get(r.chosen).true_return for r in records] == [20.0, 20.0, 20.0]
    env = gym.make("CartPole-v1")
    net = TrajectoryRewardNet(env.observation_space, env.action_space, seed=0)
    before = [p.detach().clone() for p in net.parameters()]
    fit_segment_model(net, records, bank)
    after = list(net.parameters())
    assert any(not np.allclose(a, b.detach()) for a, b in zip(before, after, strict=True))


def test_recorded_frames_become_a_clip(tmp_path, monkeypatch) -> None:
    """MuJoCo segments collected with render_mode='rgb_array' (skipped without a GL)."""
    pytest.importorskip("mujoco")
    monkeypatch.setenv("MUJOCO_GL", "egl")
    from rlhf_env.control.clips import write_segment_clip
    from rlhf_env.control.envs import make_rlhf_env
    from rlhf_env.control.segments import collect_trajectories, sample_segments

    try:
        env = make_rlhf_env("RLHF-HalfCheetah-v0", horizon=12, render_mode="rgb_array",
                            width=48, height=32)
        trajs = collect_trajectories(env, None, 12, seed=0, record_frames=True)
    except Exception as exc:  # no EGL on this machine: clips stay optional
        pytest.skip(f"MuJoCo rendering unavailable: {exc}")
    seg = sample_segments(trajs, 8, 1, np.random.default_rng(0), "RLHF-HalfCheetah-v0")[0]
    assert seg.frames is not None and seg.frames.shape == (8, 32, 48, 3)
    path = write_segment_clip(seg, tmp_path)
    with Image.open(path) as img:
        assert img.n_frames == 8 and path.stem == seg.id


def test_halfcheetah_segments_are_rendered_from_their_observations() -> None:
    """No frames recorded: MuJoCo renders the segment offscreen from its observations, and
    the result matches frames recorded by the env itself (the forward position is rebuilt
    from the velocities, so the floor drifts by a little)."""
    pytest.importorskip("mujoco")
    from rlhf_env.control.segments import collect_trajectories, sample_segments

    env = gym.make("RLHF-HalfCheetah-v0", render_mode="rgb_array", width=160, height=120)
    rng = np.random.default_rng(0)

    class Flailing:
        def predict(self, obs, deterministic=False):  # type: ignore[no-untyped-def]
            return rng.uniform(-1, 1, 6).astype(np.float32), None

    traj = collect_trajectories(env, Flailing(), 12, seed=1, record_frames=True)[0]
    seg = sample_segments([traj], 12, 1, np.random.default_rng(0), source="HalfCheetah-v5")[0]
    recorded = seg.frames
    drawn = segment_frames(Segment(seg.obs, seg.actions, seg.next_obs, seg.true_rewards, None,
                                   seg.source))
    assert drawn.shape == (13, 120, 160, 3) and drawn.dtype == np.uint8
    gap = np.abs(drawn[:12].astype(int) - recorded.astype(int)).mean()
    assert gap < 6, f"drawn frames are far from the env's own ({gap:.1f} of 255 per pixel)"
    assert np.abs(np.diff(drawn.astype(int), axis=0)).mean() > 0.5, "the cheetah never moved"
