"""The basic-values profile of the ``values`` suite's runs, in the report.

An ``evaluations`` entry (:mod:`alignlab.report.evals`) whose ``suites`` hold ``values``
carries everything the profile needs as estimates (:mod:`alignlab.evals.suites.values`):
``profile/<value>`` for each of the ten values, ``paraphrase_stability``,
``order_stability``, ``circumplex_neighbours``, ``circumplex_opposites``, ``order_gap``, ``mean_rating``,
``scored_by_logprobs``, ``option_coverage`` and ``vote_failure_rate``. This module renders
them as one section: per run, how the items were rated, the verdict
(:func:`~alignlab.stats.values.verdict`), the profile with its intervals and the stability
and circumplex figures; then one circle plot of every run's profile. Run and model names
are escaped.
"""

from __future__ import annotations

from html import escape

from alignlab.report import plots
from alignlab.report.cells import estimate_cell
from alignlab.stats.values import HELD_THRESHOLD, VALUES, verdict

SUITE = "values"
"""The suite whose runs this section shows."""

FIGURES = (
    ("paraphrase_stability", "paraphrase stability (Spearman ρ)", f"held: ≥ {HELD_THRESHOLD}"),
    ("order_stability", "option-order stability (Spearman ρ)", f"held: ≥ {HELD_THRESHOLD}"),
    ("circumplex_neighbours", "neighbours on the circle (correlation)", "theory: > 0"),
    ("circumplex_opposites", "opposites on the circle (correlation)", "theory: < 0"),
    ("order_gap", "rating gap, reversed minus first option order", "reads the answers: 0"),
    ("mean_rating", "mean rating, 1 to 6 (MRAT)", ""),
    ("option_coverage", "share of the answer naming an option", ""),
)
"""The figures shown beside the profile: key, label, what to read it against."""


def _value(metrics: dict, key: str) -> float | None:
    e = metrics.get(key)
    return e.get("value") if isinstance(e, dict) else None


def run_verdict(metrics: dict) -> str:
    """The verdict on one run's values metrics."""
    return verdict(_value(metrics, "paraphrase_stability"), _value(metrics, "order_stability"))


def _method(metrics: dict) -> str:
    share = _value(metrics, "scored_by_logprobs")
    if share == 1:
        return "rated by option log-probabilities (the expected rating over the six answers)"
    if share == 0:
        failed = _value(metrics, "vote_failure_rate")
        failures = "" if failed is None else f"; {100 * failed:.1f}% of votes named no answer"
        return f"rated by sampled votes (mean rating of the votes read{failures})"
    return "rated partly by log-probabilities, partly by votes"


def _run(run: dict, metrics: dict) -> str:
    n = (metrics.get("mean_rating") or {}).get("n", "?")
    items = max((metrics.get(f"profile/{v}") or {}).get("n", 0) for v in VALUES)
    profile = "".join(
        f'<tr><th>{escape(v)}</th><td class="num">'
        f"{estimate_cell(metrics.get(f'profile/{v}'))}</td></tr>"
        for v in VALUES
    )
    figures = "".join(
        f'<tr><th>{escape(label)}</th><td class="num">{estimate_cell(metrics.get(key))}</td>'
        f"<td>{escape(against)}</td></tr>"
        for key, label, against in FIGURES
    )
    return (
        f"<h3>{escape(str(run.get('run', '')))}</h3>"
        f'<p class="meta">model: {escape(str(run.get("model", "")))} · {escape(_method(metrics))}'
        f" · {escape(str(n))} ratings, {items} items per value</p>"
        f"<p><b>Verdict: {escape(run_verdict(metrics))}</b> (held when both stabilities "
        f"reach {HELD_THRESHOLD})</p>"
        '<div class="wide"><table><tr><th>value</th><th>centred score</th></tr>'
        f"{profile}</table>"
        "<table><tr><th>figure</th><th>value</th><th>read against</th></tr>"
        f"{figures}</table></div>"
    )


def values_html(runs: list[dict]) -> str:
    """The section for every evaluations run with the values suite; empty when none has."""
    shown = [(r, r["suites"][SUITE]) for r in runs if SUITE in (r.get("suites") or {})]
    if not shown:
        return ""
    image = plots.values_plot(
        [
            (str(r.get("model") or r.get("run", "")), {v: m.get(f"profile/{v}") for v in VALUES})
            for r, m in shown
        ],
        VALUES,
    )
    figure = (
        ""
        if image is None
        else f'<img alt="values on the circle" src="data:image/png;base64,{image}">'
    )
    return (
        "<h2>Basic values (Schwartz)</h2><p>Portrait items of the ten values, each rated from "
        "1 (not like me at all) to 6 (very much like me) and centred on the model's mean "
        "rating; a value's interval resamples its items. A profile that changes when the "
        "items are reworded or the options reversed is one the model simulates, not one it "
        "holds.</p>" + "".join(_run(r, m) for r, m in shown) + figure
    )
