"""Your own prompts as a suite: a Sample file scored by one verdict, from the command line.

``alignlab eval run --samples my.jsonl --scorer NAME`` builds a :class:`~alignlab.evals.Task`
from a record file of :class:`~alignlab.data.Sample` s (JSONL, gzipped JSONL, Parquet or a
``datasets`` directory) and the name of a :class:`~alignlab.evals.verdicts.Verdict`: the
model answers each ``input`` in one turn (the suites' :class:`~alignlab.evals.Generate`
solver), the verdict's :class:`~alignlab.evals.verdicts.VerdictScorer` labels each reply
(by its rule, or by a judge model with the rule's label kept beside it), and the metrics
are the share of replies given each of the verdict's labels (``refused_rate``, ...), with
Wilson 95% intervals (:func:`alignlab.stats.wilson`). For a verdict with a field of fixed
values (``harm``'s ``kind``) each label's rate is also given per value
(``refused_rate/harmful``). A score's value is 1 for the verdict's first label, else 0.
The run's suite is ``samples:STEM`` (``samples:my`` for ``my.jsonl``); the run directory,
``--resume`` and ``alignlab report --eval`` work as for the built-in suites.

Every sample is checked before anything is generated: each field the verdict's rule needs
must be in its ``meta`` (``target``, the right answer, is the record's own ``target``),
of the right type; numbers (``stance``'s ``claim`` and ``sum``) may be JSON numbers or
numeric strings and are kept as strings. An id, when given, is unique; samples without
one get ``line-N``. Every problem of every line is reported at once, as
``file:line: field: problem``.

``abandon`` asks whether the model keeps a right answer after "Are you sure?". Its
``input`` is either a plain question, which the model answers and, where its first
answer is right, is then asked the sycophancy suite's pushback in a second turn (a wrong
first answer is not scored); or the whole conversation as a message list, the model's
first answer as an assistant turn and the follow-up as the last user turn, which the
model answers once.

The fields each verdict needs, generated from each verdict's ``fields``
(``alignlab eval list`` prints the same)::

"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from alignlab.data.io import Problem, RecordFileError, iter_raw, parse
from alignlab.data.records import RecordError, Sample
from alignlab.evals.metrics import LabelRate
from alignlab.evals.options import SuiteOptions
from alignlab.evals.records import EvalRecord, read_eval_records
from alignlab.evals.solvers import FollowUp, Generate
from alignlab.evals.suites.facts import is_correct
from alignlab.evals.suites.sycophancy import PUSHBACK
from alignlab.evals.task import Solution, Task
from alignlab.evals.verdicts import VERDICTS, Verdict, VerdictScorer, judge_metrics, verdict
from alignlab.stats.intervals import Estimate, wilson

MAX_SHOWN = 200
"""Problems a :class:`SamplesFileError`'s message lists (it keeps them all)."""
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_SUFFIXES = (".gz", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")


class SamplesFileError(RecordFileError):
    """A samples file with problems; every one of them, located, in :attr:`problems`."""

    def __init__(self, path: str, scorer: str, problems: list[Problem]):
        self.problems = problems
        lines = [str(p) for p in problems[:MAX_SHOWN]]
        if len(problems) > MAX_SHOWN:
            lines.append(f"... and {len(problems) - MAX_SHOWN} more")
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        head = f"{path}: {count} for the {scorer} scorer; nothing was generated"
        ValueError.__init__(self, "\n".join([head, *lines]))


Checked = tuple[Any, str | None]
"""A field's value as kept (numbers as strings), and its problem (``None`` when fine)."""


def _number(value: Any) -> Checked:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return value, f"expected a number or numeric string, got {type(value).__name__}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return value, f"expected a finite number, got {value}"
        return (str(int(value)) if value.is_integer() else str(value)), None
    if isinstance(value, int):
        return str(value), None
    if not _NUMBER.fullmatch(value.strip()):
        return value, f"expected a number or numeric string, got {value!r}"
    return value.strip().replace(",", ""), None


def _choice(*allowed: str) -> Callable[[Any], Checked]:
    def check(value: Any) -> Checked:
        if value not in allowed:
            return value, f"must be {' or '.join(map(repr, allowed))}, got {value!r}"
        return value, None

    return check


def _text(value: Any) -> Checked:
    if not isinstance(value, str) or not value.strip():
        shown = type(value).__name__ if not isinstance(value, str) else "empty text"
        return value, f"expected a non-empty string, got {shown}"
    return value, None


def _boolean(value: Any) -> Checked:
    if not isinstance(value, bool):
        return value, f"expected true or false, got {value!r:.40}"
    return value, None


def _answers(value: Any) -> Checked:
    problem = "expected an object {answer: [spelling, ...]} of strings"
    if not isinstance(value, dict) or not value:
        return value, f"{problem}, got {type(value).__name__ if value else 'nothing'}"
    for answer, spellings in value.items():
        if not (
            isinstance(spellings, list)
            and spellings
            and all(isinstance(s, str) and s.strip() for s in spellings)
        ):
            return value, f"{problem}; {answer!r} has {spellings!r:.40}"
    return value, None


@dataclass(frozen=True)
class FieldSpec:
    """How one of a verdict's fields is written in a sample, and checked."""

    shown: str
    """Its type, as the schema shows it."""
    check: Callable[[Any], Checked]
    """Its value as kept, and what is wrong with it."""
    choices: tuple[str, ...] = ()
    """Its values, when they are a fixed few (each gets its own label rates)."""


FIELD_SPECS: dict[str, FieldSpec] = {
    "claim": FieldSpec("a number or numeric string", _number),
    "sum": FieldSpec("a number or numeric string", _number),
    "kind": FieldSpec('"harmful" or "benign"', _choice("harmful", "benign"), ("harmful", "benign")),
    "target": FieldSpec("a string, the record's own target", _text),
    "numeric": FieldSpec("true or false", _boolean),
    "answers": FieldSpec("an object, the target among its keys", _answers),
}
"""Each verdict field's type, by name; a field not here need only be present."""
_ANY = FieldSpec("any value", lambda value: (value, None))


def _where(name: str) -> str:
    return "target" if name == "target" else f"meta.{name}"


def schema_text() -> str:
    """Each verdict's question, labels and fields (from :data:`VERDICTS`), as plain text."""
    lines = []
    for v in VERDICTS.values():
        lines.append(f"{v.name}: {v.question.format_map(_Braces())}")
        lines.append(f"    labels: {', '.join(v.labels)}")
        if not v.fields:
            lines.append("    fields: none (any input)")
        for name, meaning in v.fields.items():
            lines.append(f"    {_where(name)} ({FIELD_SPECS.get(name, _ANY).shown}): {meaning}")
        if v.name == "abandon":
            lines.append("    input: a question, or a message list ending with the follow-up")
    return "\n".join(lines)


class _Braces(dict):
    """A format mapping that leaves a question's unknown ``{field}`` names as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _check(v: Verdict, sample: Sample) -> tuple[Sample, list[tuple[str, str]]]:
    """The sample with its fields as kept, and ``(field, problem)`` for each thing wrong."""
    problems: list[tuple[str, str]] = []
    meta, target, valid = dict(sample.meta), sample.target, {}
    for name in v.fields:
        spec = FIELD_SPECS.get(name, _ANY)
        present = target is not None if name == "target" else name in meta
        if not present:
            hint = " (at the top level, not in meta)" if name == "target" and name in meta else ""
            problems.append((_where(name), f"missing: {v.name} needs {v.fields[name]}{hint}"))
            continue
        kept, problem = spec.check(target if name == "target" else meta[name])
        if problem is not None:
            problems.append((_where(name), problem))
            continue
        valid[name] = kept
        if name != "target":
            meta[name] = kept
    if {"target", "answers"} <= set(valid) and valid["target"] not in valid["answers"]:
        problems.append(("meta.answers", f"has no entry for the target {valid['target']!r}"))
    if valid.get("numeric") and "target" in valid and not _PLAIN_NUMBER.fullmatch(valid["target"]):
        problems.append(("target", f"numeric is true but the target {valid['target']!r} is not"))
    conversation = isinstance(sample.input, list)
    if v.name == "abandon" and conversation and all(m["role"] != "assistant" for m in sample.input):
        problems.append(
            ("input", "a conversation needs the model's first answer (an assistant turn)")
        )
    return replace(sample, meta=meta), problems


def _stem(path: Path) -> str:
    name = path.name
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix)
    return name or path.name


def suite_name(path: str | Path) -> str:
    """The suite a samples file's records are kept under: ``samples:STEM``."""
    return f"samples:{_stem(Path(path))}"


def read_samples(path: str | Path, scorer: str) -> tuple[Sample, ...]:
    """The samples of ``path``, checked against the fields the verdict ``scorer`` needs.

    Raises :class:`SamplesFileError` with every problem of every line; a file that is
    missing raises ``FileNotFoundError``, an unknown scorer ``ValueError``.
    """
    v = verdict(scorer)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    name, problems, samples = str(path), [], []
    ids: dict[str, int] = {}
    try:
        for line, obj in iter_raw(path):
            try:
                sample = parse(obj, "sample")
            except RecordError as e:
                problems.extend(Problem(name, line, p.field, p.message) for p in e.problems)
                continue
            sample, wrong = _check(v, sample)
            problems.extend(Problem(name, line, f, m) for f, m in wrong)
            sample_id = sample.id if sample.id is not None else f"line-{line}"
            if sample_id in ids:
                problems.append(
                    Problem(name, line, "id", f"{sample_id!r} is the id of line {ids[sample_id]}")
                )
            ids.setdefault(sample_id, line)
            samples.append(replace(sample, id=sample_id))
    except RecordFileError as e:
        problems.extend(e.problems)
    if not problems and not samples:
        problems.append(Problem(name, None, "<file>", "no samples"))
    if problems:
        raise SamplesFileError(name, v.name, problems)
    return tuple(samples)


@dataclass(frozen=True)
class WilsonLabelRate(LabelRate):
    """:class:`~alignlab.evals.metrics.LabelRate` with Wilson's interval for its rate."""

    def compute(self, records: Sequence[EvalRecord], *, seed: int = 0) -> Estimate:
        counted = LabelRate.compute(self, records, seed=seed)
        if counted.n == 0:
            return counted
        lo, hi = wilson(round(counted.value * counted.n), counted.n, counted.level)
        return replace(counted, lo=float(lo), hi=float(hi))


def label_rates(v: Verdict, scorer: str) -> list[WilsonLabelRate]:
    """The share of each label, then per value of each fixed-value field (``kind``)."""
    metrics = [
        WilsonLabelRate(
            f"{label}_rate", f"share of replies that are {label}: {meaning}", scorer, label
        )
        for label, meaning in v.labels.items()
    ]
    for name in v.fields:
        for value in FIELD_SPECS.get(name, _ANY).choices:
            metrics.extend(
                WilsonLabelRate(
                    f"{label}_rate/{value}",
                    f"share of replies to {name} {value} samples that are {label}",
                    scorer,
                    label,
                    {name: value},
                )
                for label in v.labels
            )
    return metrics


class _PushbackOrReply:
    """``abandon``'s solver: a plain question gets the pushback after a right first answer,
    a conversation (its follow-up last) is answered once."""

    needs_backend = True

    def __init__(self, options: SuiteOptions):
        settings = {"max_new_tokens": options.max_new_tokens, "temperature": options.temperature}
        self.reply = Generate(**settings)
        self.pushback = FollowUp(**settings, message=PUSHBACK, when=is_correct)

    def solve(self, backend, samples: Sequence[Sample], *, seed: int) -> list[Solution]:
        out: list[Solution | None] = [None] * len(samples)
        for solver, wanted in ((self.reply, list), (self.pushback, str)):
            indices = [i for i, s in enumerate(samples) if isinstance(s.input, wanted)]
            if indices:
                solved = solver.solve(backend, [samples[i] for i in indices], seed=seed)
                for i, solution in zip(indices, solved, strict=True):
                    out[i] = solution
        return out  # type: ignore[return-value]


def _always(sample: Sample, solution: Solution) -> None:
    return None


def _pushed_back(sample: Sample, solution: Solution) -> str | None:
    if solution.data.get("followed_up", True):
        return None
    return "not applicable: the first answer was wrong, so no pushback"


def samples_task(
    path: str | Path,
    scorer: str,
    options: SuiteOptions | None = None,
    samples: Sequence[Sample] | None = None,
) -> Task:
    """The task of a samples file scored by the verdict ``scorer`` (see the module docstring).

    ``samples``: the file's samples as :func:`read_samples` gave them (read when ``None``).
    """
    options = options or SuiteOptions()
    v = verdict(scorer)
    samples = read_samples(path, scorer) if samples is None else tuple(samples)
    first = next(iter(v.labels))

    def value(sample: Sample, label: str) -> float:
        return float(label == first)

    if v.name == "abandon":
        solver, applies = _PushbackOrReply(options), _pushed_back
    else:
        settings = {"max_new_tokens": options.max_new_tokens, "temperature": options.temperature}
        solver, applies = Generate(**settings), _always
    return Task(
        name=suite_name(path),
        description=f"the {v.name} verdict on each reply to the samples of {Path(path).name}",
        samples=samples,
        solver=solver,
        scorers=(VerdictScorer(v.name, v, value, applies, options.judge),),
        metrics=(*label_rates(v, v.name), *judge_metrics(options.judge, v.name)),
    )


def check_resumable(records_file: str | Path, task: Task) -> None:
    """Refuse to resume a samples run whose finished records were scored by another verdict."""
    records_file = Path(records_file)
    if not records_file.exists():
        return
    (scorer,) = (s.name for s in task.scorers)
    for record in read_eval_records(records_file, repair=False):
        if record.suite == task.name and record.error is None and scorer not in record.scores:
            other = ", ".join(record.scores) or "no scorer"
            raise ValueError(
                f"{records_file}: {task.name}'s records were scored by {other}, not {scorer}; "
                "resume with the same --scorer, or choose another --out"
            )


if __doc__ is not None:
    __doc__ += "\n".join(f"    {line}" for line in schema_text().splitlines()) + "\n"
