"""How a report's table cell shows a value: an estimate as its value over its 95% interval
(its n on hover), a number to three decimals, anything else as escaped text."""

from __future__ import annotations

from html import escape


def estimate_cell(e, percent: bool = False) -> str:
    """An estimate ``{"value", "n", "lo", "hi"}`` (or ``None``) as a table cell."""
    if not e or e.get("value") is None:
        return "–"
    scale, fmt = (100, "{:.1f}%") if percent else (1, "{:.3f}")
    text = fmt.format(scale * e["value"])
    if e.get("lo") is not None and e.get("hi") is not None and e["lo"] != e["hi"]:
        lo, hi = (fmt.format(scale * e["lo"]), fmt.format(scale * e["hi"]))
        n = escape(str(e.get("n", "?")))
        text += f'<br><span class="ci" title="n={n}">[{lo}, {hi}]</span>'
    return text


def cell(value) -> str:
    """Any table value: an estimate, a number, text; ``None`` is a dash."""
    if value is None or isinstance(value, dict):
        return estimate_cell(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return escape(str(value))
