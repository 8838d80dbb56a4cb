"""Prompt sources: where ``reset()`` draws its prompts from, and how it picks one.

:func:`pick_prompts` is the one reader of the ``reset(options={"prompt_index": ...})``
option, for the single and the vector text envs alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_env.errors import ConfigError, PromptError
from rlhf_env.files import read_utf8

PROMPT_DIR = Path(__file__).resolve().parents[1] / "data" / "prompts"


class PromptSource:
    """An immutable, indexable list of prompt texts sampled with the env's ``np_random``.

    Build one with :meth:`from_spec` from a list of strings, a ``.txt`` file (one prompt per
    line), a ``.jsonl`` file (a ``"prompt"`` field per line), or a Hugging Face dataset column
    given as ``(dataset, "column")``.
    """

    def __init__(self, prompts: Sequence[str], name: str = "prompts") -> None:
        prompts = list(prompts)
        bad = [i for i, p in enumerate(prompts) if not isinstance(p, str)]
        if bad:
            raise PromptError(
                f"prompts must be strings; items {bad[:5]} of {name} are "
                f"{type(prompts[bad[0]]).__name__}."
            )
        if not any(p.strip() for p in prompts):
            raise PromptError(
                f"the prompt source {name!r} is empty (every prompt is blank); "
                f"give at least one non-empty prompt."
            )
        blank = [i for i, p in enumerate(prompts) if not p.strip()]
        if blank:  # dropping them would silently shift every prompt_index after them
            raise PromptError(
                f"prompt {blank[0]} of {name} is empty or blank ({len(blank)} such); remove "
                f"blank prompts so that prompt_index i means the i-th prompt you gave."
            )
        self._prompts: tuple[str, ...] = tuple(prompts)
        self.name = name

    def __len__(self) -> int:
        return len(self._prompts)

    def __getitem__(self, index: int) -> str:
        return self._prompts[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._prompts)

    def sample(self, rng: np.random.Generator) -> int:
        """Index of a uniformly drawn prompt."""
        return int(rng.integers(len(self._prompts)))

    @classmethod
    def from_spec(cls, spec: Any) -> PromptSource:
        """A source from a list, a file path, or ``(hf_dataset, column)``."""
        if isinstance(spec, PromptSource):
            return spec
        if isinstance(spec, (str, Path)):
            return cls._from_file(Path(spec))
        if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], str):
            dataset, column = spec
            if column not in getattr(dataset, "column_names", ()):
                raise PromptError(
                    f"the dataset has no column {column!r}; its columns are "
                    f"{list(getattr(dataset, 'column_names', []))}."
                )
            return cls(list(dataset[column]), name=f"dataset[{column!r}]")
        if isinstance(spec, Sequence):
            return cls(list(spec))
        raise PromptError(
            f"cannot make prompts from {type(spec).__name__}; pass a list of strings, a .txt or "
            f".jsonl path, or (dataset, column)."
        )

    @classmethod
    def _from_file(cls, path: Path) -> PromptSource:
        if not path.is_file():
            raise PromptError(f"prompt file {path} does not exist.")
        if path.suffix.lower() not in PROMPT_FILE_TYPES:
            raise PromptError(
                f"prompt file {path}: cannot read {path.suffix or 'a file without a suffix'} "
                f"files; use .txt (one prompt per line) or .jsonl (a 'prompt' field per line)."
            )
        text = read_utf8(path, PromptError)
        lines = text.splitlines()
        if path.suffix.lower() == ".txt":  # blank lines separate prompts; they are not prompts
            return cls([line for line in lines if line.strip()], name=str(path))
        prompts = []
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                prompt = json.loads(line)["prompt"]
            except (ValueError, KeyError, TypeError) as exc:
                raise PromptError(
                    f"{path}:{lineno}: expected a JSON object with a 'prompt' field ({exc})."
                ) from exc
            if not isinstance(prompt, str) or not prompt.strip():
                raise PromptError(f"{path}:{lineno}: 'prompt' must be a non-empty string, "
                                  f"got {prompt!r}.")
            prompts.append(prompt)
        return cls(prompts, name=str(path))


PROMPT_FILE_TYPES = (".txt", ".jsonl")
"""Suffixes :meth:`PromptSource.from_spec` reads (a ``.csv`` or ``.json`` file is refused,
not read as plain lines)."""


def bundled_prompts(name: str) -> PromptSource:
    """Prompts shipped with the package (``rlhf_env/data/prompts/<name>.txt``)."""
    return PromptSource.from_spec(PROMPT_DIR / f"{name}.txt")


RESET_OPTIONS = ("prompt_index",)
"""The reset options the text envs understand."""


def pick_prompts(options: Mapping[str, Any] | None, prompts: PromptSource,
                 rngs: Sequence[np.random.Generator]) -> list[int]:
    """One prompt index per sub-env (``len(rngs)`` of them; one for a single env).

    Without ``options["prompt_index"]`` sub-env ``i`` draws from ``rngs[i]`` (the single env
    passes its ``np_random``). With it, the indices are the option's: an int for every
    sub-env, or a sequence with one index per sub-env. Raises :class:`ConfigError` (a
    ``ValueError``) for unknown options, non-integer, out-of-range or miscounted indices.
    """
    options = {} if options is None else options
    unknown = sorted(set(options) - set(RESET_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown reset option(s) {unknown}; the only option is "
                          f"'prompt_index' (an int, or a list with one index per sub-env).")
    if "prompt_index" not in options:
        return [prompts.sample(rng) for rng in rngs]
    chosen = options["prompt_index"]
    values = [chosen] * len(rngs) if np.ndim(chosen) == 0 else list(chosen)
    if len(values) != len(rngs):
        raise ConfigError(f"options['prompt_index'] has {len(values)} entries for {len(rngs)} "
                          f"sub-envs; pass one int, or one index per sub-env.")
    return [_checked_index(value, len(prompts)) for value in values]


def _checked_index(value: Any, n_prompts: int) -> int:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"options['prompt_index'] must hold integer prompt indices, got "
                          f"{value!r} ({type(value).__name__}).")
    if not 0 <= value < n_prompts:
        raise ConfigError(f"options['prompt_index']={int(value)} is outside "
                          f"[0, {n_prompts - 1}] (the env has {n_prompts} prompts).")
    return int(value)
