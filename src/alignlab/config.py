"""Typed configs: dataclasses with working defaults, read from TOML and ``--set`` overrides.

Every config in alignlab is a (nested) dataclass whose fields are documented
once, in the class, by an attribute docstring under each field. :func:`load_config`
reads a TOML file into one, checking every key and type and naming the file and key
when something is wrong (and the field an unknown key was probably meant to be);
``--set key.sub=value`` overrides take TOML values (``--set lr=3e-4``,
``--set 'families=["a", "b"]'``), with bare words read as strings.
:func:`field_docs` reads those docstrings back from the source, and
:func:`config_template` writes a commented TOML file of a config at its defaults.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import hashlib
import inspect
import json
import math
import re
import textwrap
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
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
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


def _toml_body(data: dict, prefix: str) -> str:
    lines: list[str] = []
    tables: list[tuple[str, dict]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{_toml_key(key)} = {toml_value(value)}")
    for key, table in tables:
        name = prefix + _toml_key(key)
        lines.append(f"\n[{name}]\n" + _toml_body(table, name + ".").strip())
    return "\n".join(lines)


def to_toml(data: dict) -> str:
    """Plain data as TOML (scalars, lists and nested tables; ``None`` values are left out)."""
    return _toml_body(data, "").strip() + "\n"


@dataclasses.dataclass(frozen=True)
class FieldDoc:
    """One field of a config class, as :func:`field_docs` reads it."""

    name: str
    """Dotted name: ``lr``, ``lora.r``."""
    type: str
    """The annotation as written in the source."""
    default: Any
    """The default value (``default_factory`` called); ``dataclasses.MISSING`` if none."""
    doc: str
    """The attribute docstring under the field; empty when it has none."""
    table: bool = False
    """The field holds a nested config (a ``[table]``), whose fields follow it."""


@functools.cache
def _class_source(klass: type) -> tuple[dict[str, tuple[str, str]], str]:
    """Field name to (annotation as written, attribute docstring) of the fields ``klass``
    itself declares, and its own docstring; empty when its source cannot be read."""
    try:
        source = textwrap.dedent(inspect.getsource(klass))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return {}, ""
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
    if node is None:
        return {}, ""
    fields = {}
    for stmt, after in zip(node.body, [*node.body[1:], None], strict=True):
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            text = after.value.value if isinstance(after, ast.Expr) else None
            doc = inspect.cleandoc(text) if isinstance(text, str) else ""
            written = ast.get_source_segment(source, stmt.annotation) or ast.unparse(
                stmt.annotation
            )
            fields[stmt.target.id] = (" ".join(written.split()), doc)
    return fields, ast.get_docstring(node) or ""


def _declared(cls: type) -> dict[str, tuple[str, str]]:
    """:func:`_class_source` over ``cls`` and its dataclass bases: a subclass's annotation
    wins, and so does its docstring, unless it redeclares a field without one."""
    out: dict[str, tuple[str, str]] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        for name, (written, doc) in _class_source(klass)[0].items():
            out[name] = (written, doc or out.get(name, ("", ""))[1])
    return out


def _nested_class(tp: Any) -> type | None:
    """The dataclass a field of type ``tp`` (or ``tp | None``) holds, if any."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0] if len(args) == 1 else None
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def _defaults(cls: type, instance: Any = None) -> dict[str, Any]:
    """Each field's value in ``instance``, else in ``cls()``, else its field default."""
    if instance is None:
        try:
            instance = cls()
        except (TypeError, ValueError):  # a required field, or defaults its checks refuse
            instance = None
    out = {}
    for f in dataclasses.fields(cls):
        if instance is not None:
            out[f.name] = getattr(instance, f.name)
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = f.default
    return out


def _walk(cls: type, values: dict[str, Any], prefix: str):
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):
        hints = {}
    declared = _declared(cls)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        written, doc = declared.get(f.name, (str(f.type), ""))
        value, name = values[f.name], prefix + f.name
        sub = _nested_class(hints.get(f.name, f.type))
        if sub is None:
            yield FieldDoc(name, written, value, doc)
            continue
        if not doc:  # a table undocumented by its field is documented by its class
            doc = _class_source(sub)[1].split("\n\n")[0]
        yield FieldDoc(name, written, value, doc, table=True)
        inner = value if isinstance(value, sub) else None
        yield from _walk(sub, _defaults(sub, inner), name + ".")


def field_docs(cls: type) -> list[FieldDoc]:
    """Every field of config class ``cls``, nested configs' fields after their own (with
    dotted names), documented by the attribute docstrings in its source and its bases'."""
    return list(_walk(cls, _defaults(cls), ""))


def _comment(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.splitlines()]


def _template_section(docs: list[FieldDoc], parent: str) -> list[str]:
    """The TOML lines of the fields of table ``parent`` (``"a."``; ``""``: the top level)."""
    depth = parent.count(".")
    mine = [d for d in docs if d.name.count(".") == depth and d.name.startswith(parent)]
    keys: list[str] = []
    tables: list[str] = []
    for d in mine:
        key = d.name.rsplit(".", 1)[-1]
        about = [*_comment(d.doc), f"# type: {d.type}"]
        if d.table or (isinstance(d.default, dict) and d.default):
            if d.table:
                body = _template_section(docs, d.name + ".")
            else:
                body = [_toml_body(d.default, d.name + ".").strip()]
            block = [f"[{d.name}]", *body]
            if d.default is None:  # unset: shown, commented out, ready to switch on
                block = [f"# {line}".rstrip() for text in block for line in text.split("\n")]
            tables += ["", *about, *block]
        elif d.default is None or d.default is dataclasses.MISSING:
            required = " (required)" if d.default is dataclasses.MISSING else ""
            keys += ["", *about, f"# {key} = ...{required}"]
        else:
            keys += ["", *about, f"{key} = {toml_value(d.default)}"]
    return [*keys[1:], *tables] if keys else tables[1:]


def config_template(cls: type) -> str:
    """A commented TOML file of config class ``cls`` at its defaults: every field with its
    doc and type as comments above it; unset (``None``) fields commented out, since TOML
    has no null; nested configs as ``[table]`` sections. It loads back as ``cls()``."""
    about = _class_source(cls)[1].split("\n\n")[0]
    head = f"{cls.__name__}: {about}" if about else cls.__name__
    head += "\nEvery field is at its default; unset ones are commented out."
    return "\n".join([*_comment(head), "", *_template_section(field_docs(cls), "")]) + "\n"
