"""Panels: one experiment's table and curves, the shape the labs' experiments report in.

Each section of :data:`PANEL_SECTIONS` in results.json (``oversight``: the scalable-oversight
protocols; ``interp``: the looks inside the model; ``boat``: the boat race; ``redteam``: the
automated red team) maps an experiment's name (``debate``,
``probe``, ...) to a *panel*::

    {"title": str, "finding": str, "setting": {name: value}, "wall_s": float,
     "table": {"columns": [str], "rows": [{column: estimate | number | str | null}]},
     "curves": [{"title": str, "x": str, "y": str, "x_log": bool,
                 "series": [{"name": str, "points": [{"x": number, "y": estimate}]}]}],
     "images": [{"title": str, "png_base64": str}]}

``images`` (optional) are pictures the experiment drew itself (the boat's track with its
visit counts), shown after the plots, each with its title as the caption.

``finding`` is what the run measured, in a sentence its code composes from the numbers
(never a fixed claim); ``setting`` holds n, seeds and the models, shown as they are. An
estimate is results.json's ``{"value", "n", "lo", "hi"}``. A panel renders as a heading, its
finding, its setting, the table and one figure with a plot per curve (error bars are the
95% intervals), so a new protocol reports by writing data, not report code.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from alignlab.report import plots
from alignlab.report.cells import cell

PANEL_FIELDS = ("title", "finding", "setting", "wall_s", "table", "curves", "images")

PANEL_SECTIONS = {
    "oversight": "Scalable oversight",
    "interp": "Inside the model",
    "boat": "The boat race",
    "redteam": "Red teaming",
}
"""The results.json sections made of panels, each with its heading in the report."""


class PanelError(ValueError):
    """A panel that does not follow the schema; the message names the field."""


def _need(condition: bool, field: str, problem: str) -> None:
    if not condition:
        raise PanelError(f"{field}: {problem}")


def _is_estimate(value: Any) -> bool:
    return isinstance(value, dict) and (
        value.get("value") is None or isinstance(value.get("value"), int | float)
    )


def check_panel(panel: Any, field: str) -> None:
    """Raise :class:`PanelError` naming the first field of ``panel`` that breaks the schema."""
    _need(isinstance(panel, dict), field, "expected an object")
    _need(isinstance(panel.get("title"), str), f"{field}.title", "expected a string")
    _need(isinstance(panel.get("finding", ""), str), f"{field}.finding", "expected a string")
    _need(isinstance(panel.get("setting", {}), dict), f"{field}.setting", "expected an object")
    table = panel.get("table")
    if table is not None:
        _need(isinstance(table, dict), f"{field}.table", "expected an object")
        columns = table.get("columns")
        _need(
            isinstance(columns, list) and all(isinstance(c, str) for c in columns),
            f"{field}.table.columns",
            "expected a list of strings",
        )
        _need(isinstance(table.get("rows"), list), f"{field}.table.rows", "expected a list")
        for i, row in enumerate(table["rows"]):
            _need(isinstance(row, dict), f"{field}.table.rows[{i}]", "expected an object")
            for name, value in row.items():
                _need(
                    name in columns,
                    f"{field}.table.rows[{i}].{name}",
                    "not one of the table's columns",
                )
                _need(
                    value is None or isinstance(value, str | int | float) or _is_estimate(value),
                    f"{field}.table.rows[{i}].{name}",
                    "expected an estimate, a number or a string",
                )
    curves = panel.get("curves", [])
    _need(isinstance(curves, list), f"{field}.curves", "expected a list")
    for i, curve in enumerate(curves):
        where = f"{field}.curves[{i}]"
        _need(isinstance(curve, dict), where, "expected an object")
        _need(isinstance(curve.get("series"), list), f"{where}.series", "expected a list")
        for j, series in enumerate(curve["series"]):
            _need(
                isinstance(series, dict) and isinstance(series.get("points"), list),
                f"{where}.series[{j}].points",
                "expected a list",
            )
            for k, point in enumerate(series["points"]):
                at = f"{where}.series[{j}].points[{k}]"
                _need(isinstance(point, dict), at, "expected an object")
                _need(isinstance(point.get("x"), int | float), f"{at}.x", "expected a number")
                _need(_is_estimate(point.get("y")), f"{at}.y", "expected an estimate object")
    images = panel.get("images", [])
    _need(isinstance(images, list), f"{field}.images", "expected a list")
    for i, image in enumerate(images):
        where = f"{field}.images[{i}]"
        _need(isinstance(image, dict), where, "expected an object")
        _need(isinstance(image.get("title"), str), f"{where}.title", "expected a string")
        _need(
            isinstance(image.get("png_base64"), str) and _is_base64(image["png_base64"]),
            f"{where}.png_base64",
            "expected a PNG as base64 text",
        )


def _is_base64(text: str) -> bool:
    try:
        return base64.b64decode(text, validate=True).startswith(b"\x89PNG")
    except ValueError:
        return False


def _table(table: dict) -> str:
    columns = table["columns"]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if not isinstance(row.get(c), str) else ""}">'
            f"{cell(row.get(c))}</td>"
            for c in columns
        )
        + "</tr>"
        for row in table["rows"]
    )
    return f'<div class="wide"><table><tr>{head}</tr>{body}</table></div>'


def _setting(setting: dict, wall_s: float | None) -> str:
    parts = [f"{k}: {v}" for k, v in setting.items()]
    if wall_s is not None:
        parts.append(f"wall time: {wall_s:.0f} s")
    return f'<p class="meta">{escape(" · ".join(parts))}</p>' if parts else ""


def panel_html(panel: dict, anchor: str) -> str:
    """One panel as HTML: heading (with ``anchor`` as its id), finding, setting, table, plots."""
    parts = [f'<h3 id="{escape(anchor)}">{escape(panel["title"])}</h3>']
    if panel.get("finding"):
        parts.append(f"<p>{escape(panel['finding'])}</p>")
    parts.append(_setting(panel.get("setting") or {}, panel.get("wall_s")))
    if panel.get("table"):
        parts.append(_table(panel["table"]))
    image = plots.panel_plot(panel.get("curves") or [])
    if image is not None:
        parts.append(f'<img alt="{escape(panel["title"])}" src="data:image/png;base64,{image}">')
    for picture in panel.get("images") or []:
        title = escape(picture["title"])
        parts.append(
            f'<figure><img alt="{title}" src="data:image/png;base64,{picture["png_base64"]}">'
            f"<figcaption>{title}</figcaption></figure>"
        )
    return "".join(parts)


def panels_html(section: dict, heading: str, prefix: str) -> str:
    """A section of panels (name -> panel) under ``heading``; anchors are ``prefix-name``."""
    return f"<h2>{escape(heading)}</h2>" + "".join(
        panel_html(panel, f"{prefix}-{name}") for name, panel in section.items()
    )
