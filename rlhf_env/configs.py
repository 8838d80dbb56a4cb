"""Config files for every config dataclass: TOML (or YAML), ``--set`` overrides, flags.

Every component here is set up by one frozen config dataclass (``TokenPPOConfig``,
``RewardTrainerConfig``, ``LoopConfig`` …). :func:`load_config` builds any of them from
layers, each later one winning over the earlier ones::

    the dataclass's defaults  <  a TOML/YAML file  <  --set KEY=VALUE  <  explicit values

    >>> from rlhf_env.bench.stats import StatsConfig
    >>> load_config(StatsConfig, overrides=["reps=500"], seed=3)
    StatsConfig(reps=500, seed=3, confidence=0.95, min_reference_gap=2.0)

A file holds one table of the dataclass's fields; a nested dataclass is a sub-table
(``[head]``), and a dotted key reaches into it (``--set head.kind=mlp``). Values are
converted by each field's annotation: ``int``, ``float``, ``bool``, ``str``, paths,
tuples and lists (``--set hidden=64,64`` or ``hidden=[64, 64]``), ``Literal`` choices,
dicts, nested dataclasses and ``X | None``. TOML has no null: in a field that may be
``None``, the text ``"none"`` or ``"null"`` (any case) stands for it, in a file and after
``--set`` alike (YAML's own ``null`` works too).

Errors say where the bad value came from: an unknown key raises
:class:`~rlhf_env.errors.UnknownNameError` with close-name suggestions and the file; a value
of the wrong type, or one the dataclass's ``__post_init__`` refuses, raises
:class:`~rlhf_env.errors.SettingsError` (a ``ConfigError``) naming the file (or ``--set``)
and the key. Fields
that hold objects (a loaded model, a callable) cannot come from a file: pass them in code.

:func:`save_config` writes a config back (TOML, or YAML for ``.yaml``/``.yml``) so that
``load_config(type(c), path) == c``. :func:`add_config_options` and
:func:`config_from_args` give a command ``--config FILE`` and ``--set KEY=VALUE``.
"""

from __future__ import annotations

import argparse
import builtins
import collections.abc
import dataclasses
import importlib
import os
import re
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from rlhf_env import _toml as toml
from rlhf_env.errors import MissingDependencyError, SettingsError, UnknownNameError
from rlhf_env.files import read_utf8, write_text

C = TypeVar("C")

RUN_CONFIG_FILE = "run_config.toml"
"""Name of the file a command saves its resolved settings in, inside the folder it writes:
``--config FOLDER/run_config.toml`` runs it again the same way."""
YAML_SUFFIXES = (".yaml", ".yml")
NONE_WORDS = ("none", "null")
"""Strings that stand for ``None`` (TOML has no null)."""


class _Text(str):
    """A value typed on the command line (``--set``): parsed by the field's type."""


@dataclasses.dataclass(frozen=True)
class _Given:
    """An explicit value (keyword argument or command-line flag): used as it is."""

    value: Any


class _Mismatch(Exception):
    """A value does not fit an annotation (turned into a SettingsError naming the key)."""


class _LocatedError(SettingsError):
    """A SettingsError that already names its source and key (never wrapped twice)."""


# -- type hints -------------------------------------------------------------------------------
class _OpaqueMeta(type):
    def __getattr__(cls, attr: str) -> Any:  # torch.device, when torch is not imported
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _OpaqueMeta(f"{cls.__name__}.{attr}", (_Opaque,), {})


class _Opaque(metaclass=_OpaqueMeta):
    """Stands for a name only type checkers import (e.g. ``PreTrainedModel``): an object."""


class _Namespace(dict):
    """Lookup for string annotations: the module's names, else an opaque object type."""

    def __init__(self, module: Any) -> None:
        super().__init__()
        self.module = module

    def __missing__(self, name: str) -> Any:
        found = vars(self.module).get(name, _Namespace)
        if isinstance(found, str):  # a string alias ("str | PreTrainedModel"): resolve it
            return eval(found, {}, self)
        if found is not _Namespace or hasattr(builtins, name):
            raise KeyError(name)
        return _OpaqueMeta(name, (_Opaque,), {})


def field_types(cls: Any) -> dict[str, Any]:
    """The resolved annotation of every field of the dataclass ``cls`` (names that only type
    checkers import stand for object types)."""
    return _field_types(cls)


@cache
def _field_types(cls: Any) -> dict[str, Any]:
    module = sys.modules.get(cls.__module__)
    return typing.get_type_hints(cls, localns=_Namespace(module) if module else None)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _members(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp) if _is_union(tp) else (tp,)


def _is_sequence(origin: Any) -> bool:
    return origin in (tuple, list, collections.abc.Sequence)


# -- values -----------------------------------------------------------------------------------
def _describe(tp: Any) -> str:
    """What ``tp`` accepts, in words."""
    if _is_union(tp):
        return "one of: " + "; ".join(dict.fromkeys(_describe(m) for m in typing.get_args(tp)))
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    simple = {int: "an integer", float: "a number", bool: "true or false", str: "text",
              Path: "a path", type(None): "none"}
    if tp in simple:
        return simple[tp]
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is os.PathLike or tp is os.PathLike:
        return "a path"
    if origin is tuple and args and args[-1] is not Ellipsis:
        return f"a list of {len(args)} values"
    if _is_sequence(origin):
        return f"a list (each item {_describe(args[0])})" if args else "a list"
    if origin in (dict, collections.abc.Mapping) or tp is dict:
        return "a table"
    if dataclasses.is_dataclass(tp):
        return f"a table of {getattr(tp, '__name__', tp)} settings"
    if tp is Any:
        return "any value"
    return f"an object ({getattr(tp, '__name__', tp)}, which only code can pass)"


def _scalar(value: Any, tp: Any, lenient: bool) -> Any:
    """``value`` as ``int``/``float``/``bool``/``str``/path; strings convert when lenient."""
    if tp is bool:
        if isinstance(value, bool):
            return value
        words = {"true": True, "yes": True, "on": True, "1": True,
                 "false": False, "no": False, "off": False, "0": False}
        if lenient and isinstance(value, str) and value.strip().lower() in words:
            return words[value.strip().lower()]
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if lenient and isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d[\d_]*\s*", value):
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if lenient and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return str(value)
    elif isinstance(value, (str, os.PathLike)):  # Path, os.PathLike[str]
        return Path(value)
    raise _Mismatch(_describe(tp))


def _sequence(value: Any, tp: Any, text: bool) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if isinstance(value, str) and text:  # --set hidden=64,64
        value = [v.strip() for v in value.split(",")] if value.strip() else []
    if not isinstance(value, (list, tuple)):
        raise _Mismatch(_describe(tp))
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise _Mismatch(f"{len(args)} values ({', '.join(_describe(a) for a in args)})")
        kinds = list(args)
    else:
        kinds = [args[0] if args else Any] * len(value)
    items = []
    for i, (item, kind) in enumerate(zip(value, kinds, strict=True)):
        try:
            items.append(coerce(item, kind, text))
        except _Mismatch as exc:
            raise _Mismatch(f"{_describe(tp)}; item {i} ({item!r}) is not {exc}") from None
    return items if origin is list else tuple(items)


def _mapping(value: Any, tp: Any, text: bool) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _Mismatch(_describe(tp))
    args = typing.get_args(tp)
    item = args[1] if len(args) == 2 else Any
    return {str(k): coerce(v, item, text) for k, v in value.items()}


def coerce(value: Any, tp: Any, text: bool = False) -> Any:
    """``value`` converted to the annotation ``tp`` (see the module docstring); raises
    ``_Mismatch`` saying what was expected. ``text``: the value was typed on the command
    line, so a string may also be a comma-separated list."""
    if isinstance(value, _Given):
        return value.value
    if tp is Any or isinstance(tp, TypeVar):
        if isinstance(value, _Text):  # free-form (a dict field's entry): its TOML value
            first = _from_text(value)[0]
            return str(first) if isinstance(first, _Text) else first
        return value
    if _is_union(tp):
        return _union(value, tp, text)
    origin = typing.get_origin(tp)
    if tp is type(None):
        if value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS):
            return None
        raise _Mismatch("none")
    if origin is typing.Literal:
        for choice in typing.get_args(tp):
            if value == choice or (isinstance(value, str) and value == str(choice)):
                return choice
        raise _Mismatch(_describe(tp))
    if _is_sequence(origin) or tp in (tuple, list):
        return _sequence(value, tp, text)
    if origin in (dict, collections.abc.Mapping) or tp in (dict, collections.abc.Mapping):
        return _mapping(value, tp, text)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return _build(tp, dict(value), "", {})
        raise _Mismatch(_describe(tp))
    if tp in (int, float, bool, str, Path) or origin is os.PathLike or tp is os.PathLike:
        return _scalar(value, tp, lenient=True)
    if origin is collections.abc.Callable or tp is collections.abc.Callable:
        if callable(value) and not isinstance(value, str):
            return value
        raise _Mismatch("a function (which only code can pass)")
    if isinstance(tp, type) and not issubclass(tp, _Opaque) and isinstance(value, tp):
        return value
    raise _Mismatch(_describe(tp))


def _union(value: Any, tp: Any, text: bool) -> Any:
    members = typing.get_args(tp)
    if value is None and type(None) in members:
        return None
    if isinstance(value, str) and type(None) in members and value.strip().lower() in NONE_WORDS:
        return None
    exact = [m for m in members if m in (int, float, bool, str) and type(value) is m]
    exact += [m for m in members if m is float and type(value) is int]
    for member in [*exact, *(m for m in members if m not in exact and m is not type(None))]:
        try:
            return coerce(value, member, text)
        except _Mismatch:
            continue
    raise _Mismatch(_describe(tp))


def _from_text(text: str) -> list[Any]:
    """What a ``--set`` value may mean, most specific first: a TOML value (number, bool,
    quoted string, ``[list]``, ``{table}``), then the text itself."""
    try:
        parsed = toml.loads(f"v = {text}")["v"]
    except Exception:  # not a TOML value: plain text
        return [_Text(text)]
    if isinstance(parsed, (str, list, dict)):  # quoted text, [list], {table}: just that
        return [parsed]
    return [parsed, _Text(text)]


# -- building ---------------------------------------------------------------------------------
def _source_hint(source: str) -> str:
    if source == "--set":
        return "Fix the --set key."
    if source == "arguments":
        return "Fix the keyword argument."
    return f"Fix or remove it in {source}."


def _show(value: Any) -> str:
    value = value.value if isinstance(value, _Given) else value
    text = str(value) if isinstance(value, _Text) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _coerce_field(value: Any, tp: Any, key: str, source: str) -> Any:
    """``value`` for the field ``key`` of type ``tp``, or a SettingsError naming both."""
    candidates = _from_text(value) if isinstance(value, _Text) else [value]
    for candidate in candidates:
        try:
            return coerce(candidate, tp, text=isinstance(candidate, _Text))
        except _Mismatch:
            continue
        except _LocatedError:
            raise
    try:
        coerce(candidates[-1], tp, text=isinstance(candidates[-1], _Text))
    except _Mismatch as exc:
        expected = str(exc)
    if "only code can pass" in expected and not any(
            m is str or m is int for m in _members(tp)):
        raise _LocatedError(f"{source}: {key} holds an object ({expected.split('(')[-1]}; "
                            f"it cannot come from a config file: pass it in code, e.g. "
                            f"load_config(..., {key.split('.')[-1]}=obj).")
    raise _LocatedError(f"{source}: {key} = {_show(value)}: expected {expected}.")


def _build(cls: type[C], data: dict[str, Any], prefix: str, sources: Mapping[str, str]) -> C:
    """``cls(**data)`` with every value coerced; errors name the key and where it came from."""
    hints = field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = prefix + name
        source = _source_of(sources, key)
        if name not in fields or not fields[name].init:
            known = [prefix + f for f, fl in fields.items() if fl.init]
            nested = [n for n in _dotted_names(cls, prefix) if n.endswith("." + name)]
            hint = f"Did you mean {', '.join(map(repr, nested))} (nested)? " if nested else ""
            raise UnknownNameError(f"{cls.__name__} setting", key, known,
                                   hint=hint + _source_hint(source))
        tp = hints[name]
        if isinstance(value, dict) and not isinstance(value, _Given) and _nested(tp):
            kwargs[name] = _build(_nested(tp), value, key + ".", sources)  # type: ignore[arg-type]
        else:
            kwargs[name] = _coerce_field(value, tp, key, source)
    missing = [n for n, f in fields.items() if f.init and n not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise SettingsError(f"{cls.__name__} needs {', '.join(prefix + m for m in missing)}: set "
                          f"it in the config file or with --set {prefix + missing[0]}=VALUE.")
    try:
        return cls(**kwargs)
    except _LocatedError:
        raise
    except (ValueError, TypeError) as exc:
        raise _blame(cls, exc, kwargs, data, prefix, sources) from exc


def _dotted_names(cls: Any, prefix: str) -> list[str]:
    """Every setting of ``cls``, nested ones as dotted keys."""
    names = []
    for name, tp in field_types(cls).items():
        names.append(prefix + name)
        inner = _nested(tp)
        if inner is not None:
            names += _dotted_names(inner, f"{prefix}{name}.")
    return names


def _nested(tp: Any) -> type | None:
    """The dataclass a field holds (``X`` or ``X | None``), if any."""
    found = [m for m in _members(tp) if dataclasses.is_dataclass(m) and isinstance(m, type)]
    return found[0] if len(found) == 1 else None


def _source_of(sources: Mapping[str, str], key: str) -> str:
    while key:
        if key in sources:
            return sources[key]
        key = key.rpartition(".")[0]
    return sources.get("", "arguments")


def _blame(cls: type, exc: Exception, kwargs: dict[str, Any], data: dict[str, Any],
           prefix: str, sources: Mapping[str, str]) -> SettingsError:
    """The dataclass refused the values: name the key(s) it complained about and their
    source, or every key that was set when the message names none."""
    message = " ".join(str(exc).split())
    named = [k for k in data if re.search(rf"(?<!\w){re.escape(k)}(?!\w)", message)]
    if not named:
        named = [k for k in data if not _alone_ok(cls, k, kwargs[k])] or list(data)
    if not named:
        return SettingsError(f"{cls.__name__}: {message}")
    by_source: dict[str, list[str]] = {}
    for k in named:
        by_source.setdefault(_source_of(sources, prefix + k), []).append(
            f"{prefix + k} = {_show(data[k])}")
    where = "; ".join(f"{src}: {', '.join(keys)}" for src, keys in by_source.items())
    return _LocatedError(f"{where}: {message}")


def _alone_ok(cls: type, name: str, value: Any) -> bool:
    try:
        cls(**{name: value})
    except Exception:
        return False
    return True


def _set_path(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        inner = data.get(part)
        if not isinstance(inner, dict) or isinstance(inner, _Given):
            inner = data[part] = {}
        data = inner
    data[parts[-1]] = value


def parse_override(text: str) -> tuple[str, str]:
    """``"KEY=VALUE"`` as ``(key, value)``; anything else raises :class:`SettingsError`."""
    key, sep, value = str(text).partition("=")
    if not sep or not key.strip() or any(not p for p in key.strip().split(".")):
        raise SettingsError(f"--set takes KEY=VALUE (e.g. --set learning_rate=3e-5 or "
                          f"--set head.kind=mlp), got {text!r}.")
    return key.strip(), value


def load_config(cls: type[C], path: str | os.PathLike[str] | None = None,
                overrides: Iterable[str] = (), **values: Any) -> C:
    """Build the frozen config dataclass ``cls`` from a file, overrides and values.

    Args:
        cls: the config dataclass (``TokenPPOConfig``, ``RewardTrainerConfig`` …).
        path: a TOML file (``.toml``) or YAML file (``.yaml``/``.yml``, needs PyYAML) whose
            top-level table holds ``cls``'s fields; ``None``: no file.
        overrides: ``"KEY=VALUE"`` strings, as ``--set`` takes them; dotted keys reach into
            nested dataclasses and dict fields (``head.kind=mlp``).
        values: explicit values, used as they are (objects welcome); dotted keys allowed.

    Later layers win: defaults < file < overrides < values. Raises
    :class:`~rlhf_env.errors.UnknownNameError` for an unknown key and
    :class:`~rlhf_env.errors.SettingsError` for a bad value, both naming where it came from.
    """
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise SettingsError(f"load_config needs a config dataclass, got {cls!r}.")
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if path is not None:
        data = read_config_file(path)
        sources[""] = str(path)
    for text in overrides:
        key, value = parse_override(text)
        _set_path(data, key, _Text(value))
        sources[key] = "--set"
    for key, value in values.items():
        _set_path(data, key, _Given(value))
        sources[key] = "arguments"
    return _build(cls, data, "", sources)


# -- files ------------------------------------------------------------------------------------
def _yaml() -> Any:
    try:
        import yaml
    except ImportError as exc:
        raise MissingDependencyError(
            "PyYAML", "YAML config files", "pip install pyyaml (or use a .toml file)") from exc
    return yaml


def _is_yaml(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in YAML_SUFFIXES


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The top-level table of a TOML or YAML config file (nothing converted yet)."""
    suffix = Path(path).suffix.lower()
    if suffix != ".toml" and suffix not in YAML_SUFFIXES:
        raise SettingsError(f"{path}: a config file must end in .toml, .yaml or .yml.")
    if not Path(path).is_file():
        what = "a folder, not a file" if Path(path).is_dir() else "no such file"
        raise SettingsError(f"{path}: {what}; give the path of a .toml or .yaml config file.")
    text = read_utf8(Path(path))
    if suffix == ".toml":
        try:
            data = toml.loads(text)
        except ValueError as exc:  # tomllib.TOMLDecodeError says the line and column
            raise SettingsError(f"{path}: not valid TOML ({exc}).") from None
    else:
        yaml = _yaml()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark is not None else ""
            raise SettingsError(f"{path}{where}: not valid YAML "
                              f"({getattr(exc, 'problem', None) or exc}).") from None
        data = {} if data is None else data
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: a config file holds a table of settings (key = value), "
                          f"got {type(data).__name__}.")
    return data


def config_to_dict(config: Any) -> dict[str, Any]:
    """The fields of a config dataclass as plain data (dicts, lists, str, numbers, bool,
    ``None``), nested dataclasses as dicts. A field that holds an object raises
    :class:`SettingsError` (a file can hold only names, paths and numbers)."""
    out = {}
    for f in dataclasses.fields(config):
        out[f.name] = _plain(getattr(config, f.name), f"{type(config).__name__}.{f.name}")
    return out


def _plain(value: Any, where: str) -> Any:
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_to_dict(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise SettingsError(f"{where} holds a {type(value).__name__} object, which a config file "
                      f"cannot hold; give it a name or path instead, or leave it out and pass "
                      f"the object in code.")


def _toml_ready(config: Any, data: dict[str, Any], where: str) -> dict[str, Any]:
    """``data`` without ``None`` (TOML has no null): a field whose default is ``None`` is
    left out, another is written as ``"none"`` when that cannot be read as text."""
    hints = field_types(type(config))
    fields = {f.name: f for f in dataclasses.fields(config)}
    out: dict[str, Any] = {}
    for name, value in data.items():
        attr = getattr(config, name)
        if dataclasses.is_dataclass(attr) and isinstance(value, dict):
            out[name] = _toml_ready(attr, value, f"{where}.{name}")
        elif isinstance(value, list) and value and all(
                dataclasses.is_dataclass(a) for a in attr):
            out[name] = [_toml_ready(a, v, f"{where}.{name}[{i}]")
                         for i, (a, v) in enumerate(zip(attr, value, strict=True))]
        elif value is None:
            if fields[name].default is not None:
                out[name] = "none"
        elif isinstance(value, str) and value.strip().lower() in NONE_WORDS and type(
                None) in _members(hints[name]):
            raise SettingsError(f"{where}.{name} is the text {value!r}, which a file reads back "
                              f"as None; save the config as .yaml instead.")
        else:
            out[name] = value
    return out


def save_config(config: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``config`` (a config dataclass) to ``path`` atomically: TOML, or YAML for a
    ``.yaml``/``.yml`` path. ``load_config(type(config), path) == config``."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise SettingsError(f"save_config needs a config dataclass instance, got {config!r}.")
    name = type(config).__name__
    data = config_to_dict(config)
    header = f"# {name} ({type(config).__module__}), read with rlhf_env.configs.load_config\n"
    if _is_yaml(path):
        text = header + _yaml().safe_dump(data, sort_keys=False, allow_unicode=True)
    elif Path(path).suffix.lower() == ".toml":
        text = header + toml.dumps(_toml_ready(config, data, name))
    else:
        raise SettingsError(f"{path}: a config file must end in .toml, .yaml or .yml.")
    write_text(Path(path), text)
    return Path(path)


# -- the command line -------------------------------------------------------------------------
class ConfigDefault:
    """The argparse default of a flag that sets a config field: "not given, let the config
    (file, ``--set``, dataclass default) decide". ``--help`` shows the dataclass's default,
    read when the help is printed, so the parser never imports the config's module early.

    ``target`` is ``"module:ClassName"``, ``field`` a (dotted) field name of that class.
    """

    def __init__(self, target: str, field: str) -> None:
        self.target, self.field = target, field

    def value(self) -> Any:
        """The dataclass's default of the field (a nested field: as the outer field's
        default instance has it)."""
        module, _, name = self.target.partition(":")
        cls: Any = getattr(importlib.import_module(module), name)
        first, *rest = self.field.split(".")
        f = {f.name: f for f in dataclasses.fields(cls)}[first]
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            return None
        for part in rest:
            value = getattr(value, part)
        return value

    def __str__(self) -> str:
        value = self.value()
        if isinstance(value, (tuple, list)):
            return ",".join(str(v) for v in value)
        return "none" if value is None else str(value)

    def __repr__(self) -> str:
        return f"ConfigDefault({self.target!r}, {self.field!r})"


def add_config_options(parser: argparse.ArgumentParser, what: str | None = None) -> None:
    """Add ``--config FILE`` and repeatable ``--set KEY=VALUE`` to a command's parser;
    ``what`` (shown in the help) says which settings they reach."""
    group = parser.add_argument_group("settings", what)
    group.add_argument("--config", metavar="FILE", default=None,
                       help="settings from a TOML (or YAML) file; flags and --set win over it")
    group.add_argument("--set", dest="overrides", action="append", default=None,
                       metavar="KEY=VALUE",
                       help="one setting (dotted keys reach nested ones, e.g. head.kind=mlp); "
                            "repeat for more; wins over --config")


def given(value: Any) -> bool:
    """Whether a flag's value was given on the command line (not ``None`` and not a
    :class:`ConfigDefault`)."""
    return value is not None and not isinstance(value, ConfigDefault)


def config_from_args(cls: type[C], args: argparse.Namespace, **explicit: Any) -> C:
    """:func:`load_config` from a command's ``--config`` and ``--set`` (see
    :func:`add_config_options`), then ``explicit`` values: the command's own flags. A flag
    counts only when the user gave it: values that are ``None`` or a :class:`ConfigDefault`
    are left out, so the file and ``--set`` decide (file < --set < flags)."""
    values = {k: v for k, v in explicit.items() if given(v)}
    return load_config(cls, getattr(args, "config", None), getattr(args, "overrides", None) or (),
                       **values)


__all__ = [
    "RUN_CONFIG_FILE",
    "ConfigDefault",
    "add_config_options",
    "coerce",
    "config_from_args",
    "config_to_dict",
    "field_types",
    "given",
    "load_config",
    "parse_override",
    "read_config_file",
    "save_config",
]
