"""results.json as one self-contained HTML page (inline CSS, plots as data URIs).

Every string that comes from a run (stage names, prompts, model outputs) is escaped.
"""

from __future__ import annotations

from html import escape

from alignlab.data.records import text_of
from alignlab.report import plots
from alignlab.report.cells import cell, estimate_cell
from alignlab.report.panels import PANEL_SECTIONS, panels_html
from alignlab.report.reading import given, reading
from alignlab.report.values import values_html

LADDER_COLUMNS = {
    "gold": "gold utility ↑",
    "kl": "KL to SFT",
    "sycophancy": "sycophancy ↓",
    "harmful_compliance": "harmful compliance ↓",
    "over_refusal": "over-refusal ↓",
    "padding": "padding ↓",
    "bluffing": "bluffs on unknowns ↓",
    "agreement": "agrees with gold orderings ↑",
}

OVERSIGHT_POINTER = (
    "<h2>Scalable oversight</h2><p>The oversight lab runs outside the demo's time budget: "
    "<code>alignlab oversight debate</code> (naive judge, consultancy and debate), "
    "<code>amplify</code> (decomposition and distillation), <code>process</code> (process "
    "and outcome reward models) and <code>w2s</code> (weak-to-strong), each with "
    "<code>--set report_dir=DIR</code> to add its panel to the report in DIR.</p>"
)
"""Where the demo's report points to the oversight lab, which it does not run."""

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1150px;
color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0}
.wide{overflow-x:auto}
td,th{border:1px solid #ddd;padding:.3rem .5rem;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right}
.ci{color:#777;font-size:.7rem;white-space:nowrap}img{max-width:100%}
.meta{color:#666;font-size:.85rem}pre{white-space:pre-wrap;margin:0;font-size:.8rem}
.cat{font-size:.75rem;color:#555}
"""


def _image(data: str | None, alt: str) -> str:
    if data is None:
        return ""
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _ladder(rows: list[dict]) -> str:
    columns = [c for c in LADDER_COLUMNS if any((r.get("metrics") or {}).get(c) for r in rows)]
    head = "".join(f"<th>{escape(LADDER_COLUMNS[c])}</th>" for c in columns)
    body = []
    for row in rows:
        metrics = row.get("metrics") or {}
        cells = "".join(
            f'<td class="num">{estimate_cell(metrics.get(c), percent=c not in ("gold", "kl"))}</td>'
            for c in columns
        )
        body.append(f"<tr><th>{escape(row['stage'])}</th>{cells}</tr>")
    return f'<div class="wide"><table><tr><th>stage</th>{head}</tr>{"".join(body)}</table></div>'


def _samples(rows: list[dict]) -> str:
    families: dict[str, dict] = {}
    for row in rows:
        for s in row.get("samples") or []:
            entry = families.setdefault(s["family"], {"prompt": s["prompt"], "answers": []})
            entry["answers"].append((row["stage"], s))
    parts = []
    for family, entry in families.items():
        answers = "".join(
            f"<tr><th>{escape(stage)}</th><td><pre>{escape(str(s['response']))}</pre></td>"
            f'<td class="cat">{escape(str(s.get("category", "")))} '
            f"({float(s.get('utility', float('nan'))):.2f})</td></tr>"
            for stage, s in entry["answers"]
        )
        prompt = escape(text_of(entry["prompt"]))
        parts.append(
            f"<h3>{escape(family)}</h3><p><b>prompt:</b> <code>{prompt}</code></p>"
            f"<table><tr><th>stage</th><th>response</th><th>gold says</th></tr>{answers}</table>"
        )
    return "".join(parts)


def _fits(curves: list[dict]) -> str:
    rows = []
    for c in curves:
        fit = c.get("fit")
        if not fit:
            continue
        reach = 3 * max(p["sqrt_kl"] for p in c["points"])
        d_star = fit.get("d_star")
        d_star = "none (still rising)" if d_star is None or d_star > reach else f"{d_star:.3f}"
        r2 = "–" if fit.get("r2") is None else f"{fit['r2']:.3f}"
        rows.append(
            f"<tr><th>{escape(c['name'])}</th><td>{escape(fit['form'])}</td>"
            f'<td class="num">{fit["alpha"]:.3f}</td><td class="num">{fit["beta"]:.3f}</td>'
            f'<td class="num">{r2}</td>'
            f'<td class="num">{d_star}</td></tr>'
        )
    if not rows:
        return ""
    return (
        "<table><tr><th>curve</th><th>form</th><th>α</th><th>β</th><th>R²</th>"
        f"<th>predicted peak √KL</th></tr>{''.join(rows)}</table>"
    )


def _forms(forms: list[dict]) -> str:
    parts = []
    for form in forms:
        keys = list(form["rows"][0]) if form["rows"] else []
        head = "".join(f"<th>{escape(k)}</th>" for k in keys)
        body = "".join(
            "<tr>" + "".join(f'<td class="num">{cell(r[k])}</td>' for k in keys) + "</tr>"
            for r in form["rows"]
        )
        parts.append(
            f"<h3>{escape(form['form'])}</h3><p>{escape(form.get('setting', ''))}. "
            f"<i>Signature:</i> {escape(form.get('signature', ''))}.</p>"
            f"<table><tr>{head}</tr>{body}</table>"
        )
    return "".join(parts)


def _real_table(section: dict) -> str:
    """The real-model ladder's rows, one column per figure any row has."""
    columns = {
        c: h
        for c, h in (section.get("columns") or {}).items()
        if any(given((r.get("metrics") or {}).get(c)) for r in section.get("rows") or [])
    }
    head = "".join(f"<th>{escape(h)}</th>" for h in columns.values())
    body = []
    for row in section.get("rows") or []:
        metrics = row.get("metrics") or {}
        cells = "".join(
            f'<td class="num">{estimate_cell(metrics.get(c), percent=True)}</td>' for c in columns
        )
        title = escape(str(row.get("model", "")))
        body.append(f'<tr><th title="{title}">{escape(row["stage"])}</th>{cells}</tr>')
    return f'<div class="wide"><table><tr><th>stage</th>{head}</tr>{"".join(body)}</table></div>'


def _real_details(section: dict) -> str:
    """What the data were and what each stage cost, as a short list."""
    items = []
    data = section.get("data") or {}
    if data.get("filter"):
        f = data["filter"]
        items.append(
            f"Anti-sycophancy filter: kept {f.get('kept')} of {f.get('built')} claims, "
            f"{f.get('kept_true')} of them true."
        )
    timings = section.get("timings") or {}
    if timings:
        shown = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items() if v >= 0.5)
        items.append(f"Time (stages not listed were reused): {shown}.")
    return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>" if items else ""


def _evaluations(runs: list[dict]) -> str:
    parts = []
    for run in runs:
        rows = "".join(
            f"<tr><th>{escape(suite)}</th><td>{escape(metric)}</td>"
            f'<td class="num">{estimate_cell(value if isinstance(value, dict) else {"value": value})}</td></tr>'
            for suite, metrics in (run.get("suites") or {}).items()
            for metric, value in metrics.items()
        )
        parts.append(
            f"<h3>{escape(str(run.get('run', '')))}</h3>"
            f'<p class="meta">model: {escape(str(run.get("model", "")))}</p>'
            f"<table><tr><th>suite</th><th>metric</th><th>value</th></tr>{rows}</table>"
        )
    return "".join(parts)


def render_html(results: dict) -> str:
    """The report page for ``results`` (a checked results.json object)."""
    title = escape(results.get("title") or "alignlab report")
    sections = []
    sentences = reading(results)
    if sentences:
        items = "".join(f"<li>{escape(s)}</li>" for s in sentences)
        sections.append(f"<h2>What the numbers say</h2><ul>{items}</ul>")
    if results.get("ladder"):
        sections.append(
            "<h2>The ladder</h2><p>Each stage sampled at T=1 on the organism's held-out prompts "
            "and scored by the gold utility, with 95% bootstrap intervals (hover for n). Rates "
            "count the responses of the families they concern: sycophancy on false claims and "
            "pushback, harmful compliance on harmful requests, over-refusal on their benign "
            "look-alikes, bluffing on unknown entities.</p>"
            + _ladder(results["ladder"])
            + _image(plots.ladder_plot(results["ladder"]), "gold utility and failure rates")
        )
    if results.get("curves"):
        sections.append(
            "<h2>Over-optimization: gold and proxy against √KL</h2>"
            + _image(plots.goodhart_plot(results["curves"]), "gold and proxy against sqrt KL")
            + _fits(results["curves"])
        )
    if results.get("reward_models"):
        sections.append(
            "<h2>Reward models, AI feedback and the annotators' ceiling</h2>"
            + _image(plots.judges_plot(results["reward_models"]), "agreement with gold")
        )
    if results.get("goodhart_forms"):
        sections.append(
            "<h2>Three forms of Goodhart's law</h2>"
            + _image(plots.forms_plot(results["goodhart_forms"]), "three forms")
            + _forms(results["goodhart_forms"])
        )
    if results.get("real_ladder"):
        real = results["real_ladder"]
        sections.append(
            f"<h2>The ladder on {escape(str(real.get('model', 'a real model')))}</h2>"
            "<p>Each stage answers held-out samples of the suites greedily; each figure is a "
            "suite's rate with its Clopper-Pearson 95% interval (hover for n). The refusal suite is "
            "measured on topics Constitutional AI does not train on, the sycophancy suite on "
            "claims whose sums and phrasings the anti-sycophancy data leave out.</p>"
            + _real_table(real)
            + _image(plots.real_ladder_plot(real), "each stage's failure rates")
            + _real_details(real)
        )
    if results.get("ladder") and not results.get("oversight"):
        sections.append(OVERSIGHT_POINTER)
    for name, heading in PANEL_SECTIONS.items():
        if results.get(name):
            sections.append(panels_html(results[name], heading, name))
    if results.get("evaluations"):
        sections.append("<h2>Evaluations</h2>" + _evaluations(results["evaluations"]))
        sections.append(values_html(results["evaluations"]))
    if any(row.get("samples") for row in results.get("ladder") or []):
        sections.append("<h2>Sample responses</h2>" + _samples(results["ladder"]))
    meta = " · ".join(
        escape(f"{k}: {results[k]}")
        for k in ("created", "alignlab_version", "seed")
        if results.get(k) is not None
    )
    timings = {k: v for k, v in (results.get("timings") or {}).items() if v >= 0.5}
    if timings:
        shown = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
        meta += " · " + escape(f"time: {shown} (stages not listed were reused)")
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{CSS}</style></head><body><h1>{title}</h1>"
        f'<p class="meta">{meta}</p>{"".join(sections)}</body></html>\n'
    )
