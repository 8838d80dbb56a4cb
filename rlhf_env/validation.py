"""Typed checks for values that come from users: one place for the wording of "bad input".

Each check returns the value in its plain Python type (``numpy.int64(3)`` → ``3``) or raises
:class:`~rlhf_env.errors.ConfigError` (or the error class passed as ``error``) naming the
argument, the value given and what is expected. Booleans are never numbers here, strings
are never numbers, and NaN/±inf are refused wherever a float is expected.

    >>> check_int("max_response_tokens", 8, minimum=1)
    8
    >>> check_int("prompt_index", 1.7, minimum=0)
    Traceback (most recent call last):
    ...
    rlhf_env.errors.ConfigError: prompt_index must be an integer >= 0, got 1.7 (float).
    >>> check_float("kl_coef", float("nan"), minimum=0.0)
    Traceback (most recent call last):
    ...
    rlhf_env.errors.ConfigError: kl_coef must be a finite number >= 0.0, got nan (float).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from rlhf_env.errors import ConfigError, RLHFEnvError

ErrorType = type[RLHFEnvError]


def _given(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def _range(minimum: float | None, maximum: float | None, exclusive_min: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if exclusive_min else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    return (" " + " and ".join(parts)) if parts else ""


def fail(name: str, value: Any, expected: str, error: ErrorType = ConfigError) -> RLHFEnvError:
    """The error for ``name`` given ``value`` when ``expected`` was wanted (to ``raise``)."""
    return error(f"{name} must be {expected}, got {_given(value)}.")


def is_number(value: Any) -> bool:
    """A real number that is not a bool (Python or NumPy)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None,
              error: ErrorType = ConfigError) -> int:
    """``value`` as an ``int``; whole floats (``8.0``) pass, ``1.7``, ``"8"`` and bools do not."""
    expected = "an integer" + _range(minimum, maximum, False)
    if not is_number(value):
        raise fail(name, value, expected, error)
    if isinstance(value, numbers.Integral):
        result = int(value)
    else:
        as_float = float(value)
        if not math.isfinite(as_float) or not as_float.is_integer():
            raise fail(name, value, expected, error)
        result = int(as_float)
    if (minimum is not None and result < minimum) or (maximum is not None and result > maximum):
        raise fail(name, value, expected, error)
    return result


def check_optional_int(name: str, value: Any, **kwargs: Any) -> int | None:
    """:func:`check_int`, letting ``None`` through."""
    return None if value is None else check_int(name, value, **kwargs)


def check_float(name: str, value: Any, *, minimum: float | None = None,
                maximum: float | None = None, exclusive_min: bool = False,
                error: ErrorType = ConfigError) -> float:
    """``value`` as a finite ``float`` in range (``exclusive_min``: strictly above ``minimum``)."""
    expected = "a finite number" + _range(minimum, maximum, exclusive_min)
    if not is_number(value):
        raise fail(name, value, expected, error)
    result = float(value)
    if not math.isfinite(result):
        raise fail(name, value, expected, error)
    if minimum is not None and (result <= minimum if exclusive_min else result < minimum):
        raise fail(name, value, expected, error)
    if maximum is not None and result > maximum:
        raise fail(name, value, expected, error)
    return result


def check_optional_float(name: str, value: Any, **kwargs: Any) -> float | None:
    """:func:`check_float`, letting ``None`` through."""
    return None if value is None else check_float(name, value, **kwargs)


def check_bool(name: str, value: Any, error: ErrorType = ConfigError) -> bool:
    """``value`` when it is ``True``/``False`` (``"false"`` and ``0`` are refused)."""
    if isinstance(value, bool):
        return value
    if type(value).__name__ == "bool_":  # numpy.bool_
        return bool(value)
    raise fail(name, value, "True or False", error)


def check_str(name: str, value: Any, *, nonempty: bool = True,
              error: ErrorType = ConfigError) -> str:
    """``value`` when it is a string (not blank, unless ``nonempty=False``)."""
    if not isinstance(value, str) or (nonempty and not value.strip()):
        raise fail(name, value, "a non-empty string" if nonempty else "a string", error)
    return value


def check_choice(name: str, value: Any, choices: Collection[Any],
                 error: ErrorType = ConfigError) -> Any:
    """``value`` when it is one of ``choices``."""
    try:
        ok = value in choices
    except TypeError:  # unhashable
        ok = False
    if not ok:
        raise fail(name, value, "one of " + ", ".join(repr(c) for c in choices), error)
    return value


def check_finite_values(name: str, values: Iterable[Any] | Mapping[Any, Any],
                        error: ErrorType = ConfigError) -> None:
    """Every number in ``values`` (a sequence or a mapping's values) is finite."""
    items = values.items() if isinstance(values, Mapping) else enumerate(values)
    for key, v in items:
        if is_number(v) and not math.isfinite(float(v)):
            raise fail(f"{name}[{key!r}]", v, "a finite number", error)

def check_instance(name: str, value: Any, types: type | tuple[type, ...], expected: str,
                   error: ErrorType = ConfigError) -> Any:
    """``value`` when it is an instance of ``types`` (``expected`` says so in words)."""
    if not isinstance(value, types):
        raise fail(name, value, expected, error)
    return value


def check_mapping(name: str, value: Any, error: ErrorType = ConfigError) -> dict[str, Any]:
    """``value`` as a ``dict`` when it is a mapping with string keys (keyword arguments)."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise fail(name, value, "a dict of keyword arguments (string keys)", error)
    return dict(value)


def check_call_kwargs(name: str, func: Any, kwargs: Mapping[str, Any], what: str,
                      error: ErrorType = ConfigError) -> None:
    """``func(**kwargs)`` would bind: an unknown or missing keyword is named before the call
    (``what`` names the thing being built, e.g. ``"the reward model 'keyword'"``)."""
    import inspect

    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        params = [p for p in signature.parameters.values()
                  if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]
        raise error(f"{name}={dict(kwargs)!r} does not fit {what}: {exc}. Its keyword "
                    f"arguments are: {', '.join(p.name for p in params) or 'none'}.") from None


def call_with_kwargs(name: str, func: Any, kwargs: Mapping[str, Any], what: str,
                     error: ErrorType = ConfigError) -> Any:
    """``func(**kwargs)``, with an unknown keyword (found by the signature, or by a factory
    that passes ``**kwargs`` on) raised as ``error`` naming ``name`` and ``what``."""
    check_call_kwargs(name, func, kwargs, what, error)
    try:
        return func(**kwargs)
    except TypeError as exc:
        if "keyword argument" not in str(exc) or not kwargs:
            raise
        raise error(f"{name}={dict(kwargs)!r} does not fit {what}: {exc}.") from exc


def check_device(name: str, value: Any, error: ErrorType = ConfigError) -> Any:
    """``value`` when it is ``None`` or a torch device (or name) that exists on this machine."""
    if value is None:
        return None
    expected = "None, a device name like 'cpu' or 'cuda:0', or a torch.device"
    if not isinstance(value, str) and type(value).__name__ != "device":
        raise fail(name, value, expected, error)
    import torch

    try:
        device = torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise fail(name, value, expected, error) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index is not None and device.index >= count):
            raise error(f"{name}={value!r}: this machine has {count} CUDA device(s); use "
                        f"'cpu'{' or cuda:0..cuda:' + str(count - 1) if count else ''}.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise error(f"{name}={value!r}: MPS is not available on this machine; use 'cpu'.")
    return value


def check_folder(name: str, value: Any, *, may_be_missing: bool = False,
                 error: ErrorType = ConfigError) -> Any:
    """``value`` as a ``Path`` to a folder that exists (or does not exist yet, with
    ``may_be_missing``); a file, or a missing folder that must exist, is refused."""
    import os
    from pathlib import Path

    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise fail(name, value, "a folder path", error)
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise error(f"{name}: {path} is a file, not a folder; give the folder's path.")
    if not path.exists() and not may_be_missing:
        raise error(f"{name}: the folder {path} does not exist; check the path.")
    return path


def arg_int(minimum: int | None = None, maximum: int | None = None) -> Any:
    """An argparse ``type=`` for whole numbers in range (``--threads 0`` is refused)."""
    import argparse

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or (minimum is not None and value < minimum) or (
                maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(
                f"expected an integer{_range(minimum, maximum, False)}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def arg_float(minimum: float | None = None, maximum: float | None = None,
              exclusive_min: bool = False) -> Any:
    """An argparse ``type=`` for finite numbers in range (``nan``/``inf`` are refused)."""
    import argparse

    def parse(text: str) -> float:
        try:
            return check_float("value", float(text), minimum=minimum, maximum=maximum,
                               exclusive_min=exclusive_min)
        except (ValueError, ConfigError):
            raise argparse.ArgumentTypeError(
                f"expected a finite number{_range(minimum, maximum, exclusive_min)}, "
                f"got {text!r}") from None

    parse.__name__ = "number"
    return parse



_SIMPLE_TYPES = ("int", "float", "bool", "str")


def _simple_annotation(annotation: Any) -> tuple[str, bool] | None:
    """``("int", optional)`` for ``int`` / ``int | None`` (and float, bool, str) annotations;
    ``("tuple[int, ...]", optional)`` and ``("tuple[float, float]", …)`` for tuples of them."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    text = str(text).replace("typing.", "")
    if "[" in text:  # split on the top-level "|" only
        parts, depth, cur = [], 0, ""
        for ch in text:
            depth += ch == "["
            depth -= ch == "]"
            if ch == "|" and depth == 0:
                parts.append(cur.strip())
                cur = ""
            else:
                cur += ch
        parts.append(cur.strip())
    else:
        parts = [p.strip() for p in text.split("|")]
    optional = "None" in parts or "Optional" in text
    rest = [p for p in parts if p != "None"]
    if len(rest) != 1:
        return None
    kind = rest[0]
    if kind in _SIMPLE_TYPES:
        return kind, optional
    if kind.startswith("tuple[") and kind.endswith("]"):
        inner = [x.strip() for x in kind[6:-1].split(",")]
        if inner and all(x in _SIMPLE_TYPES or x == "..." for x in inner) \
                and inner[0] != "..." and (inner.count("...") == 0 or inner[1:] == ["..."]):
            return "tuple[" + ", ".join(inner) + "]", optional
    return None


def _check_scalar(name: str, type_name: str, value: Any, error: ErrorType) -> Any:
    if type_name == "int":
        return check_int(name, value, error=error)
    if type_name == "float":
        checked = check_float(name, value, error=error)
        if isinstance(value, float) or (isinstance(value, int) and abs(value) < 2**53):
            return value  # keep an int given for a float field as it was (when exact)
        return checked
    if type_name == "bool":
        return check_bool(name, value, error=error)
    return check_str(name, value, nonempty=False, error=error)


def check_tuple(name: str, value: Any, element: str, length: int | None = None,
                error: ErrorType = ConfigError) -> tuple[Any, ...]:
    """``value`` (a list or tuple, not a string) as a tuple whose items are ``element``
    (``"int"``, ``"float"``, ``"bool"``, ``"str"``), of ``length`` items if given."""
    what = f"a list of {element}s" if length is None else f"{length} {element}s (a list)"
    if isinstance(value, str) and element == "str" and length is None:
        value = (value,)  # one word, not its letters
    if isinstance(value, (str, bytes)) or (not isinstance(value, (list, tuple)) and not (
            type(value).__name__ == "ndarray")):
        raise fail(name, value, what, error)
    items = list(value)
    if length is not None and len(items) != length:
        raise fail(name, value, what, error)
    return tuple(_check_scalar(f"{name}[{i}]", element, v, error) for i, v in enumerate(items))


def check_instances(name: str, value: Any, cls: type, error: ErrorType = ConfigError
                    ) -> tuple[Any, ...]:
    """``value`` (a list or tuple) as a tuple whose items are all ``cls`` instances."""
    what = f"a list of {cls.__name__} objects"
    if not isinstance(value, (list, tuple)):
        raise fail(name, value, what, error)
    for i, item in enumerate(value):
        if not isinstance(item, cls):
            raise fail(f"{name}[{i}]", item, f"a {cls.__name__}", error)
    return tuple(value)


def check_fields(obj: Any, error: ErrorType = ConfigError) -> None:
    """Check the type of every ``int``/``float``/``bool``/``str`` field of a dataclass,
    and of tuples of them (``tuple[int, ...]``, ``tuple[float, float]``).

    Meant for a config's ``__post_init__``: ``kl_coef="a"`` or ``max_response_tokens="8"``
    fail here with the config and field named, floats must be finite, and whole-number
    floats in ``int`` fields (``8.0``) and NumPy scalars become plain Python values (so a
    frozen config keeps comparing and serialising as before). A tuple field takes a list or
    tuple (a string is one word, never a list of letters; ``hidden="64"`` fails) and is
    stored as a tuple.
    Ranges stay with each config.
    """
    import dataclasses

    owner = type(obj).__name__
    for f in dataclasses.fields(obj):
        kind = _simple_annotation(f.type)
        if kind is None:
            continue
        type_name, optional = kind
        value = getattr(obj, f.name)
        if value is None and optional:
            continue
        name = f"{owner}.{f.name}"
        if type_name.startswith("tuple["):
            inner = [x.strip() for x in type_name[6:-1].split(",")]
            checked: Any = check_tuple(name, value, inner[0],
                                       None if "..." in inner else len(inner), error)
            if isinstance(value, tuple) and checked == value and all(
                    type(a) is type(b) for a, b in zip(checked, value, strict=True)):
                checked = value
        else:
            checked = _check_scalar(name, type_name, value, error)
        if checked is not value:
            object.__setattr__(obj, f.name, checked)


__all__ = [
    "arg_float",
    "arg_int",
    "call_with_kwargs",
    "check_bool",
    "check_call_kwargs",
    "check_choice",
    "check_device",
    "check_fields",
    "check_finite_values",
    "check_float",
    "check_folder",
    "check_instance",
    "check_instances",
    "check_int",
    "check_mapping",
    "check_optional_float",
    "check_optional_int",
    "check_str",
    "check_tuple",
    "fail",
    "is_number",
]
