"""Where learners' metrics go: one Stable-Baselines3 ``Logger`` with TensorBoard, CSV and
Weights & Biases outputs.

Every learner records its metrics (keys from :mod:`rlhf_env.metrics`) into an SB3
``Logger`` and dumps them once per iteration at its env-step count. SB3 algorithms have one
already; the token-level trainer and the control preference loop build theirs with
:func:`make_logger`, and an SB3 user adds W&B to a model with
``model.set_logger(make_logger(log_dir, ("tensorboard", "wandb")))``.

W&B runs go under ``log_dir/wandb``; the project is ``$WANDB_PROJECT`` (default
``rlhf-env``), and ``WANDB_MODE=offline`` keeps everything on disk (``wandb sync`` uploads it
later). W&B logs what TensorBoard logs: keys SB3 keeps out of TensorBoard
(``time/iterations``, ``train/n_updates``) stay out of W&B too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stable_baselines3.common.logger import KVWriter, Logger, make_output_format

from rlhf_env.errors import MissingDependencyError
from rlhf_env.metrics import check_log_with

WANDB_PROJECT = "rlhf-env"
"""W&B project of runs made here when ``$WANDB_PROJECT`` is not set."""


def make_logger(log_dir: str | os.PathLike[str], log_with: Iterable[str] = ("tensorboard",),
                *, run_config: Mapping[str, Any] | None = None,
                run_name: str | None = None) -> Logger:
    """An SB3 ``Logger`` writing to ``log_with`` (:data:`~rlhf_env.metrics.LOG_BACKENDS`)
    under ``log_dir``: TensorBoard event files in ``log_dir``, ``log_dir/progress.csv``, a W&B
    run (``run_config``: its config, e.g. the learner's settings; ``run_name``: its name).

    A missing optional package raises :class:`~rlhf_env.errors.MissingDependencyError`
    with the command that installs it.
    """
    backends = check_log_with(log_with)
    folder = str(log_dir)
    Path(folder).mkdir(parents=True, exist_ok=True)
    formats: list[KVWriter] = []
    for backend in backends:
        if backend == "wandb":
            formats.append(WandbWriter(folder, run_config=run_config, run_name=run_name))
        else:
            if backend == "tensorboard":
                _require("tensorboard", "TensorBoard logging", "pip install tensorboard")
            formats.append(make_output_format(backend, folder))
    return Logger(folder=folder, output_formats=formats)


def _require(module: str, feature: str, install: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module, feature, install) from exc


class WandbWriter(KVWriter):
    """An SB3 output format that logs each dump as one step of a W&B run.

    Numbers and strings are logged (strings: sample responses); keys excluded from
    ``"tensorboard"`` or ``"wandb"`` are skipped. :meth:`close` finishes the run.
    """

    def __init__(self, log_dir: str, *, run_config: Mapping[str, Any] | None = None,
                 run_name: str | None = None) -> None:
        wandb = _require("wandb", "Weights & Biases logging", "pip install 'rlhf-env[wandb]'")
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT") or WANDB_PROJECT,
                              dir=log_dir, name=run_name,
                              config=dict(run_config) if run_config is not None else None,
                              reinit="create_new")

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]],
              step: int = 0) -> None:
        row = {key: _plain(value) for key, value in key_values.items()
               if _loggable(value) and not _excluded(key_excluded.get(key))}
        if row:
            self.run.log(row, step=int(step))

    def close(self) -> None:
        self.run.finish()


def _loggable(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (int, float, str, np.number, np.bool_))


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _excluded(excluded: tuple[str, ...] | str | None) -> bool:
    if excluded is None:
        return False
    names = (excluded,) if isinstance(excluded, str) else excluded
    return "tensorboard" in names or "wandb" in names
