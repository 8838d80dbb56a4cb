"""A griffe extension: every docstring of the API reference goes through :mod:`rstmd` first.

mkdocstrings loads it from ``mkdocs.yml`` (``extensions: [docs/hooks/griffe_rst.py]``). Role
targets are resolved in the scope of the object that carries the docstring, as Sphinx would
(``:meth:`step``` inside a class means that class's ``step``), so the links point at the
rendered object when there is one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import griffe

sys.path.insert(0, str(Path(__file__).parent))
from rstmd import to_markdown  # a sibling module, found through the line above

ABSOLUTE = ("rlhf_env", "agents", "gymnasium", "stable_baselines3", "torch", "numpy",
            "transformers")
"""Top-level packages whose dotted paths are taken as written."""


class RSTDocstrings(griffe.Extension):
    """Rewrite each docstring into Markdown once the object tree is complete."""

    def __init__(self) -> None:
        super().__init__()
        self._done: set[int] = set()

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is None or id(docstring) in self._done:
            return
        self._done.add(id(docstring))
        docstring.value = to_markdown(docstring.value, lambda name: _resolve(obj, name))


def _resolve(obj: griffe.Object, name: str) -> str | None:
    """The full path of ``name`` as seen from ``obj`` (``None`` when it is not found)."""
    head, _, rest = name.partition(".")
    if head in ABSOLUTE:
        return name
    scope = obj if obj.is_class or obj.is_module or obj.parent is None else obj.parent
    try:
        found = scope.resolve(head)
    except griffe.NameResolutionError:
        return None
    return f"{found}.{rest}" if rest else found
