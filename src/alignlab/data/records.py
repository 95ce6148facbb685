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
- ``Labelled``: ``prompt`` + ``response`` + ``label``, the probability in [0, 1] that the
  response is correct (a gold 0/1, or a weak supervisor's soft label) (+ ``id``,
  ``meta``): a classifier's examples (verifiers, reward models of outcomes and steps).

A chat-list prompt (or ``input``) ends with a user turn and a chat-list response
(``response``, ``chosen``, ``rejected``) is assistant turns only, so every record
renders under a chat template as "the prompt, then the model's reply". A
comparison's ``weight`` is at least 0.5: below it, the label says ``rejected`` is
better. Extra fields are allowed; near-misses of known ones are not (see
:mod:`alignlab.data.fields`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from alignlab.data.fields import (
    ROLES,
    FieldProblem,
    RecordError,
    check_names,
    check_strings,
    check_text,
    check_turns,
)

Message = dict[str, str]
Text = str | list[Message]
Kind = Literal["demonstration", "comparison", "sample", "labelled"]

__all__ = [
    "ROLES",
    "Comparison",
    "Demonstration",
    "FieldProblem",
    "Kind",
    "Labelled",
    "Message",
    "Record",
    "RecordError",
    "Sample",
    "Text",
    "detect_kind",
    "split_conversation",
    "text_of",
]


def _check_meta(value: Any, problems: list[FieldProblem]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(FieldProblem("meta", f"expected an object, got {type(value).__name__}"))
        return {}
    return value


def _start(obj: Any, known: frozenset[str], foreign: dict[str, str]) -> list[FieldProblem]:
    """The problems every kind shares: not an object, bad strings, misspelt fields."""
    if not isinstance(obj, dict):
        raise RecordError(
            [FieldProblem("<record>", f"expected an object, got {type(obj).__name__}")]
        )
    problems: list[FieldProblem] = []
    check_strings(obj, problems)
    check_names(obj, known, foreign, problems)
    return problems


def _check_id(value: Any, name: str, problems: list[FieldProblem]) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        problems.append(FieldProblem(name, f"expected a string, got {type(value).__name__}"))
        return None
    return str(value)


def text_of(value: Text) -> str:
    """Plain text of a string or a chat list (turn contents joined by newlines)."""
    if isinstance(value, str):
        return value
    return "\n".join(m["content"] for m in value)


def split_conversation(chosen: list, rejected: list) -> tuple[list, list, list]:
    """Split two conversations at the end of their shared opening turns.

    Returns ``(prompt, chosen_tail, rejected_tail)``; the prompt ends before the
    first turn where the conversations differ, so both tails are non-empty when
    the conversations differ at all, and it is cut back to its last user turn, so
    that shared assistant turns (one reply extending the other) stay in the replies.
    """
    shared = 0
    for a, b in zip(chosen, rejected, strict=False):
        if a != b:
            break
        shared += 1
    shared = min(shared, len(chosen) - 1, len(rejected) - 1)
    while shared and not (isinstance(chosen[shared - 1], dict) and _is_user(chosen[shared - 1])):
        shared -= 1
    return chosen[:shared], chosen[shared:], rejected[shared:]


def _is_user(message: dict) -> bool:
    return message.get("role") == "user"


@dataclass(frozen=True, slots=True)
class Demonstration:
    """A prompt and the response a human (or a better policy) gave: SFT data."""

    prompt: Text
    response: Text
    meta: dict = field(default_factory=dict)

    kind: ClassVar[Kind] = "demonstration"
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"prompt", "response", "completion", "messages", "meta"}
    )

    @classmethod
    def from_dict(cls, obj: Any) -> Demonstration:
        problems = _start(obj, cls.FIELDS, {"chosen": "comparison", "rejected": "comparison"})
        if "messages" in obj and "prompt" not in obj:
            before = len(problems)
            messages = check_text(obj["messages"], "messages", problems)
            if isinstance(messages, str):
                problems.append(FieldProblem("messages", "expected a message list, got str"))
            elif messages and len(problems) == before:
                if messages[-1].get("role") != "assistant":
                    problems.append(
                        FieldProblem("messages", "last message must be the assistant's response")
                    )
                elif len(messages) < 2:
                    problems.append(FieldProblem("messages", "no prompt before the response"))
                else:
                    prompt, response = messages[:-1], messages[-1:]
                    check_turns(prompt, "messages", "prompt", problems)
        else:
            if "completion" in obj and "response" in obj:
                problems.append(FieldProblem("completion", "given with response: use one of them"))
            prompt = check_text(obj.get("prompt"), "prompt", problems, "prompt")
            name = "completion" if "completion" in obj and "response" not in obj else "response"
            response = check_text(obj.get(name), name, problems, "response")
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
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"prompt", "chosen", "rejected", "annotator", "weight", "meta"}
    )

    @classmethod
    def from_dict(cls, obj: Any) -> Comparison:
        problems = _start(
            obj, cls.FIELDS, {"response": "demonstration", "completion": "demonstration"}
        )
        before = len(problems)
        implicit = "prompt" not in obj and all(
            isinstance(obj.get(k), list) for k in ("chosen", "rejected")
        )
        side = None if implicit else "response"
        chosen = check_text(obj.get("chosen"), "chosen", problems, side)
        rejected = check_text(obj.get("rejected"), "rejected", problems, side)
        if not implicit:
            prompt = check_text(obj.get("prompt"), "prompt", problems, "prompt")
        elif len(problems) == before:
            prompt, chosen, rejected = split_conversation(chosen, rejected)
            if not prompt:
                problems.append(
                    FieldProblem(
                        "prompt", "missing field (conversations share no opening user turn)"
                    )
                )
            else:
                check_turns(prompt, "chosen", "prompt", problems)
                check_turns(chosen, "chosen", "response", problems, offset=len(prompt))
                check_turns(rejected, "rejected", "response", problems, offset=len(prompt))
        if not problems and chosen == rejected:
            problems.append(FieldProblem("rejected", "identical to chosen"))
        annotator = _check_id(obj.get("annotator"), "annotator", problems)
        weight = obj.get("weight", 1.0)
        if weight is None:
            weight = 1.0
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            problems.append(
                FieldProblem("weight", f"expected a number, got {type(weight).__name__}")
            )
        elif not 0.0 <= weight <= 1.0:
            problems.append(FieldProblem("weight", f"must be in [0, 1], got {weight}"))
        elif weight < 0.5:
            problems.append(
                FieldProblem(
                    "weight",
                    f"{weight} < 0.5 says rejected is the better reply, which reverses the "
                    "label; swap chosen and rejected and write 1 - weight",
                )
            )
        meta = _check_meta(obj.get("meta"), problems)
        if problems:
            raise RecordError(problems)
        return cls(prompt, chosen, rejected, annotator, float(weight), meta)

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
    FIELDS: ClassVar[frozenset[str]] = frozenset({"input", "target", "choices", "id", "meta"})

    @classmethod
    def from_dict(cls, obj: Any) -> Sample:
        problems = _start(obj, cls.FIELDS, {})
        input_ = check_text(obj.get("input"), "input", problems, "prompt")
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
        id_ = _check_id(obj.get("id"), "id", problems)
        meta = _check_meta(obj.get("meta"), problems)
        if problems:
            raise RecordError(problems)
        return cls(input_, target, choices, id_, meta)

    def to_dict(self) -> dict:
        return {
            "input": self.input,
            "target": self.target,
            "choices": self.choices,
            "id": self.id,
            "meta": self.meta,
        }


@dataclass(frozen=True, slots=True)
class Labelled:
    """A prompt, a response and the probability that the response is correct."""

    prompt: Text
    response: Text
    label: float
    id: str | None = None
    meta: dict = field(default_factory=dict)

    kind: ClassVar[Kind] = "labelled"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"prompt", "response", "label", "id", "meta"})

    @classmethod
    def from_dict(cls, obj: Any) -> Labelled:
        problems = _start(obj, cls.FIELDS, {"chosen": "comparison", "input": "sample"})
        prompt = check_text(obj.get("prompt"), "prompt", problems, "prompt")
        response = check_text(obj.get("response"), "response", problems, "response")
        label = obj.get("label")
        if isinstance(label, bool) or not isinstance(label, int | float) or not 0 <= label <= 1:
            problems.append(FieldProblem("label", f"expected a number in [0, 1], got {label!r}"))
        id_ = _check_id(obj.get("id"), "id", problems)
        meta = _check_meta(obj.get("meta"), problems)
        if problems:
            raise RecordError(problems)
        return cls(prompt, response, float(label), id_, meta)

    def to_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "response": self.response,
            "label": self.label,
            "id": self.id,
            "meta": self.meta,
        }


Record = Demonstration | Comparison | Sample | Labelled
RECORD_TYPES: dict[str, type[Record]] = {
    "demonstration": Demonstration,
    "comparison": Comparison,
    "sample": Sample,
    "labelled": Labelled,
}


def detect_kind(obj: Any) -> Kind | None:
    """Guess a record's kind from its fields; ``None`` when nothing fits."""
    if not isinstance(obj, dict):
        return None
    if "chosen" in obj or "rejected" in obj:
        return "comparison"
    if "label" in obj:
        return "labelled"
    if "response" in obj or "completion" in obj or "messages" in obj:
        return "demonstration"
    if "input" in obj:
        return "sample"
    return None
