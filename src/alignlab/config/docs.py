"""Config documentation read from the source: every field's type, default and attribute
docstring (:func:`field_docs`), and a commented TOML template of a config at its defaults
(:func:`config_template`), which ``alignlab config show`` and ``config template`` print."""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import textwrap
import typing
from typing import Any

from alignlab.config import nested_class, required_fields, toml_body, toml_value


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
    required: bool = False
    """The field must be given (one of its class's ``REQUIRED``): its ``None`` default is
    no value."""


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
        required = f.name in required_fields(cls)
        sub = nested_class(hints.get(f.name, f.type))
        if sub is None:
            yield FieldDoc(name, written, value, doc, required=required)
            continue
        if not doc:  # a table undocumented by its field is documented by its class
            doc = _class_source(sub)[1].split("\n\n")[0]
        yield FieldDoc(name, written, value, doc, table=True, required=required)
        inner = value if isinstance(value, sub) else None
        yield from _walk(sub, _defaults(sub, inner), name + ".")


def field_docs(cls: type, config: Any = None) -> list[FieldDoc]:
    """Every field of config class ``cls``, nested configs' fields after their own (with
    dotted names), documented by the attribute docstrings in its source and its bases';
    ``default`` holds the values of ``config`` where one is given."""
    return list(_walk(cls, _defaults(cls, config), ""))


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
                body = [toml_body(d.default, d.name + ".").strip()]
            block = [f"[{d.name}]", *body]
            if d.default is None:  # unset: shown, commented out, ready to switch on
                block = [f"# {line}".rstrip() for text in block for line in text.split("\n")]
            tables += ["", *about, *block]
        elif d.default is None or d.default is dataclasses.MISSING:
            required = " (required)" if d.required or d.default is dataclasses.MISSING else ""
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
