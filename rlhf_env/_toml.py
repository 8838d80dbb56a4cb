"""TOML for config files: :func:`loads` (the standard library's ``tomllib``) and a small
:func:`dumps` (the standard library only reads TOML).

:func:`dumps` writes what :mod:`rlhf_env.configs` produces: a table of strings, numbers
(``inf``/``nan`` included), booleans, lists, sub-tables and lists of tables. TOML has no
null, so ``None`` must be left out before (``configs`` does).

    >>> print(dumps({"seed": 1, "hidden": [64, 64], "head": {"kind": "mlp"}}), end="")
    seed = 1
    hidden = [64, 64]
    <BLANKLINE>
    [head]
    kind = "mlp"
    >>> loads('seed = 1')
    {'seed': 1}
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

from rlhf_env.errors import MissingDependencyError, SettingsError


def loads(text: str) -> dict[str, Any]:
    """The table in TOML ``text`` (raises ``ValueError`` saying the line and column)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError as exc:
            raise MissingDependencyError("tomli", "Reading TOML on Python 3.10",
                                         "pip install tomli") from exc
    return tomllib.loads(text)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def _toml_str(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_str(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise SettingsError(f"TOML cannot hold {value!r} ({type(value).__name__}); save the "
                      f"config as .yaml instead.")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml_table(data: dict[str, Any], path: tuple[str, ...]) -> list[str]:
    """Lines of one table: its plain keys, then sub-tables, then arrays of tables."""
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data.items()
             if not isinstance(v, dict) and not _is_table_list(v)]
    for key, value in data.items():
        header = ".".join(_toml_key(p) for p in (*path, key))
        if isinstance(value, dict):
            lines += ["", f"[{header}]", *_toml_table(value, (*path, key))]
        elif _is_table_list(value):
            for item in value:
                lines += ["", f"[[{header}]]", *_toml_table(item, (*path, key))]
    return lines


def dumps(data: dict[str, Any]) -> str:
    """TOML text of the table ``data`` (ends with a newline)."""
    return "\n".join(_toml_table(data, ())) + "\n"


__all__ = ["dumps", "loads"]
