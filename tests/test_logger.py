"""make_logger (rlhf_env.logger): one SB3 Logger for TensorBoard, CSV and W&B."""

from __future__ import annotations

import csv
import sys

import numpy as np
import pytest

from rlhf_env.errors import MissingDependencyError, UnknownNameError
from rlhf_env.logger import WandbWriter, make_logger


def test_csv_and_tensorboard_get_what_is_recorded(tmp_path):
    pytest.importorskip("tensorboard")
    logger = make_logger(tmp_path / "run", ("csv", "tensorboard"))
    for step in (8, 16):
        logger.record("rlhf/score", step / 8)
        logger.record("time/total_timesteps", step, exclude="tensorboard")
        logger.dump(step)
    logger.close()
    with (tmp_path / "run" / "progress.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["rlhf/score"]) for r in rows] == [1.0, 2.0]
    assert list((tmp_path / "run").glob("events.out.tfevents.*"))


def test_unknown_backends_and_missing_packages_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(UnknownNameError, match="Did you mean 'tensorboard'"):
        make_logger(tmp_path, ("tensorbaord",))
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'rlhf-env\[wandb\]'"):
        make_logger(tmp_path, ("wandb",))


def test_wandb_writer_logs_numbers_and_text_but_not_what_tensorboard_skips():
    class FakeRun:
        def __init__(self) -> None:
            self.rows: list[tuple[dict, int]] = []

        def log(self, row: dict, step: int) -> None:
            self.rows.append((row, step))

    writer = WandbWriter.__new__(WandbWriter)  # no wandb.init: only write() is under test
    writer.run = FakeRun()
    writer.write({"rlhf/kl": np.float32(0.5), "samples": "a → b", "time/iterations": 3,
                  "train/n_updates": 4, "hist": np.zeros(3)},
                 {"rlhf/kl": None, "samples": ("csv",), "time/iterations": ("tensorboard",),
                  "train/n_updates": ("tensorboard",), "hist": None}, step=16)
    assert writer.run.rows == [({"rlhf/kl": 0.5, "samples": "a → b"}, 16)]
    assert type(writer.run.rows[0][0]["rlhf/kl"]) is float
