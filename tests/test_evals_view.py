import re

from typer.testing import CliRunner

from alignlab.cli.eval import app
from alignlab.evals import RunConfig, read_eval_records, render_html, run_eval
from test_evals_runner import ScriptedBackend, echo_task

ATTACK = "<script>alert('pwned')</script></pre><img src=x onerror=alert(1)>"


def test_model_text_renders_as_text(tmp_path):
    backend = ScriptedBackend(lambda messages: ATTACK)
    summary = run_eval([echo_task()], backend, tmp_path, RunConfig(limit=3, progress=False))
    page = render_html(read_eval_records(tmp_path / "records.jsonl"), summary)
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    # The page loads nothing from elsewhere.
    assert not re.search(r"<[^>]*\b(src|href)\s*=", page)


def test_the_page_shows_the_metrics_and_every_record(tmp_path):
    backend = ScriptedBackend(lambda messages: messages[-1]["content"])
    summary = run_eval([echo_task()], backend, tmp_path, RunConfig(limit=4, progress=False))
    page = render_html(read_eval_records(tmp_path / "records.jsonl"), summary)
    metric = summary["suites"]["echo"]["metrics"]["repeat_rate"]
    assert "repeat_rate" in page and f"{metric['value']:.3f}" in page
    assert page.count("<details>") == 4
    short = render_html(read_eval_records(tmp_path / "records.jsonl"), summary, max_records=1)
    assert short.count("<details>") == 1 and "3 more records not shown" in short


def test_eval_view_command_writes_the_page(tmp_path):
    run_eval(
        [echo_task()],
        ScriptedBackend(lambda m: ATTACK),
        tmp_path,
        RunConfig(limit=2, progress=False),
    )
    out = tmp_path / "page" / "view.html"
    result = CliRunner().invoke(app, ["view", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "&lt;script&gt;" in out.read_text()
    missing = CliRunner().invoke(app, ["view", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "summary.json: not found" in missing.output
