"""The alignment report: ``results.json`` (:mod:`.results`, its schema) rendered as one
self-contained ``report.html`` (:mod:`.html`) with plots (:mod:`.plots`) and a
plain-language reading (:mod:`.reading`).

``alignlab demo`` writes both; ``alignlab report DIR`` re-renders the page from
``DIR/results.json``, which may hold any subset of the sections, so the same report serves
a user's own runs and evaluations.
"""

from __future__ import annotations

from pathlib import Path

from alignlab.report.results import (
    RESULTS_FILE,
    SCHEMA,
    ResultsError,
    check_results,
    read_results,
    write_results,
)

REPORT_FILE = "report.html"


def render_report(directory: str | Path, out: str | Path | None = None) -> Path:
    """Render ``directory/results.json`` to ``out`` (default ``directory/report.html``)."""
    from alignlab.report.html import render_html

    directory = Path(directory)
    results = read_results(directory)
    path = Path(out) if out is not None else directory / REPORT_FILE
    path.write_text(render_html(results), encoding="utf-8")
    return path


def write_report(directory: str | Path, results: dict) -> Path:
    """Write ``results.json`` and ``report.html`` in ``directory``; returns the page's path."""
    write_results(directory, results)
    return render_report(directory)


__all__ = [
    "REPORT_FILE",
    "RESULTS_FILE",
    "SCHEMA",
    "ResultsError",
    "check_results",
    "read_results",
    "render_report",
    "write_report",
    "write_results",
]
