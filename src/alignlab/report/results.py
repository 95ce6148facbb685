"""``results.json``: everything the alignment report shows, as data.

The file is one JSON object; ``schema`` is :data:`SCHEMA`, and every other top-level key
is optional, so a report renders for whatever a run measured. An *estimate* is
``{"value": float, "n": int, "lo": float, "hi": float}`` (a 95% bootstrap interval;
``lo``/``hi`` may be absent for a plain value).

``title`` (str), ``created`` (ISO time), ``alignlab_version``, ``seed``, ``config`` (the
settings that produced the run), ``organism`` (``{"path", "build_key"}``), ``timings``
(``{stage: seconds}``), and the sections:

``ladder``: a list of rows, one per stage or model::

    {"stage": "SFT", "model": "runs/sft/model",
     "metrics": {"gold": est, "kl": est, "sycophancy": est, "harmful_compliance": est,
                 "over_refusal": est, "padding": est, "bluffing": est, "agreement": est},
     "samples": [{"family", "prompt", "response", "category", "utility"}, ...]}

  Any metric may be missing or null. ``gold`` is the mean gold utility (or a held-out
  judge's score), ``kl`` is ``KL(pi || reference)``, the rates are shares of responses,
  and ``agreement`` is the share of held-out pairs the stage orders as gold does.

``curves``: optimization-pressure curves::

    {"name": "best-of-n (proxy)", "optimizer": "best_of_n" | "ppo" | "dpo",
     "points": [{"pressure", "kl", "sqrt_kl", "proxy": est | null, "gold": est}],
     "fit": {"form": "best_of_n" | "rl", "alpha", "beta", "r2", "n", "d_star",
             "kl_star", "offset"} | null}

  ``fit`` models ``gold - offset`` against ``sqrt_kl`` (Gao et al. 2022).

``reward_models``: ``{"judges": [{"name", "gold_agreement": est,
"annotator_accuracy": est | null}], "annotator_ceiling": float, "annotator_pairs": int}``.

``goodhart_forms``: ``[{"form", "setting", "signature", "rows": [{...: est or number}]}]``.

``evaluations``: ``[{"run", "model", "suites": {suite: {metric: est}}}]``, evaluation-harness
summaries (``alignlab eval run``) shown as they are.

``real_ladder``: the ladder on a real model (``alignlab demo --model``), its schema in
:mod:`alignlab.report.real` (checked by :func:`check_real`).

``oversight``: ``{protocol: panel}``, the scalable-oversight lab's results (``alignlab
oversight debate|amplify|process|w2s``), ``interp``: ``{experiment: panel}``, the looks
inside the model (``alignlab interp ...``), and ``boat``: the boat race's specification
gaming and its fixes (``alignlab boat train``): each a panel of :mod:`alignlab.report.panels`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from alignlab.report.panels import PANEL_SECTIONS, PanelError, check_panel

SCHEMA = "alignlab.report/1"
RESULTS_FILE = "results.json"
SECTIONS = (
    "ladder",
    "curves",
    "reward_models",
    "goodhart_forms",
    "evaluations",
    "real_ladder",
    *PANEL_SECTIONS,
)


class ResultsError(ValueError):
    """A results.json that does not follow the schema; the message names file and field."""


def _clean(value: Any) -> Any:
    """NaN and infinities become null, so the file is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_results(directory: str | Path, results: dict) -> Path:
    """Write ``directory/results.json`` (atomically) after checking it; returns its path."""
    results = _clean({"schema": SCHEMA, **results})
    check_results(results, "results")
    path = Path(directory) / RESULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(path)
    return path


def read_results(path: str | Path) -> dict:
    """Read and check a results.json (or the one in a directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.exists():
        raise ResultsError(f"{path}: not found (alignlab demo writes it; see alignlab.report)")
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}:{e.lineno}: bad JSON: {e.msg}") from None
    check_results(results, str(path))
    return results


def _need(condition: bool, where: str, field: str, problem: str) -> None:
    if not condition:
        raise ResultsError(f"{where}: {field}: {problem}")


def _estimate(value: Any, where: str, field: str) -> None:
    if value is None:
        return
    _need(isinstance(value, dict), where, field, "expected an estimate object")
    v = value.get("value")
    _need(v is None or isinstance(v, int | float), where, field + ".value", "expected a number")


def check_results(results: Any, where: str) -> None:
    """Raise :class:`ResultsError` naming the first field that breaks the schema."""
    _need(isinstance(results, dict), where, "(top level)", "expected an object")
    _need(results.get("schema") == SCHEMA, where, "schema", f"expected {SCHEMA!r}")
    for section, kind in (("ladder", list), ("curves", list), ("goodhart_forms", list)):
        value = results.get(section)
        _need(value is None or isinstance(value, kind), where, section, "expected a list")
    for i, row in enumerate(results.get("ladder") or []):
        field = f"ladder[{i}]"
        _need(
            isinstance(row, dict) and isinstance(row.get("stage"), str),
            where,
            field + ".stage",
            "expected a string",
        )
        metrics = row.get("metrics") or {}
        _need(isinstance(metrics, dict), where, field + ".metrics", "expected an object")
        for name, value in metrics.items():
            _estimate(value, where, f"{field}.metrics.{name}")
    for i, curve in enumerate(results.get("curves") or []):
        field = f"curves[{i}]"
        _need(
            isinstance(curve, dict) and isinstance(curve.get("points"), list),
            where,
            field + ".points",
            "expected a list",
        )
        for j, point in enumerate(curve["points"]):
            _need(
                isinstance(point.get("sqrt_kl"), int | float),
                where,
                f"{field}.points[{j}].sqrt_kl",
                "expected a number",
            )
            _estimate(point.get("gold"), where, f"{field}.points[{j}].gold")
    if results.get("real_ladder") is not None:
        check_real(results["real_ladder"], where)
    for section in PANEL_SECTIONS:
        panels = results.get(section)
        if panels is None:
            continue
        _need(isinstance(panels, dict), where, section, "expected an object")
        for name, panel in panels.items():
            try:
                check_panel(panel, f"{section}.{name}")
            except PanelError as e:
                raise ResultsError(f"{where}: {e}") from None
    models = results.get("reward_models")
    if models is not None:
        _need(
            isinstance(models.get("judges"), list), where, "reward_models.judges", "expected a list"
        )


def check_real(section, where: str) -> None:
    """Raise :class:`ResultsError` naming the first field of ``section`` that is wrong."""
    field = "real_ladder"
    if not isinstance(section, dict):
        raise ResultsError(f"{where}: {field}: expected an object")
    rows = section.get("rows")
    if not isinstance(rows, list):
        raise ResultsError(f"{where}: {field}.rows: expected a list")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("stage"), str):
            raise ResultsError(f"{where}: {field}.rows[{i}].stage: expected a string")
        for name, value in (row.get("metrics") or {}).items():
            if value is not None and not isinstance(value, dict):
                raise ResultsError(
                    f"{where}: {field}.rows[{i}].metrics.{name}: expected an estimate object"
                )
