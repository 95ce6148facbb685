"""The alignment report: ``results.json`` (:mod:`.results`, its schema) rendered as one
self-contained ``report.html`` (:mod:`.html`) with plots (:mod:`.plots`) and a
plain-language reading (:mod:`.reading`).

``alignlab demo`` writes both; ``alignlab report DIR`` re-renders the page from
``DIR/results.json``, which may hold any subset of the sections, so the same report serves
a user's own runs and evaluations.
"""

from __future__ import annotations

from pathlib import Path

from alignlab.report.panels import PANEL_SECTIONS
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


def write_report(directory: str | Path, results: dict, *, keep: tuple[str, ...] = ()) -> Path:
    """Write ``results.json`` and ``report.html`` in ``directory``; returns the page's path.

    The sections named in ``keep`` that ``results`` lacks are kept from the results.json
    already there (when it reads), so two runs can share one report.
    """
    existing = Path(directory) / RESULTS_FILE
    if keep and existing.exists():
        try:
            previous = read_results(existing)
        except ResultsError:
            previous = {}
        results = {**{k: previous[k] for k in keep if k in previous}, **results}
    write_results(directory, results)
    return render_report(directory)


def merge_section(directory: str | Path, name: str, section, *, title: str) -> Path:
    """Set section ``name`` of ``directory/results.json``, keeping every other one (a new
    file is titled ``title``), and render the report; returns the page's path."""
    return _update(directory, title, lambda results: {name: section})


def add_panel(directory: str | Path, section: str, name: str, panel: dict, *, title: str) -> Path:
    """Put ``panel`` under ``section.name`` of ``directory/results.json`` (a section of
    :data:`~alignlab.report.panels.PANEL_SECTIONS`), keeping every other panel and section
    (a new file is titled ``title``; a broken one is reported, not overwritten), and render
    the report; returns the page's path."""
    if section not in PANEL_SECTIONS:
        raise ValueError(
            f"section: {section!r} holds no panels; known: {', '.join(PANEL_SECTIONS)}"
        )
    return _update(
        directory, title, lambda results: {section: {**(results.get(section) or {}), name: panel}}
    )


def publish_panel(
    directories: tuple[str | Path | None, ...], section: str, name: str, panel: dict, *, title: str
) -> Path:
    """:func:`add_panel` into each of ``directories`` (an experiment's ``output_dir`` and its
    ``report_dir``; ``None`` is skipped); returns the last page written."""
    pages = [add_panel(d, section, name, panel, title=title) for d in directories if d is not None]
    if not pages:
        raise ValueError("directories: none to publish the panel in")
    return pages[-1]


def _update(directory: str | Path, title: str, change) -> Path:
    """Read ``directory/results.json`` (or start one titled ``title``), set the sections
    ``change(results)`` returns, write it and render the report."""
    existing = Path(directory) / RESULTS_FILE
    results = read_results(existing) if existing.exists() else {"title": title}
    results.pop("schema", None)
    results.update(change(results))
    return write_report(directory, results)


__all__ = [
    "REPORT_FILE",
    "RESULTS_FILE",
    "SCHEMA",
    "ResultsError",
    "add_panel",
    "check_results",
    "merge_section",
    "publish_panel",
    "read_results",
    "render_report",
    "write_report",
    "write_results",
]
