"""Prompt sources: where ``reset()`` draws its prompts from."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_env.errors import PromptError

PROMPT_DIR = Path(__file__).resolve().parents[1] / "data" / "prompts"


class PromptSource:
    """An immutable, indexable list of prompt texts sampled with the env's ``np_random``.

    Build one with :meth:`from_spec` from a list of strings, a ``.txt`` file (one prompt per
    line), a ``.jsonl`` file (a ``"prompt"`` field per line), or a Hugging Face dataset column
    given as ``(dataset, "column")``.
    """

    def __init__(self, prompts: Sequence[str], name: str = "prompts") -> None:
        cleaned = [p for p in prompts if isinstance(p, str) and p.strip()]
        bad = [i for i, p in enumerate(prompts) if not isinstance(p, str)]
        if bad:
            raise PromptError(
                f"prompts must be strings; items {bad[:5]} of {name} are "
                f"{type(prompts[bad[0]]).__name__}."
            )
        if not cleaned:
            raise PromptError(
                f"the prompt source {name!r} is empty (after dropping blank prompts); "
                f"give at least one non-empty prompt."
            )
        self._prompts: tuple[str, ...] = tuple(cleaned)
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
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            prompts = []
            for lineno, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    prompts.append(json.loads(line)["prompt"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise PromptError(
                        f"{path}:{lineno}: expected a JSON object with a 'prompt' field ({exc})."
                    ) from exc
            return cls(prompts, name=str(path))
        return cls(text.splitlines(), name=str(path))


def bundled_prompts(name: str) -> PromptSource:
    """Prompts shipped with the package (``rlhf_env/data/prompts/<name>.txt``)."""
    return PromptSource.from_spec(PROMPT_DIR / f"{name}.txt")
