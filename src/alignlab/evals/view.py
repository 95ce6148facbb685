"""A run as one self-contained HTML page: the summary's metrics, then every record.

Everything that came from a model or a dataset (inputs, outputs, explanations,
errors, metadata) passes through :func:`html.escape`, so a response holding
``<script>`` shows as text and runs nothing. The page has no external
resources. :func:`render_html` takes records and a summary, so reports can
embed the same view.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignlab.evals.records import EvalRecord, read_eval_records
from alignlab.evals.runner import RECORDS_FILE, SUMMARY_FILE

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0.2rem 0; background: #f8f8f8;
      padding: 0.4rem; }
details { border-bottom: 1px solid #eee; padding: 0.3rem 0; }
summary { cursor: pointer; }
.role { font-weight: bold; font-size: 0.85em; color: #555; }
.error { color: #b00020; }
.label { font-family: monospace; background: #eef; padding: 0 0.3em; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else _e(value)


def _metrics_table(suite: dict[str, Any]) -> str:
    rows = []
    for name, m in suite["metrics"].items():
        interval = "n/a" if m["lo"] is None else f"[{m['lo']:.3f}, {m['hi']:.3f}]"
        rows.append(
            f"<tr><td>{_e(name)}</td><td class='num'>{_number(m['value'])}</td>"
            f"<td class='num'>{_e(interval)}</td><td class='num'>{_e(m['n'])}</td>"
            f"<td>{_e(m['description'])}</td></tr>"
        )
    head = "<tr><th>metric</th><th>value</th><th>95% interval</th><th>n</th><th>meaning</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _record(record: EvalRecord) -> str:
    labels = " ".join(
        f"<span class='label'>{_e(name)}={_e(s.label if s.label else _number(s.value))}</span>"
        for name, s in record.scores.items()
        if s.value is not None or s.label
    )
    status = " <span class='error'>error</span>" if record.error else ""
    turns = record.transcript or [{"role": "user", "content": json.dumps(record.input)}]
    body = [
        f"<div class='role'>{_e(m.get('role', '?'))}</div><pre>{_e(m.get('content', ''))}</pre>"
        for m in turns
    ]
    if record.error:
        body.append(f"<p class='error'>{_e(record.error)}</p>")
    if record.scores:
        rows = "".join(
            f"<tr><td>{_e(name)}</td><td class='num'>{_number(s.value)}</td>"
            f"<td>{_e(s.label or '')}</td><td>{_e(s.explanation)}</td>"
            f"<td class='error'>{_e(s.error or '')}</td></tr>"
            for name, s in record.scores.items()
        )
        head = "<tr><th>scorer</th><th>value</th><th>label</th><th>why</th><th>error</th></tr>"
        body.append(f"<table>{head}{rows}</table>")
    if record.target is not None:
        body.append(f"<p>target: <code>{_e(json.dumps(record.target))}</code></p>")
    extra = {"meta": record.meta, "data": record.data, "backend": record.backend}
    body.append(f"<pre>{_e(json.dumps(extra, indent=1, ensure_ascii=False))}</pre>")
    return f"<details><summary>{_e(record.id)} {labels}{status}</summary>{''.join(body)}</details>"


def render_html(
    records: Sequence[EvalRecord],
    summary: dict[str, Any],
    *,
    title: str = "alignlab evaluation",
    max_records: int | None = None,
) -> str:
    """The page: per suite, the metrics table, then its records (at most ``max_records``)."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p>model: <code>{_e(summary.get('backend'))}</code>, seed {_e(summary.get('seed'))}, "
        f"limit {_e(summary.get('limit'))}</p>",
    ]
    suites = summary.get("suites", {})
    for name in [*suites, *sorted({r.suite for r in records} - set(suites))]:
        own = sorted((r for r in records if r.suite == name), key=lambda r: r.index)
        parts.append(f"<h2>{_e(name)}</h2>")
        if name in suites:
            s = suites[name]
            parts.append(
                f"<p>{_e(s['description'])}: {_e(s['n_finished'])} of {_e(s['n_samples'])} "
                f"samples finished, {_e(s['n_errors'])} failed</p>"
            )
            parts.append(_metrics_table(s))
        shown = own if max_records is None else own[:max_records]
        parts.extend(_record(r) for r in shown)
        if len(shown) < len(own):
            parts.append(f"<p>... {len(own) - len(shown)} more records not shown</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_view(run_dir: str | Path, out: str | Path, *, max_records: int | None = None) -> Path:
    """Render the run in ``run_dir`` (its records and summary) to the HTML file ``out``."""
    run_dir, out = Path(run_dir), Path(out)
    summary_file = run_dir / SUMMARY_FILE
    if not summary_file.exists():
        raise FileNotFoundError(f"{summary_file}: not found; is {run_dir} a finished run?")
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    records = read_eval_records(run_dir / RECORDS_FILE, repair=False)
    page = render_html(
        records, summary, title=f"alignlab evaluation: {run_dir.name}", max_records=max_records
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
