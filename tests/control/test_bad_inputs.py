"""Bad input to the control loop: configs, crafted/old/corrupt checkpoints, unsafe ids."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from rlhf_env.control.checkpoint import read_checkpoint
from rlhf_env.control.clips import write_segment_clip
from rlhf_env.control.demonstrations import load_demonstrations
from rlhf_env.control.loop import LoopConfig, PreferenceLearningLoop
from rlhf_env.control.segments import Segment, SegmentBank
from rlhf_env.errors import CheckpointError, ConfigError, NoCheckpointError, TrainingError
from tests.control.test_loop import PPO_SMALL, small_config
from tests.crafted import evil_pickle, evil_torch_file, evil_zip


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"total_labels": "500"}, ["total_labels", "'500'", "integer"]),
    ({"rounds": 2.5}, ["rounds", "2.5"]),
    ({"error_rate": math.nan}, ["error_rate", "nan", "finite"]),
    ({"temperature": math.inf}, ["temperature", "inf"]),
    ({"horizon": "100"}, ["horizon", "'100'"]),
    ({"schedule": 3}, ["schedule", "3"]),
])
def test_loop_config_refuses_wrong_types(kwargs, words):
    with pytest.raises(ConfigError) as info:
        LoopConfig(**kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"horizon": -3}, ["horizon", "-3", ">= 1"]),
    ({"horizon": "100"}, ["horizon", "'100'", "integer"]),
    ({"horizon": 2.5}, ["horizon", "2.5"]),
    ({"absorbing_reward": math.nan}, ["absorbing_reward", "nan"]),
])
def test_control_env_kwargs_are_checked(kwargs, words):
    import gymnasium as gym

    with pytest.raises(ConfigError) as info:
        gym.make("RLHF-CartPole-v0", **kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A checkpoint folder with two saves (labels_used 0, then 7) of an untrained loop."""
    folder = tmp_path_factory.mktemp("ck")
    loop = PreferenceLearningLoop("RLHF-CartPole-v0", small_config(), algorithm_kwargs=PPO_SMALL)
    loop.checkpoint(folder)
    loop.state.labels_used = 7
    loop.checkpoint(folder)
    return folder


def _copy(src, dst):
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_resume_restores_the_agent_without_unpickling(saved):
    loop = PreferenceLearningLoop.resume(saved)
    assert loop.state.labels_used == 7
    assert not list(saved.glob("*.zip")) and not list(saved.glob("*.pt"))
    files = sorted(f.name.split("-")[0] for f in saved.iterdir() if "-" in f.name)
    assert files == ["agent"] * 2 + ["feedback"] * 2 + ["reward_model"] * 2 + ["segments"] * 2


@pytest.mark.parametrize("victim", ["agent", "reward_model", "segments", "feedback"])
def test_a_corrupt_file_falls_back_to_the_previous_save(saved, tmp_path, victim):
    folder = _copy(saved, tmp_path / "ck")
    state = json.loads((folder / "state.json").read_text())
    target = folder / state["files"][victim]["name"]
    target.write_bytes(target.read_bytes()[:-10] + b"!")  # cut short or altered
    with pytest.warns(RuntimeWarning, match="corrupt.*previous save"):
        loop = PreferenceLearningLoop.resume(folder)
    assert loop.state.labels_used == 0


def test_no_usable_save_is_a_clear_error(saved, tmp_path):
    folder = _copy(saved, tmp_path / "ck")
    (folder / "state.json").write_text("{not json")
    (folder / "state.prev.json").unlink()
    with pytest.raises(CheckpointError, match=r"no usable checkpoint .*state.json, line 1"):
        read_checkpoint(folder)
    with pytest.raises(NoCheckpointError, match="holds no checkpoint"):
        read_checkpoint(tmp_path / "empty")


@pytest.mark.parametrize("craft", [evil_pickle, evil_torch_file])
def test_crafted_data_files_run_nothing(saved, tmp_path, craft):
    folder = _copy(saved, tmp_path / "ck")
    marker = tmp_path / "ran"
    for name in ("state.json", "state.prev.json"):  # both saves point at crafted files
        state = json.loads((folder / name).read_text())
        for key in ("agent", "reward_model", "segments"):
            file = folder / state["files"][key]["name"]
            file.write_bytes(craft(marker))
            state["files"][key]["sha256"] = __import__("hashlib").sha256(
                file.read_bytes()).hexdigest()
        (folder / name).write_text(json.dumps(state))
    with pytest.raises((CheckpointError, ValueError)):
        PreferenceLearningLoop.resume(folder)
    assert not marker.exists()


def test_an_old_pickled_checkpoint_is_refused_without_loading_it(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "agent.zip").write_bytes(evil_zip(marker))
    (tmp_path / "reward_model.pt").write_bytes(evil_torch_file(marker))
    (tmp_path / "state.json").write_text(json.dumps({"env_id": "RLHF-CartPole-v0"}))
    with pytest.raises(CheckpointError, match=r"older rlhf-env .* pickles"):
        PreferenceLearningLoop.resume(tmp_path)
    assert not marker.exists()


def test_pickled_arrays_are_never_loaded(tmp_path):
    marker = tmp_path / "ran"
    for loader, name in ((SegmentBank.load, "bank.npz"), (load_demonstrations, "demos.npz")):
        path = tmp_path / name
        np.savez(path, count=np.array(1), ids=np.array([object()], dtype=object))
        with pytest.raises((ValueError, ConfigError)):
            loader(path)
        path.write_bytes(evil_pickle(marker))
        with pytest.raises((ValueError, OSError, ConfigError)):
            loader(path)
    assert not marker.exists()


@pytest.mark.parametrize("bad_id", ["../x", "/etc/passwd", "a/b", ".hidden", "..", ""])
def test_a_segment_id_cannot_write_outside_the_clip_folder(tmp_path, bad_id):
    clips = tmp_path / "clips"
    seg = Segment(np.zeros((3, 4)), np.zeros(3), np.zeros((3, 4)), np.zeros(3),
                  np.zeros((3, 8, 8, 3), dtype=np.uint8), "RLHF-CartPole-v0", bad_id or "x")
    if not bad_id:
        object.__setattr__(seg, "id", "")
    with pytest.raises(ConfigError, match=r"segment id .* cannot be a file name"):
        write_segment_clip(seg, clips)
    assert not (tmp_path / "x.gif").exists()
    assert not clips.exists() or not any(clips.iterdir())


def test_the_loop_does_not_checkpoint_non_finite_weights(tmp_path):
    loop = PreferenceLearningLoop("RLHF-CartPole-v0", small_config(), algorithm_kwargs=PPO_SMALL)
    with torch.no_grad():
        next(loop.ensemble.parameters()).fill_(math.inf)
    with pytest.raises(TrainingError, match=r"reward model.*NaN or inf.*not written"):
        loop.checkpoint(tmp_path / "ck")
    assert not (tmp_path / "ck" / "state.json").exists()


@pytest.mark.parametrize(("field", "value"), [
    ("temperature", -1.0), ("temperature", 0.0), ("error_rate", -0.1), ("error_rate", 1.5),
    ("horizon", 0), ("seed", -1), ("seed", 2**40), ("hidden", (64, 0)),
])
def test_loop_config_ranges_that_were_accepted(field, value):
    """A negative temperature or an error rate above 1 was taken and gave a labeler that
    answered backwards or always wrong."""
    from rlhf_env.control.loop import LoopConfig
    from rlhf_env.errors import ConfigError

    with pytest.raises(ConfigError, match=field):
        LoopConfig(**{field: value})
