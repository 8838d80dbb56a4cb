"""Exception hierarchy for rlhf-env.

Every message says what was wrong, what was expected, and how to fix it. Catch
:class:`RLHFEnvError` to handle anything this package raises on purpose. Warnings go through
Python's :mod:`warnings` as subclasses of :class:`RLHFEnvWarning`, so
``warnings.simplefilter("error", RLHFEnvWarning)`` turns them into errors (in CI, say) and
``"ignore"`` silences them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RLHFEnvError(Exception):
    """Base class of every error rlhf-env raises on purpose."""


class ConfigError(RLHFEnvError, ValueError):
    """A configuration value or keyword argument is invalid."""


class SettingsError(ConfigError):
    """A setting given in a config file, with ``--set`` or as a command-line flag is bad: an
    unreadable config file, a value of the wrong type, or one the config refuses. Commands
    exit with status 2 for it (a bad option), as for an unknown name."""


class MissingDependencyError(RLHFEnvError, ImportError):
    """An optional package is needed for this feature but is not installed."""

    def __init__(self, package: str, feature: str, install: str | None = None) -> None:
        self.package = package
        self.install = install or f"pip install {package}"
        super().__init__(
            f"{feature} needs the package '{package}', which is not installed. "
            f"Install it with `{self.install}`."
        )


class ModelLoadError(RLHFEnvError, OSError):
    """A language model, tokenizer or encoder could not be loaded."""


class CacheError(RLHFEnvError, OSError):
    """The model cache is unusable (not writable, or corrupt beyond repair)."""


class UnknownNameError(RLHFEnvError, KeyError):
    """A name (model, task, reward model…) is not registered. Suggests close names."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = "") -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        msg = f"unknown {kind} {name!r}."
        if close:
            msg += f" Did you mean {', '.join(repr(c) for c in close)}?"
        msg += f" Known {kind}s: {', '.join(known) if known else '(none)'}."
        if hint:
            msg += f" {hint}"
        self.message = msg
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.message


class RewardModelError(RLHFEnvError, ValueError):
    """A reward model returned unusable scores (NaN/inf, wrong shape or dtype)."""


class InvalidActionError(RLHFEnvError, ValueError):
    """An action passed to ``step`` is outside the action space."""


class PromptError(RLHFEnvError, ValueError):
    """The prompt source is empty or a prompt cannot be used."""


class FeedbackError(RLHFEnvError, ValueError):
    """Feedback data is malformed, inconsistent or refers to unknown entities."""


class StoreError(RLHFEnvError, OSError):
    """A feedback store file cannot be used: not SQLite, corrupt, truncated, another
    program's database, a newer schema than this version reads, or not readable/writable."""


class CheckpointError(RLHFEnvError, OSError):
    """A checkpoint or saved model file is missing parts, corrupt, or not in our format."""


class NoCheckpointError(CheckpointError, ConfigError):
    """A folder given to resume from holds no checkpoint at all."""


class TrainingError(RLHFEnvError, RuntimeError):
    """Training cannot go on: a loss or gradient became NaN/inf (nothing was saved)."""


class CheckError(RLHFEnvError, AssertionError):
    """Raised by :func:`rlhf_env.check_rlhf_env` when an environment breaks a contract."""


class BenchmarkError(RLHFEnvError, RuntimeError):
    """A benchmark algorithm broke the protocol (e.g. yielded a NaN gold score), or a sweep's
    run folder cannot be used as asked."""


class QueueConflictError(FeedbackError):
    """The labeling queue changed under a request: the item was already answered by this
    annotator, has all the answers it wants, or its lease went to someone else."""


class RLHFEnvWarning(UserWarning):
    """Base class of the warnings rlhf-env issues on purpose (filter them by this class)."""


class ChanceLevelWarning(RLHFEnvWarning):
    """A trained reward model is not measurably better than chance on held-out feedback:
    the 95% interval of its pairwise accuracy includes 0.5."""
