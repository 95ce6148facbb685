"""Evaluation records: one JSON line per evaluated sample (its :class:`Score` s among them),
appended as samples finish.

A run's ``records.jsonl`` grows line by line and is flushed to disk after every
write, so a killed run loses only the samples in flight. A process killed in
the middle of a write can leave one unfinished last line; :func:`read_eval_records`
drops it (and cuts it from the file), while a bad line anywhere else is an
error naming the file, the line and the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignlab.data.io import complete_lines
from alignlab.data.records import Message, Text


@dataclass(frozen=True, slots=True)
class Score:
    """One scorer's verdict on one sample."""

    value: float | None
    """The score; ``None`` when the scorer does not apply to the sample, or failed."""
    explanation: str
    """Why, in words a reader can check against the output."""
    label: str | None = None
    """The output's category (``refused``, ``sycophantic``, ...), if the scorer has categories."""
    error: str | None = None
    """Why no score could be given (say, a judge's unparseable answer); never a score itself."""
    rule_label: str | None = None
    """Beside a judge's verdict, the rule's label for the same reply: where the two differ,
    the record shows the disagreement."""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "value": self.value,
            "label": self.label,
            "explanation": self.explanation,
            "error": self.error,
        }
        if self.rule_label is not None:
            out["rule_label"] = self.rule_label
        return out

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Score:
        value = obj.get("value")
        return cls(
            None if value is None else float(value),
            str(obj.get("explanation", "")),
            obj.get("label"),
            obj.get("error"),
            obj.get("rule_label"),
        )


class EvalRecordError(ValueError):
    """A records file holds a line that is not an evaluation record."""


@dataclass
class EvalRecord:
    """What happened to one sample of one suite."""

    suite: str
    """The suite the sample belongs to."""
    id: str
    """The sample's id, unique within its suite."""
    index: int
    """The sample's position in its suite's dataset; summaries go in this order."""
    input: Text
    """The sample's input, as the dataset holds it."""
    target: str | list[str] | None
    """The sample's reference answer, when it has one."""
    output: str
    """The model's final answer (empty when the sample failed)."""
    transcript: list[Message] = field(default_factory=list)
    """The conversation as the model saw it, its answers included."""
    scores: dict[str, Score] = field(default_factory=dict)
    """Each scorer's value, label, explanation and error, by scorer name."""
    meta: dict[str, Any] = field(default_factory=dict)
    """The sample's metadata (family, condition, ...)."""
    data: dict[str, Any] = field(default_factory=dict)
    """The solver's structured results (option probabilities, earlier answers, ...)."""
    backend: dict[str, Any] = field(default_factory=dict)
    """The backend's name and each model call's model, finish reason, cache hit and usage."""
    error: str | None = None
    """Why the sample could not be solved; such a sample is tried again on ``--resume``."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.suite, self.id)

    def value(self, scorer: str) -> float | None:
        """The named scorer's value, ``None`` when absent, not applicable or failed."""
        score = self.scores.get(scorer)
        return None if score is None or score.error else score.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "id": self.id,
            "index": self.index,
            "input": self.input,
            "target": self.target,
            "output": self.output,
            "transcript": self.transcript,
            "scores": {name: score.to_dict() for name, score in self.scores.items()},
            "meta": self.meta,
            "data": self.data,
            "backend": self.backend,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, obj: Any) -> EvalRecord:
        """Parse one record; raises ``ValueError`` naming the first bad field."""
        if not isinstance(obj, dict):
            raise ValueError(f"<record>: expected an object, got {type(obj).__name__}")
        for name, kind in (("suite", str), ("id", str), ("index", int), ("output", str)):
            if not isinstance(obj.get(name), kind):
                raise ValueError(f"{name}: expected {kind.__name__}, got {obj.get(name)!r:.60}")
        scores = obj.get("scores") or {}
        if not isinstance(scores, dict) or not all(isinstance(s, dict) for s in scores.values()):
            raise ValueError("scores: expected an object of score objects")
        return cls(
            suite=obj["suite"],
            id=obj["id"],
            index=obj["index"],
            input=obj.get("input"),
            target=obj.get("target"),
            output=obj["output"],
            transcript=list(obj.get("transcript") or []),
            scores={name: Score.from_dict(s) for name, s in scores.items()},
            meta=dict(obj.get("meta") or {}),
            data=dict(obj.get("data") or {}),
            backend=dict(obj.get("backend") or {}),
            error=obj.get("error"),
        )


def append_records(path: str | Path, records: Iterable[EvalRecord]) -> None:
    """Append records as JSON lines and flush them to disk before returning."""
    with open(path, "a", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())


def read_eval_records(path: str | Path, *, repair: bool = True) -> list[EvalRecord]:
    """Every record in ``path`` (none if it does not exist), in file order.

    An unfinished last line, left by a killed writer, is dropped, and with
    ``repair`` also cut from the file so that appending continues cleanly.
    """
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line_no, line in complete_lines(path, repair=repair):
        try:
            records.append(EvalRecord.from_dict(json.loads(line)))
        except json.JSONDecodeError as e:
            raise EvalRecordError(f"{path}:{line_no}: <json>: {e.msg} (column {e.colno})") from None
        except ValueError as e:
            raise EvalRecordError(f"{path}:{line_no}: {e}") from None
    return records


def write_records_atomic(path: str | Path, records: Iterable[EvalRecord]) -> None:
    """Replace ``path`` with exactly these records (a temporary file renamed into place)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    append_records(tmp, records)
    os.replace(tmp, path)
