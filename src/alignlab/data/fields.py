"""Checks shared by every record kind: text fields, chat turns, strings, field names.

Each check appends :class:`FieldProblem` s to a list instead of raising, so a
record's parser can report all of its problems at once.

- A prompt given as a chat list ends with a user turn (what a model answers);
  a response given as a chat list is assistant turns only (what a model says).
  Anything else renders, under a chat template, as something other than "the
  prompt, then the model's reply", and a trainer either refuses it or learns
  from the wrong tokens.
- Every string, key or value, anywhere in a record, is free of NUL characters
  and of lone UTF-16 surrogates (which cannot be written back as UTF-8), and a
  record nests at most :data:`MAX_DEPTH` levels.
- Extra fields are allowed (datasets carry ids, scores and sources), but a field
  one edit away from a known one (``wieght``, ``Weight``, ``promt``) is an error
  with a did-you-mean, as is a field that belongs to another record kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
MESSAGE_FIELDS = frozenset({"role", "content"})
MAX_DEPTH = 64
Side = Literal["prompt", "response"]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One thing wrong with one field of one record."""

    field: str
    message: str


class RecordError(ValueError):
    """A record that cannot be parsed; carries every problem found in it."""

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


def check_text(
    value: Any, name: str, problems: list[FieldProblem], side: Side | None = None
) -> Any:
    """Check one text field (string or chat list); append problems, return the value.

    With ``side``, a chat list must also have the turns of a prompt or a response
    (see :func:`check_turns`)."""
    if value is None:
        problems.append(FieldProblem(name, "missing field"))
        return None
    if isinstance(value, str):
        if not value.strip():
            problems.append(FieldProblem(name, "empty text"))
        return value
    if isinstance(value, list):
        before = len(problems)
        if not value:
            problems.append(FieldProblem(name, "empty message list"))
        for i, message in enumerate(value):
            _check_message(message, f"{name}[{i}]", problems)
        if side is not None and len(problems) == before:
            check_turns(value, name, side, problems)
        return value
    problems.append(
        FieldProblem(name, f"expected a string or a message list, got {type(value).__name__}")
    )
    return None


def _check_message(message: Any, where: str, problems: list[FieldProblem]) -> None:
    if not isinstance(message, dict):
        problems.append(
            FieldProblem(where, f"expected a message object, got {type(message).__name__}")
        )
        return
    role = message.get("role")
    if role is None:
        problems.append(FieldProblem(f"{where}.role", "missing field"))
    elif role not in ROLES:
        problems.append(
            FieldProblem(
                f"{where}.role", f"unknown role {role!r} (expected one of {sorted(ROLES)})"
            )
        )
    content = message.get("content")
    if content is None:
        problems.append(FieldProblem(f"{where}.content", "missing field"))
    elif not isinstance(content, str):
        problems.append(
            FieldProblem(f"{where}.content", f"expected a string, got {type(content).__name__}")
        )
    elif not content.strip():
        problems.append(FieldProblem(f"{where}.content", "empty text"))
    for key in message:
        guess = near_miss(key, MESSAGE_FIELDS) if isinstance(key, str) else None
        if guess is not None:
            problems.append(
                FieldProblem(f"{where}.{key}", f"unknown field; did you mean {guess!r}?")
            )


def check_turns(
    messages: list, name: str, side: Side, problems: list[FieldProblem], offset: int = 0
) -> None:
    """A prompt's turns end with the user's; a response's turns are all the assistant's.
    ``offset`` is the index of ``messages[0]`` in the field as written."""
    if not messages:
        return
    if side == "prompt":
        role = messages[-1].get("role")
        if role != "user":
            problems.append(
                FieldProblem(
                    f"{name}[{offset + len(messages) - 1}].role",
                    f"a prompt must end with a user turn, got {role!r}",
                )
            )
        return
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            problems.append(
                FieldProblem(
                    f"{name}[{offset + i}].role",
                    f"a response is the assistant's turns only, got {message.get('role')!r}",
                )
            )
            return


def check_strings(obj: Any, problems: list[FieldProblem]) -> None:
    """Every string and key of ``obj`` is free of NUL and lone surrogates, and ``obj``
    nests at most :data:`MAX_DEPTH` levels.

    The common case is decided at C speed from the object's JSON text (NUL shows as
    ``\\u0000``, a lone surrogate fails to encode, nesting is at most the number of
    brackets); only a record that may have a problem is walked, iteratively, to find
    where."""
    try:
        text = json.dumps(obj, ensure_ascii=False, check_circular=False)
        text.encode("utf-8")
    except (UnicodeEncodeError, RecursionError, TypeError, ValueError):
        pass
    else:
        if "\\u0000" not in text and text.count("{") + text.count("[") <= MAX_DEPTH:
            return
    _walk_strings(obj, problems)


def _walk_strings(obj: Any, problems: list[FieldProblem]) -> None:
    stack: list[tuple[Any, str, int]] = [(obj, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            message = string_problem(value)
            if message:
                problems.append(FieldProblem(path or "<record>", message))
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth >= MAX_DEPTH:
            problems.append(
                FieldProblem(path or "<record>", f"nested more than {MAX_DEPTH} levels deep")
            )
            continue
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and string_problem(key):
                    problems.append(FieldProblem(where, f"field name: {string_problem(key)}"))
                items.append((item, where, depth + 1))
        else:
            items = [(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
        stack.extend(reversed(items))


def string_problem(text: str) -> str | None:
    """Why ``text`` must not reach a tokenizer or a file, or ``None``."""
    if "\x00" in text:
        return f"NUL character at position {text.index(chr(0))}"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            return (
                f"lone surrogate {text[e.start]!r} at position {e.start} "
                "(not a character; cannot be written as UTF-8)"
            )
    return None


def _normal(name: str) -> str:
    return "".join(c for c in name.casefold() if c not in " _-")


def _one_edit(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by one insertion, deletion, substitution or swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
        )
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def near_miss(name: str, known: frozenset[str]) -> str | None:
    """The known field that ``name`` looks like a misspelling of, or ``None``."""
    if name in known:
        return None
    normal = _normal(name)
    for candidate in sorted(known):
        if normal == candidate or (len(candidate) >= 4 and _one_edit(normal, candidate)):
            return candidate
    return None


def check_names(
    obj: dict, known: frozenset[str], foreign: dict[str, str], problems: list[FieldProblem]
) -> None:
    """Extra fields are kept out of the record, but a near-miss of a ``known`` field,
    or a field of another kind (``foreign``: field -> that kind), is an error."""
    for name in obj:
        if not isinstance(name, str) or name in known:
            continue
        if name in foreign:
            problems.append(
                FieldProblem(
                    name,
                    f"a {foreign[name]} field in this record: which kind is it? "
                    "(drop or rename the field, or fix the file's kind)",
                )
            )
            continue
        guess = near_miss(name, known)
        if guess is not None:
            problems.append(FieldProblem(name, f"unknown field; did you mean {guess!r}?"))
