"""The records that flow between pipeline stages.

A prompt or a response is either plain text or a chat-message list
(``[{"role": "user", "content": "..."}]``), the two formats TRL and most
preference datasets use. Parsing never stops at the first problem: every
``from_dict`` collects all :class:`FieldProblem` s of a record and raises them
together, so a validator can report a file in one pass.

Accepted field layouts (aliases are folded into the canonical names):

- ``Demonstration``: ``prompt`` + ``response`` (or ``completion``), or a
  conversation ``messages`` whose last turn is the assistant's response.
- ``Comparison``: ``prompt`` + ``chosen`` + ``rejected`` (+ ``annotator``,
  ``weight``, ``meta``). TRL's implicit-prompt form (no ``prompt``; ``chosen``
  and ``rejected`` are whole conversations sharing their opening turns) is
  split at the last shared turn.
- ``Sample``: ``input`` (+ ``target``, ``choices``, ``id``, ``meta``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Message = dict[str, str]
Text = str | list[Message]
Kind = Literal["demonstration", "comparison", "sample"]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


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


def _check_text(value: Any, name: str, problems: list[FieldProblem]) -> Text | None:
    """Check one text field (string or chat list); append problems, return the value."""
    if value is None:
        problems.append(FieldProblem(name, "missing field"))
        return None
    if isinstance(value, str):
        if not value.strip():
            problems.append(FieldProblem(name, "empty text"))
        return value
    if isinstance(value, list):
        if not value:
            problems.append(FieldProblem(name, "empty message list"))
        for i, message in enumerate(value):
            where = f"{name}[{i}]"
            if not isinstance(message, dict):
                problems.append(
                    FieldProblem(where, f"expected a message object, got {type(message).__name__}")
                )
                continue
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
                    FieldProblem(
                        f"{where}.content", f"expected a string, got {type(content).__name__}"
                    )
                )
            elif not content.strip():
                problems.append(FieldProblem(f"{where}.content", "empty text"))
        return value
    problems.append(
        FieldProblem(name, f"expected a string or a message list, got {type(value).__name__}")
    )
    return None


def _check_meta(value: Any, problems: list[FieldProblem]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(FieldProblem("meta", f"expected an object, got {type(value).__name__}"))
        return {}
    return value


def _require_object(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise RecordError(
            [FieldProblem("<record>", f"expected an object, got {type(obj).__name__}")]
        )


def text_of(value: Text) -> str:
    """Plain text of a string or a chat list (turn contents joined by newlines)."""
    if isinstance(value, str):
        return value
    return "\n".join(m["content"] for m in value)


def split_conversation(chosen: list, rejected: list) -> tuple[list, list, list]:
    """Split two conversations at the end of their shared opening turns.

    Returns ``(prompt, chosen_tail, rejected_tail)``; the prompt ends before the
    first turn where the conversations differ, so both tails are non-empty when
    the conversations differ at all.
    """
    shared = 0
    for a, b in zip(chosen, rejected, strict=False):
        if a != b:
            break
        shared += 1
    shared = min(shared, len(chosen) - 1, len(rejected) - 1)
    return chosen[:shared], chosen[shared:], rejected[shared:]


@dataclass(frozen=True, slots=True)
class Demonstration:
    """A prompt and the response a human (or a better policy) gave: SFT data."""

    prompt: Text
    response: Text
    meta: dict = field(default_factory=dict)

    kind: ClassVar[Kind] = "demonstration"

    @classmethod
    def from_dict(cls, obj: Any) -> Demonstration:
        _require_object(obj)
        problems: list[FieldProblem] = []
        if "messages" in obj and "prompt" not in obj:
            messages = _check_text(obj["messages"], "messages", problems)
            if isinstance(messages, str):
                problems.append(FieldProblem("messages", "expected a message list, got str"))
            elif messages and not problems:
                if messages[-1].get("role") != "assistant":
                    problems.append(
                        FieldProblem("messages", "last message must be the assistant's response")
                    )
                elif len(messages) < 2:
                    problems.append(FieldProblem("messages", "no prompt before the response"))
                else:
                    prompt, response = messages[:-1], messages[-1:]
        else:
            prompt = _check_text(obj.get("prompt"), "prompt", problems)
            name = "completion" if "completion" in obj and "response" not in obj else "response"
            response = _check_text(obj.get(name), name, problems)
        meta = _check_meta(obj.get("meta"), problems)
        if problems:
            raise RecordError(problems)
        return cls(prompt, response, meta)

    def to_dict(self) -> dict:
        return {"prompt": self.prompt, "response": self.response, "meta": self.meta}


@dataclass(frozen=True, slots=True)
class Comparison:
    """A pairwise preference: ``chosen`` was preferred to ``rejected`` for ``prompt``.

    ``weight`` is the label's strength: 1.0 for a hard label, a probability in
    (0.5, 1] for a soft label such as AI feedback's normalized option
    probabilities. ``annotator`` names who labelled it, for agreement measures.
    """

    prompt: Text
    chosen: Text
    rejected: Text
    annotator: str | None = None
    weight: float = 1.0
    meta: dict = field(default_factory=dict)

    kind: ClassVar[Kind] = "comparison"

    @classmethod
    def from_dict(cls, obj: Any) -> Comparison:
        _require_object(obj)
        problems: list[FieldProblem] = []
        chosen = _check_text(obj.get("chosen"), "chosen", problems)
        rejected = _check_text(obj.get("rejected"), "rejected", problems)
        if "prompt" in obj or not (isinstance(chosen, list) and isinstance(rejected, list)):
            prompt = _check_text(obj.get("prompt"), "prompt", problems)
        elif not problems:
            prompt, chosen, rejected = split_conversation(chosen, rejected)
            if not prompt:
                problems.append(
                    FieldProblem("prompt", "missing field (conversations share no opening turn)")
                )
        if not problems and chosen == rejected:
            problems.append(FieldProblem("rejected", "identical to chosen"))
        annotator = obj.get("annotator")
        if annotator is not None and not isinstance(annotator, (str, int)):
            problems.append(
                FieldProblem("annotator", f"expected a string, got {type(annotator).__name__}")
            )
        weight = obj.get("weight", 1.0)
        if weight is None:
            weight = 1.0
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            problems.append(
                FieldProblem("weight", f"expected a number, got {type(weight).__name__}")
            )
        elif not 0.0 <= weight <= 1.0:
            problems.append(FieldProblem("weight", f"must be in [0, 1], got {weight}"))
        meta = _check_meta(obj.get("meta"), problems)
        if problems:
            raise RecordError(problems)
        return cls(
            prompt,
            chosen,
            rejected,
            None if annotator is None else str(annotator),
            float(weight),
            meta,
        )

    def to_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "chosen": self.chosen,
            "rejected": self.rejected,
            "annotator": self.annotator,
            "weight": self.weight,
            "meta": self.meta,
        }


@dataclass(frozen=True, slots=True)
class Sample:
    """One evaluation item: what the model is given, and what scorers need.

    ``target`` is the reference answer (or a list of acceptable ones) when the
    task has one; ``choices`` are the options of a multiple-choice item.
    """

    input: Text
    target: str | list[str] | None = None
    choices: list[str] | None = None
    id: str | None = None
    meta: dict = field(default_factory=dict)

    kind: ClassVar[Kind] = "sample"

    @classmethod
    def from_dict(cls, obj: Any) -> Sample:
        _require_object(obj)
        problems: list[FieldProblem] = []
        input_ = _check_text(obj.get("input"), "input", problems)
        target = obj.get("target")
        if target is not None and not (
            isinstance(target, str)
            or (isinstance(target, list) and all(isinstance(t, str) for t in target))
        ):
            problems.append(FieldProblem("target", "expected a string or a list of strings"))
        choices = obj.get("choices")
        if choices is not None and not (
            isinstance(choices, list) and choices and all(isinstance(c, str) for c in choices)
        ):
            problems.append(FieldProblem("choices", "expected a non-empty list of strings"))
        id_ = obj.get("id")
        if id_ is not None and not isinstance(id_, (str, int)):
            problems.append(FieldProblem("id", f"expected a string, got {type(id_).__name__}"))
        meta = _check_meta(obj.get("meta"), problems)
        if problems:
            raise RecordError(problems)
        return cls(input_, target, choices, None if id_ is None else str(id_), meta)

    def to_dict(self) -> dict:
        return {
            "input": self.input,
            "target": self.target,
            "choices": self.choices,
            "id": self.id,
            "meta": self.meta,
        }


Record = Demonstration | Comparison | Sample
RECORD_TYPES: dict[str, type[Record]] = {
    "demonstration": Demonstration,
    "comparison": Comparison,
    "sample": Sample,
}


def detect_kind(obj: Any) -> Kind | None:
    """Guess a record's kind from its fields; ``None`` when nothing fits."""
    if not isinstance(obj, dict):
        return None
    if "chosen" in obj or "rejected" in obj:
        return "comparison"
    if "response" in obj or "completion" in obj or "messages" in obj:
        return "demonstration"
    if "input" in obj:
        return "sample"
    return None
