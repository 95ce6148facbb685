"""Constitutions: the principles Constitutional AI critiques, revises and labels by.

A constitution (Bai et al. 2022, "Constitutional AI: Harmlessness from AI Feedback") is a
list of principles. Each principle gives three requests put to a model in natural
language: a *critique* request (asked after a response: what is wrong with it under this
principle?), a *revision* request (asked after the critique: rewrite the response), and a
*comparison* question (asked of a feedback model about two responses: which is better
under this principle?). A constitution is a TOML file::

    name = "my-constitution"
    description = "what it is for"

    [comparison]                # how a comparison is put to the feedback model
    options = ["(A)", "(B)"]    # the answers that name the first and the second response

    [[comparison.turns]]        # the conversation the feedback model is shown
    role = "user"
    content = "{conversation} ... {question} ... {option_first} {first} ..."

    [[principles]]
    id = "honest"
    critique = "..."
    revision = "..."
    question = "..."

A turn's ``content`` and each option are templates with the fields ``{conversation}``
(the prompt as text, ``User: ...`` and ``Assistant: ...`` turns), ``{question}`` (the
principle's comparison question), ``{first}`` and ``{second}`` (the two responses in the
order shown) and ``{option_first}`` and ``{option_second}`` (the options); ``{{`` and
``}}`` are literal braces. A turn with ``role = "conversation"`` stands for the prompt's
own turns, spliced in as they are. Options are usually labels such as ``"(A)"``; options
``"{first}"`` and ``"{second}"`` instead ask, cloze-style, which of the two responses
the model would give itself (how a model that cannot answer lettered questions is asked).
The conversation and the responses a turn embeds among its own words are fenced as data
the feedback model must not obey (see :meth:`ComparisonLayout.render`).

alignlab ships two constitutions, loaded by name: ``default`` (for chat models) and
``organism`` (for the assistant world, in its language). Problems in a file are reported
as ``FILE:LINE: KEY: problem``.
"""

from __future__ import annotations

import random
import re
import string
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from alignlab.data.records import ROLES, Message, Text
from alignlab.models.fence import data_marker, fence, fence_notice

BUILTIN = ("default", "organism")
"""Constitutions shipped with alignlab, by name."""
FIELDS = frozenset({"conversation", "question", "first", "second", "option_first", "option_second"})
"""The fields a comparison template may use."""
_OPTION_FIELDS = frozenset({"option_first", "option_second"})
SPEAKERS = {"system": "System", "user": "User", "assistant": "Assistant", "developer": "Developer"}


class ConstitutionError(ValueError):
    """A constitution file that cannot be used; the message names the file, line and key."""


@dataclass(frozen=True)
class Principle:
    """One principle: how to critique, revise and compare responses by it."""

    id: str
    """A short name, unique in its constitution, kept with every critique and label."""
    critique: str
    """The critique request, asked after a response."""
    revision: str
    """The revision request, asked after the critique."""
    question: str
    """The comparison question put to a feedback model about two responses."""


@dataclass(frozen=True)
class Turn:
    """One turn of the conversation a feedback model is shown."""

    role: str
    """``system``, ``user`` or ``assistant``; or ``conversation`` for the prompt's own turns."""
    content: str = ""
    """A template (see the module docstring); unused by a ``conversation`` turn."""


@dataclass(frozen=True)
class ComparisonLayout:
    """How a comparison of two responses is put to a feedback model."""

    turns: tuple[Turn, ...]
    options: tuple[str, str] = ("(A)", "(B)")
    """The options naming the first and the second response (templates too)."""

    def render(
        self, prompt: Text, question: str, first: str, second: str
    ) -> tuple[list[Message], tuple[str, str]]:
        """The feedback model's conversation and the two options, for one presentation order.

        Text written by others (the conversation, the responses, options made of them) that a
        turn embeds among its own words is fenced (:mod:`alignlab.models.fence`): each such
        text lies between marker lines that no text can forge, and the first such turn opens
        with a clause saying that what lies between them is data, never instructions. A turn
        that is one field alone (``content = "{first}"``) and a ``conversation`` turn show
        text as turns of their own, delimited by their chat roles, and are left as they are
        (the organism's cloze comparisons are such turns). Options are never fenced: they are
        what the model is asked to say.
        """
        messages = prompt_messages(prompt)
        fields = {"conversation": conversation_text(messages), "question": question}
        fields |= {"first": first, "second": second}
        options = tuple(o.format(**fields) for o in self.options)
        fields |= {"option_first": options[0], "option_second": options[1]}
        others = {"conversation", "first", "second"}
        named = zip(("option_first", "option_second"), self.options, strict=True)
        others |= {name for name, option in named if _names(option)}
        texts = [t.content for t in self.turns if t.role != "conversation"]
        embedded = [n for t in texts if not _alone(t) for n in _names(t) if n in others]
        marker = data_marker(*(fields[n] for n in dict.fromkeys(embedded)))
        fenced = fields | {n: fence(fields[n], marker) for n in others}
        out: list[Message] = []
        noticed = False
        for turn in self.turns:
            if turn.role == "conversation":
                out.extend(messages)
                continue
            if _alone(turn.content):
                out.append({"role": turn.role, "content": turn.content.format(**fields)})
                continue
            content = turn.content.format(**fenced)
            if not noticed and others.intersection(_names(turn.content)):
                content, noticed = f"{_notice(marker, embedded)}\n\n{content}", True
            out.append({"role": turn.role, "content": content})
        return out, options


def _names(template: str) -> list[str]:
    """The fields a template uses, in order of first use."""
    parts = string.Formatter().parse(template)
    return list(dict.fromkeys(name for _, name, _, _ in parts if name is not None))


def _alone(template: str) -> bool:
    """Whether a template is one field and nothing but white space around it."""
    parts = list(string.Formatter().parse(template))
    return (
        sum(name is not None for _, name, _, _ in parts) == 1
        and not "".join(literal for literal, _, _, _ in parts).strip()
    )


def _notice(marker: str, embedded: list[str]) -> str:
    conversation, replies = "conversation" in embedded, set(embedded) - {"conversation"}
    what = (
        "The conversation and the replies below are each"
        if conversation and replies
        else "The conversation below is"
        if conversation
        else "Each reply below is"
    )
    return fence_notice(marker, what, "which reply is better", "judge each reply as it stands")


@dataclass(frozen=True)
class Constitution:
    """A named list of principles and the layout of comparisons."""

    name: str
    principles: tuple[Principle, ...]
    comparison: ComparisonLayout
    description: str = ""
    source: str = ""
    """Where it was read from: a file path, or ``builtin:NAME``."""

    def __getitem__(self, principle_id: str) -> Principle:
        for principle in self.principles:
            if principle.id == principle_id:
                return principle
        known = ", ".join(p.id for p in self.principles)
        raise KeyError(f"{self.name} has no principle {principle_id!r} (known: {known})")

    def sample(self, rng: random.Random, k: int = 1) -> list[Principle]:
        """``k`` principles drawn uniformly, without repeats while there are enough."""
        if k < 1:
            raise ValueError(f"k: must be at least 1, got {k}")
        drawn: list[Principle] = []
        while len(drawn) < k:
            drawn += rng.sample(self.principles, min(k - len(drawn), len(self.principles)))
        return drawn


def prompt_messages(prompt: Text) -> list[Message]:
    """A prompt as chat messages: a string is one user turn."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": m["role"], "content": m["content"]} for m in prompt]


def conversation_text(messages: list[Message]) -> str:
    """Turns as ``User: ...`` and ``Assistant: ...`` paragraphs, the way a comparison shows them."""
    return "\n\n".join(f"{SPEAKERS.get(m['role'], m['role'])}: {m['content']}" for m in messages)


def load_constitution(name_or_path: str | Path) -> Constitution:
    """A built-in constitution by name (``default``, ``organism``) or one from a TOML file."""
    if str(name_or_path) in BUILTIN:
        resource = resources.files("alignlab.feedback") / "constitutions" / f"{name_or_path}.toml"
        return parse_constitution(resource.read_text(encoding="utf-8"), f"builtin:{name_or_path}")
    path = Path(name_or_path)
    if not path.is_file():
        raise ConstitutionError(
            f"{path}: no such constitution file (built-in ones: {', '.join(BUILTIN)})"
        )
    return parse_constitution(path.read_text(encoding="utf-8"), str(path))


def parse_constitution(text: str, source: str = "<constitution>") -> Constitution:
    """A constitution from TOML text; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConstitutionError(f"{source}: not valid TOML: {e}") from None
    where = _Locator(text, source)
    _keys(data, {"name", "description", "comparison", "principles"}, "", where.key)
    name = _string(data, "name", "", where.key)
    description = _string(data, "description", "", where.key, required=False)
    comparison = _comparison(data.get("comparison"), where)
    raw = data.get("principles")
    if not isinstance(raw, list) or not raw:
        raise ConstitutionError(
            f"{where.key('principles')}: principles: need at least one [[principles]] table"
        )
    principles, seen = [], {}
    for i, table in enumerate(raw):
        locate = where.table("principles", i)
        label = f"principles[{i}]"
        if not isinstance(table, dict):
            raise ConstitutionError(f"{locate(None)}: {label}: expected a table")
        keys = ("id", "critique", "revision", "question")
        _keys(table, set(keys), label, locate)
        fields = {key: _string(table, key, label, locate) for key in keys}
        if fields["id"] in seen:
            raise ConstitutionError(
                f"{locate('id')}: {label}.id: {fields['id']!r} is already the id of "
                f"principles[{seen[fields['id']]}]"
            )
        seen[fields["id"]] = i
        principles.append(Principle(**fields))
    return Constitution(name, tuple(principles), comparison, description, source)


def _comparison(table, where: _Locator) -> ComparisonLayout:
    locate = where.section("comparison")
    if not isinstance(table, dict):
        raise ConstitutionError(f"{locate(None)}: comparison: need a [comparison] table")
    _keys(table, {"turns", "options"}, "comparison", locate)
    options = table.get("options", ["(A)", "(B)"])
    if (
        not isinstance(options, list)
        or len(options) != 2
        or not all(isinstance(o, str) and o.strip() for o in options)
        or options[0].strip() == options[1].strip()
    ):
        raise ConstitutionError(
            f"{locate('options')}: comparison.options: expected two different non-blank "
            f"strings, got {options!r}"
        )
    for option in options:
        _template(option, "comparison.options", locate("options"), FIELDS - _OPTION_FIELDS)
    turns = table.get("turns")
    if not isinstance(turns, list) or not turns:
        raise ConstitutionError(
            f"{locate(None)}: comparison.turns: need at least one [[comparison.turns]] table"
        )
    out, used = [], set()
    for i, turn in enumerate(turns):
        at = where.table("comparison.turns", i)
        label = f"comparison.turns[{i}]"
        if not isinstance(turn, dict):
            raise ConstitutionError(f"{at(None)}: {label}: expected a table")
        _keys(turn, {"role", "content"}, label, at)
        role = _string(turn, "role", label, at)
        if role == "conversation":
            out.append(Turn(role))
            used.add("conversation")
            continue
        if role not in ROLES:
            raise ConstitutionError(
                f"{at('role')}: {label}.role: {role!r} is not 'conversation' or one of "
                f"{sorted(ROLES)}"
            )
        content = _string(turn, "content", label, at)
        used |= _template(content, f"{label}.content", at("content"), FIELDS)
        out.append(Turn(role, content))
    shown = used | {f for o in options for f in _template(o, "", "", FIELDS)}
    missing = sorted({"question", "first", "second"} - shown)
    if missing:
        raise ConstitutionError(
            f"{locate(None)}: comparison: the turns and options never show {{{missing[0]}}}"
        )
    return ComparisonLayout(tuple(out), (options[0], options[1]))


def _template(text: str, label: str, at: str, allowed: frozenset) -> set[str]:
    """The fields ``text`` uses; an error for a malformed template or an unknown field."""
    try:
        names = set(_names(text))
    except ValueError as e:
        raise ConstitutionError(f"{at}: {label}: not a valid template: {e}") from None
    unknown = sorted(n for n in names if n not in allowed)
    if unknown:
        raise ConstitutionError(
            f"{at}: {label}: unknown field {{{unknown[0]}}} (known: "
            f"{', '.join('{' + f + '}' for f in sorted(allowed))})"
        )
    return names


def _keys(table: dict, known: set[str], label: str, locate) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        key = f"{label}.{unknown[0]}" if label else unknown[0]
        raise ConstitutionError(
            f"{locate(unknown[0])}: {key}: unknown key (known: {', '.join(sorted(known))})"
        )


def _string(table: dict, key: str, label: str, locate, *, required: bool = True) -> str:
    name = f"{label}.{key}" if label else key
    value = table.get(key)
    if value is None:
        if required:
            raise ConstitutionError(f"{locate(None)}: {name}: missing key")
        return ""
    if not isinstance(value, str):
        raise ConstitutionError(f"{locate(key)}: {name}: expected a string, got {value!r:.60}")
    if required and not value.strip():
        raise ConstitutionError(f"{locate(key)}: {name}: empty text")
    return value


class _Locator:
    """Line numbers of keys and tables in the TOML text, for error messages."""

    def __init__(self, text: str, source: str):
        self.lines = text.splitlines()
        self.source = source

    def _find(self, pattern: str, start: int = 0, stop: int | None = None) -> int | None:
        regex = re.compile(pattern)
        for n in range(start, len(self.lines) if stop is None else stop):
            if regex.match(self.lines[n]):
                return n
        return None

    def _at(self, line: int | None) -> str:
        return self.source if line is None else f"{self.source}:{line + 1}"

    def _next_header(self, after: int) -> int:
        found = self._find(r"\s*\[", after + 1)
        return len(self.lines) if found is None else found

    def _key_in(self, start: int | None, key: str | None) -> str:
        if start is None or key is None:
            return self._at(start)
        line = self._find(rf"\s*{re.escape(key)}\s*=", start + 1, self._next_header(start))
        return self._at(start if line is None else line)

    def key(self, key: str | None) -> str:
        """``FILE:LINE`` of a top-level key (before the first table header)."""
        stop = self._find(r"\s*\[")
        line = None if key is None else self._find(rf"\s*{re.escape(key)}\s*=", 0, stop)
        return self._at(line)

    def section(self, name: str):
        """A locator of keys inside the table ``[name]``."""
        start = self._find(rf"\s*\[{re.escape(name)}\]")
        return lambda key: self._key_in(start, key)

    def table(self, name: str, index: int):
        """A locator of keys inside the ``index``-th ``[[name]]`` table."""
        start, seen = None, -1
        for n, line in enumerate(self.lines):
            if re.match(rf"\s*\[\[{re.escape(name)}\]\]", line):
                seen += 1
                if seen == index:
                    start = n
                    break
        return lambda key: self._key_in(start, key)
