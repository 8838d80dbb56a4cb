"""Where a model comes from, recorded so that a saved folder can find it again.

A saved folder that does not carry its base model (a reward-model head over a frozen
encoder, LoRA adapters over a causal LM) records where that base model lives. The record
must survive a change of working directory, and a location that has gone must fail at once
with a message that says how to fix it, never after a round of hub retries.

:func:`model_source` turns what a user passed (a bundled name, a local folder, a hub id)
into a :class:`ModelSource`: local folders become **absolute** paths. :func:`check_source`
is the loader's side: a recorded local folder that no longer exists raises
:class:`~rlhf_env.errors.ModelLoadError` naming it. :func:`looks_like_path` is the one rule
for "this string is a file-system path, not a hub id" that every loader shares.

    >>> model_source("tiny-random-bert").kind
    'bundled'
    >>> model_source("sentence-transformers/all-MiniLM-L6-v2").kind
    'hub'
    >>> looks_like_path("./my-folder"), looks_like_path("owner/name")
    (True, False)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlhf_env.errors import ConfigError, ModelLoadError
from rlhf_env.models.bundled import BUNDLED

SOURCE_KINDS = ("bundled", "local", "hub")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def looks_like_path(text: str) -> bool:
    """Whether ``text`` can only be a file-system path: absolute, starting with ``.``,
    ``..`` or ``~``, containing a backslash, or with more than one ``/`` (a hub id is
    ``owner/name``, one slash at most)."""
    text = str(text)
    return (text.startswith(("/", "./", "../", "~", "\\")) or text in (".", "..")
            or "\\" in text or text.count("/") > 1 or text.endswith("/")
            or bool(_WINDOWS_DRIVE.match(text)))


@dataclass(frozen=True)
class ModelSource:
    """A model's location as a saved folder records it."""

    kind: str
    """``"bundled"`` (a name from :data:`~rlhf_env.models.BUNDLED`), ``"local"`` (an
    absolute folder path) or ``"hub"`` (a Hugging Face Hub id)."""
    location: str
    """The bundled name, the absolute path or the hub id."""

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ConfigError(f"a model source kind must be one of {SOURCE_KINDS}, got "
                              f"{self.kind!r}.")

    def to_dict(self) -> dict[str, str]:
        """JSON form: ``{"kind": ..., "location": ...}``."""
        return {"kind": self.kind, "location": self.location}

    @classmethod
    def from_dict(cls, data: Any) -> ModelSource:
        """Inverse of :meth:`to_dict`; anything else raises :class:`ModelLoadError`."""
        if not isinstance(data, dict) or not isinstance(data.get("location"), str):
            raise ModelLoadError(f"a saved model source must be {{'kind': ..., 'location': "
                                 f"...}}, got {data!r}; the folder's config is damaged.")
        try:
            return cls(str(data.get("kind")), data["location"])
        except ConfigError as exc:
            raise ModelLoadError(f"{exc} The folder's config is damaged.") from None


def model_source(name_or_path: str | os.PathLike[str]) -> ModelSource:
    """Classify a model argument, resolving an existing local folder to its absolute path.

    A bundled name wins over a folder of the same name. A string that looks like a path
    (:func:`looks_like_path`) but does not exist raises :class:`ModelLoadError` now, so a
    typo never reaches the hub.
    """
    text = os.fspath(name_or_path)
    if text in BUNDLED:
        return ModelSource("bundled", text)
    path = Path(text).expanduser()
    if path.exists():
        return ModelSource("local", str(path.resolve()))
    if looks_like_path(text):
        raise ModelLoadError(
            f"there is no folder at {text!r} (looked in {path.resolve()}, from the working "
            f"directory {Path.cwd()}). Pass an existing folder, a bundled name "
            f"({', '.join(BUNDLED)}) or a hub id 'owner/name'.")
    return ModelSource("hub", text)


def check_source(source: ModelSource, *, what: str, saved_in: str | Path,
                 override: str = "") -> str:
    """The string a loader should open for ``source``; a ``"local"`` source whose folder has
    gone raises :class:`ModelLoadError` at once, naming it and how to fix it.

    ``what`` names the model ("the backbone"), ``saved_in`` the folder that recorded it and
    ``override`` the keyword argument a caller can pass to point at its new location.
    """
    if source.kind != "local" or Path(source.location).exists():
        return source.location
    fix = (f"pass its new location when loading ({override}='/new/path'), or "
           if override else "")
    raise ModelLoadError(
        f"{saved_in} was saved with {what} at the local path {source.location}, which no "
        f"longer exists. To load it, {fix}move {what} back to {source.location}."
    )


__all__ = ["SOURCE_KINDS", "ModelSource", "check_source", "looks_like_path", "model_source"]
