"""Decoding one JSONL line strictly: a duplicate key or nesting deeper than the parser
allows is a :class:`BadLine` naming the field, never last-value-wins or a traceback."""

from __future__ import annotations

import json
from typing import Any


class BadLine:
    """Marks a line that cannot be decoded, keeping the field and the decoder's message."""

    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey
    return obj


class _Marked(dict):
    """A decoded object that remembers the first key it had twice."""

    duplicate: str | None = None


def _marking(pairs: list[tuple[str, Any]]) -> _Marked:
    obj = _Marked(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        obj.duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))
    return obj


def _duplicate_path(text: str) -> str:
    """The field path of the first duplicate key in ``text`` (e.g. ``meta.a``)."""
    stack: list[tuple[Any, str]] = [(json.loads(text, object_pairs_hook=_marking), "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _Marked):
            if value.duplicate is not None:
                return f"{path}.{value.duplicate}" if path else value.duplicate
            stack.extend((v, f"{path}.{k}" if path else k) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(value))))
    return "<json>"


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def decode_line(text: str) -> Any:
    """One JSONL line decoded, or a :class:`BadLine` saying why it cannot be."""
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as e:
        return BadLine("<json>", f"bad JSON: {e.msg} (column {e.colno})")
    except RecursionError:
        return BadLine("<json>", "nested too deeply for the JSON parser")
    except _DuplicateKey:
        try:
            field = _duplicate_path(text)
        except RecursionError:
            return BadLine("<json>", "nested too deeply for the JSON parser")
        key = field.rsplit(".", 1)[-1]
        return BadLine(field, f"duplicate key {key!r} (JSON readers keep only one of them)")
