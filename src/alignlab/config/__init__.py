"""Typed configs: dataclasses with working defaults, read from TOML and ``--set`` overrides.

Every config in alignlab is a (nested) dataclass whose fields are documented
once, in the class, by an attribute docstring under each field. :func:`load_config`
reads a TOML file into one, checking every key and type and naming the file and key
when something is wrong (and the field an unknown key was probably meant to be);
``--set key.sub=value`` overrides take TOML values (``--set lr=3e-4``,
``--set 'families=["a", "b"]'``), with bare words read as strings. An optional field
(one that may be ``None``) is switched off by naming it in a top-level ``unset = [...]``
list of the TOML file, or with ``--unset NAME`` (:func:`apply_unset`); a config's required
inputs (its ``REQUIRED`` names, :func:`check_required`) default to ``None`` and must be
given.
:mod:`alignlab.config.docs` reads those docstrings back from the source and writes a
commented TOML template of a config at its defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")


class ConfigError(ValueError):
    """A config file or override that does not fit its config class."""


def _check(value: Any, tp: Any, where: str) -> Any:
    """``value`` converted to type ``tp`` (a dataclass, container, or scalar), or an error."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return _build(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(
            errors[0] if len(errors) == 1 else f"{where}: {value!r} fits no type of {tp}"
        )
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {list(typing.get_args(tp))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp)[:1] or (Any,)
        items = [_check(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        _, item = typing.get_args(tp) or (str, Any)
        return {k: _check(v, item, f"{where}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and (type(value) is not tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {type(value).__name__} {value!r}")
    return value


def _build(cls: type[C], data: dict, where: str) -> C:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - fields)
    if unknown:
        prefix = f"{where}: " if where else ""
        raise ConfigError(
            f"{prefix}unknown key {unknown[0]!r} for {cls.__name__}{_hint(unknown[0], fields)}"
        )
    values = {}
    factories = {f.name: f.default_factory for f in dataclasses.fields(cls)}
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        default = factories[name]
        if isinstance(value, dict) and default is not dataclasses.MISSING:
            base = default()
            if isinstance(base, dict):  # a table's keys go over the default table's
                value = {**base, **value}
        values[name] = _check(value, hints[name], key)
    return cls(**values)


def _hint(key: str, known: set[str]) -> str:
    """``; did you mean 'lr'?`` for the known key closest to ``key``, else the known keys."""
    close = difflib.get_close_matches(key, sorted(known), n=1)
    if not close:  # ``lr_rate``: a known key as one of its words
        close = [part for part in key.split("_") if part in known][:1]
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (known: {', '.join(sorted(known))})"


def from_dict(cls: type[C], data: dict, *, source: str = "<config>") -> C:
    """Build a config of type ``cls`` from a plain dict, checking keys and types."""
    try:
        return _build(cls, data, "")
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word: a string
    return key.strip().split("."), value


def merge_overrides(data: dict, overrides: list[str]) -> dict:
    """``data`` with each ``key.sub=value`` override applied (nested tables created)."""
    data = json.loads(json.dumps(data))
    for text in overrides:
        path, value = _parse_override(text)
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {text!r}: {part!r} is not a table")
        node[path[-1]] = value
    return data


def required_fields(cls: type) -> tuple[str, ...]:
    """The fields of config class ``cls`` (or an instance's) that must be given: its
    ``REQUIRED`` class attribute, which a subclass extends."""
    return tuple(getattr(cls, "REQUIRED", ()))


def check_required(config: Any) -> None:
    """Refuse a config whose required fields (:func:`required_fields`) are still ``None``,
    naming the field and how to give it."""
    cls = type(config)
    hints = typing.get_type_hints(cls)
    for name in required_fields(cls):
        if getattr(config, name) is not None:
            continue
        sub = nested_class(hints.get(name))
        if sub is not None:
            first = next(f.name for f in dataclasses.fields(sub))
            how = f"--set {name}.{first}=... or a [{name}] table in the TOML"
        else:
            how = f"--set {name}=... or `{name} = ...` in the TOML"
        raise ValueError(f"{cls.__name__}.{name} is required ({how})")


def optional_fields(cls: type) -> list[str]:
    """The fields of config class ``cls`` that may be unset (``None``), dotted for those of a
    nested config, leaving out required ones: what ``unset`` may name."""
    out = []
    hints = typing.get_type_hints(cls)
    required = set(required_fields(cls))
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints.get(f.name, f.type)
        nullable = typing.get_origin(tp) in (typing.Union, types.UnionType) and type(
            None
        ) in typing.get_args(tp)
        if nullable and f.name not in required:
            out.append(f.name)
        sub = nested_class(tp)
        if sub is not None:
            out += [f"{f.name}.{name}" for name in optional_fields(sub)]
    return out


def apply_unset(cls: type, data: dict, names: list[str], *, where: str = "unset") -> dict:
    """``data`` with each optional field in ``names`` (dotted for a nested one) set to
    ``None``; a name that is not an optional field of ``cls`` is an error listing those."""
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where}: expected a list of field names, got {names!r}")
    allowed = optional_fields(cls)
    data = json.loads(json.dumps(data))
    for name in names:
        if name not in allowed:
            kind = "a required field" if name in required_fields(cls) else "not an optional field"
            raise ConfigError(
                f"{where}: {name!r} is {kind} of {cls.__name__}; optional fields: "
                + (", ".join(allowed) or "none")
            )
        *path, last = name.split(".")
        node = data
        for part in path:  # a nested config not given stays at its default
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[last] = None
    return data


def load_config(
    cls: type[C],
    path: str | Path | None = None,
    overrides: list[str] = (),
    unset: list[str] = (),
) -> C:
    """A config of type ``cls`` from a TOML file (or the defaults), ``--set`` overrides and
    ``--unset`` names, in that order: the file's own ``unset = [...]`` list applies to the
    file, ``--set`` then wins over the file, and ``--unset`` over both."""
    data: dict = {}
    source = "<defaults>"
    if path is not None:
        path = Path(path)
        source = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
    if "unset" in data and "unset" not in {f.name for f in dataclasses.fields(cls)}:
        try:
            data = apply_unset(cls, data, data.pop("unset"), where="unset")
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None
    if overrides:
        data = merge_overrides(data, list(overrides))
        source += " with --set " + " ".join(overrides)
    if unset:
        data = apply_unset(cls, data, list(unset), where="--unset")
        source += " with --unset " + " ".join(unset)
    return from_dict(cls, data, source=source)


def to_dict(config: Any) -> dict:
    """A config as plain data (the form written next to every artifact)."""
    return dataclasses.asdict(config)


def changed_fields(old: dict, new: dict) -> list[str]:
    """The keys, sorted, whose values differ between two configs as plain data (a key one
    lacks counts as changed): what a rerun would do differently from the run on record."""
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def fingerprint(*parts: Any) -> str:
    """A short stable hash of plain data, for cache keys."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def toml_value(value: Any) -> str:
    """One value as TOML: a scalar, a list, or an inline table (what :func:`to_toml` writes
    to the right of ``key =``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(items) + "}"
    return json.dumps(value)


def toml_body(data: dict, prefix: str) -> str:
    lines: list[str] = []
    tables: list[tuple[str, dict]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{_toml_key(key)} = {toml_value(value)}")
    for key, table in tables:
        name = prefix + _toml_key(key)
        lines.append(f"\n[{name}]\n" + toml_body(table, name + ".").strip())
    return "\n".join(lines)


def to_toml(data: dict) -> str:
    """Plain data as TOML (scalars, lists and nested tables; ``None`` values are left out)."""
    return toml_body(data, "").strip() + "\n"


def nested_class(tp: Any) -> type | None:
    """The dataclass a field of type ``tp`` (or ``tp | None``) holds, if any."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0] if len(args) == 1 else None
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None
