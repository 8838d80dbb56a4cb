"""Keep third-party chatter out of our own calls: progress bars, INFO logs, known deprecations.

Loading a model with transformers 5 draws a "Loading weights" progress bar, saving one a
"Writing model shards" bar, and peft reads a deprecated transformers property when it wraps
a model (a ``FutureWarning``). Inside our loaders and savers that is noise: the user asked
for a reward model or a policy, not for a tour of its tensors. :func:`quiet_hf` silences
exactly those, **only for the duration of our call**, and puts everything back as it was:

- transformers' own progress bars (downloads from the Hub keep theirs: they can take
  minutes and deserve one);
- transformers' log messages below ``ERROR`` (``keep_warnings=True`` keeps warnings, for
  loads where a warning matters, such as a classifier checkpoint without its head);
- the warnings listed in :data:`KNOWN_WARNINGS`, matched by category and message.

Nothing is filtered at import time and no global setting is left changed. A user who
raised transformers' verbosity (``transformers.logging.set_verbosity_info()``) asked to see
more, so then :func:`quiet_hf` changes nothing.

Stable-Baselines3 has one habit of the same kind: an algorithm built without
``tensorboard_log`` configures, on every ``learn()`` call, a logger whose folder is a new,
empty ``SB3-<date and time>`` folder in the temp directory. :func:`sb3_without_temp_folder`
gives such an algorithm a logger that prints what SB3 would print and writes no folder.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     with quiet_hf():
    ...         warnings.warn("`is_gradient_checkpointing` is deprecated", FutureWarning)
    ...     warnings.warn("`is_gradient_checkpointing` is deprecated", FutureWarning)
    >>> len(caught)  # the one inside was silenced, the one outside was not
    1
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from typing import Any

KNOWN_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    # peft's PeftModel.__init__ (peft 0.x) reads `model.is_gradient_checkpointing`, which
    # transformers 5 deprecated in favour of `is_activation_checkpointing`; it fires on every
    # get_peft_model / PeftModel.from_pretrained and is peft's to fix, not the user's.
    (FutureWarning, r"`is_gradient_checkpointing` is deprecated"),
)
"""``(category, message regex)`` of third-party warnings that our own calls trigger and a
user can do nothing about. Add one here (with where it comes from) rather than filtering
it anywhere else."""


def _no_bar(factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A transformers tqdm hook that builds every bar disabled."""
    return factory(*args, **{**kwargs, "disable": True})


@contextlib.contextmanager
def _transformers_bars_off(hf_logging: Any) -> Iterator[None]:
    """transformers' own bars off; the previous hook or setting back on exit."""
    set_hook = getattr(hf_logging, "set_tqdm_hook", None)
    if set_hook is not None:  # transformers >= 5: a hook leaves the Hub's download bars be
        previous = set_hook(_no_bar)
        try:
            yield
        finally:
            set_hook(previous)
        return
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def _transformers_verbosity(hf_logging: Any, level: int) -> Iterator[None]:
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity(max(level, previous))
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)


@contextlib.contextmanager
def quiet_hf(*, keep_warnings: bool = False) -> Iterator[None]:
    """Run a transformers/peft call without its progress bars, INFO logs and the
    :data:`KNOWN_WARNINGS`; every setting is restored on exit (see the module docstring).

    Works as a decorator too. ``keep_warnings=True`` lets transformers' warnings through.
    """
    from transformers.utils import logging as hf_logging

    with warnings.catch_warnings():
        for category, message in KNOWN_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        if hf_logging.get_verbosity() < logging.WARNING:  # the user asked for detail
            yield
            return
        level = logging.WARNING if keep_warnings else logging.ERROR
        with _transformers_bars_off(hf_logging), _transformers_verbosity(hf_logging, level):
            yield


def sb3_without_temp_folder(model: Any) -> Any:
    """Give an SB3 algorithm that has no ``tensorboard_log`` a logger with no folder (stdout
    only with ``verbose >= 1``, as SB3's own default), so ``learn()`` leaves no empty
    ``SB3-<time>`` folder in the temp directory; returns ``model``.

    An algorithm with ``tensorboard_log`` keeps SB3's logger (it writes there, not to the
    temp directory); call ``model.set_logger`` yourself after this to log elsewhere.
    """
    if model.tensorboard_log is not None:
        return model
    from stable_baselines3.common.logger import HumanOutputFormat, KVWriter, Logger

    outputs: list[KVWriter] = [HumanOutputFormat(sys.stdout)] if model.verbose >= 1 else []
    model.set_logger(Logger(folder=None, output_formats=outputs))
    return model


__all__ = ["KNOWN_WARNINGS", "quiet_hf", "sb3_without_temp_folder"]
