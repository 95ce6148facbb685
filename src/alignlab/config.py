"""Typed configs: dataclasses with working defaults, read from TOML and ``--set`` overrides.

Every config in alignlab is a (nested) dataclass whose fields are documented
once, in the class. :func:`load_config` reads a TOML file into one, checking
every key and type and naming the file and key when something is wrong;
``--set key.sub=value`` overrides take TOML values (``--set lr=3e-4``,
``--set 'families=["a", "b"]'``), with bare words read as strings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
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
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} for {cls.__name__} (known: {', '.join(sorted(fields))})"
        )
    values = {}
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        values[name] = _check(value, hints[name], key)
    return cls(**values)


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


def load_config(cls: type[C], path: str | Path | None = None, overrides: list[str] = ()) -> C:
    """A config of type ``cls`` from a TOML file (or the defaults) and ``--set`` overrides."""
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
    if overrides:
        data = merge_overrides(data, list(overrides))
        source += " with --set " + " ".join(overrides)
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


def to_toml(data: dict) -> str:
    """Plain data as TOML (scalars, lists and nested tables; ``None`` values are left out)."""
    lines: list[str] = []
    tables: list[tuple[str, dict]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{key} = {json.dumps(value)}")
    for key, table in tables:
        body = to_toml(table)
        # Nested tables come back with their own headers; prefix them with ours.
        body = "\n".join(
            f"[{key}.{line[1:]}" if line.startswith("[") else line for line in body.splitlines()
        )
        lines.append(f"\n[{key}]\n{body}")
    return "\n".join(lines).strip() + "\n"
