"""Validation of record files: every bad record, with file, line and field.

The validator never stops at the first problem. It streams the file once,
parses each record with the same code the trainers use (so "valid" means
"loadable"), and reports each problem as ``file:line: field: problem`` (or
``file: field: problem`` when the file cannot be read at all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from alignlab.data.io import Problem, RecordFileError, iter_raw, parse, sniff_kind
from alignlab.data.records import Kind, RecordError


@dataclass
class ValidationReport:
    """What :func:`validate` found. ``problems`` keeps at most ``max_kept`` entries;
    ``n_problems`` counts them all."""

    path: str
    kind: Kind | None
    n_records: int = 0
    n_bad: int = 0
    n_problems: int = 0
    problems: list[Problem] = field(default_factory=list)
    readable: bool = True
    """False when reading stopped at a part of the file that cannot be read at all."""

    @property
    def ok(self) -> bool:
        return self.readable and self.n_records > 0 and self.n_bad == 0


def validate(
    path: str | Path,
    kind: Kind | None = None,
    *,
    on_problem: Callable[[Problem], None] | None = None,
    max_kept: int | None = 1000,
) -> ValidationReport:
    """Check every record of ``path`` as ``kind`` (sniffed from the file when ``None``).

    ``on_problem`` is called with each problem as it is found, so a caller can
    print a report of any length without holding it in memory.
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    report = ValidationReport(name, kind)

    def found(problem: Problem) -> None:
        report.n_problems += 1
        if max_kept is None or len(report.problems) < max_kept:
            report.problems.append(problem)
        if on_problem:
            on_problem(problem)

    try:
        report.kind = kind = kind or sniff_kind(path)
        if kind is None and next(iter_raw(path), None) is None:
            return report  # no records at all: the caller says so
        if kind is None:
            found(
                Problem(
                    name,
                    1,
                    "<record>",
                    "cannot tell the record kind from the first records: expected "
                    "prompt/chosen/rejected, prompt/response, messages, or input fields",
                )
            )
            return report
        for line, obj in iter_raw(path):
            report.n_records += 1
            try:
                parse(obj, kind)
            except RecordError as e:
                report.n_bad += 1
                for p in e.problems:
                    found(Problem(name, line, p.field, p.message))
    except RecordFileError as e:
        # The file cannot be read on (not gzip, truncated, UTF-16, not Parquet).
        report.readable = False
        for problem in e.problems:
            found(problem)
    return report
