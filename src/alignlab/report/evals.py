"""The ``evaluations`` section of results.json, from ``alignlab eval run`` directories.

Each run directory holds ``run.json`` (the backend and suites) and ``summary.json`` (per
suite, every metric's estimate); a run becomes ``{"run", "model", "suites": {suite:
{metric: estimate}}}``, so a user's own model gets the same report as the demo's ladder.
"""

from __future__ import annotations

import json
from pathlib import Path

from alignlab.report.results import ResultsError


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(
            f"{path}: not found; is {path.parent} an `alignlab eval run` output?"
        ) from None
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}:{e.lineno}: bad JSON: {e.msg}") from None


def evaluation_section(run_dirs: list[str | Path]) -> list[dict]:
    """One ``evaluations`` entry per run directory, in the order given."""
    section = []
    for run_dir in map(Path, run_dirs):
        summary = _read(run_dir / "summary.json")
        run = _read(run_dir / "run.json") if (run_dir / "run.json").exists() else {}
        suites = summary.get("suites")
        if not isinstance(suites, dict):
            raise ResultsError(f"{run_dir / 'summary.json'}: suites: expected an object")
        section.append(
            {
                "run": str(run_dir),
                "model": str(run.get("backend", "")),
                "suites": {
                    name: {
                        metric: {k: v for k, v in estimate.items() if k != "description"}
                        for metric, estimate in (suite.get("metrics") or {}).items()
                    }
                    for name, suite in suites.items()
                },
            }
        )
    return section
