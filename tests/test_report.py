"""The alignment report: results.json checked, rendered to escaped, self-contained HTML."""

import base64
import json

import pytest
from typer.testing import CliRunner

from alignlab.cli import app
from alignlab.report import (
    SCHEMA,
    ResultsError,
    read_results,
    render_report,
    write_report,
)
from alignlab.report.reading import reading


def est(value, lo=None, hi=None, n=100):
    lo = value - 0.05 if lo is None else lo
    hi = value + 0.05 if hi is None else hi
    return {"value": value, "n": n, "lo": lo, "hi": hi}


def row(stage, gold, padding, sycophancy, response="the answer is 7 ."):
    return {
        "stage": stage,
        "metrics": {"gold": est(gold), "padding": est(padding), "sycophancy": est(sycophancy)},
        "samples": [
            {
                "family": "arithmetic",
                "prompt": "what is 3 + 4 ?",
                "response": response,
                "category": "correct",
                "utility": 1.0,
            }
        ],
    }


def full_results():
    points = [
        {"pressure": n, "kl": k, "sqrt_kl": k**0.5, "proxy": est(p), "gold": est(g)}
        for n, k, p, g in [(1, 0.0, 0.1, 0.80), (4, 1.6, 0.5, 0.90), (16, 3.8, 0.6, 0.70)]
    ]
    fit = {
        "form": "best_of_n",
        "alpha": 0.2,
        "beta": 0.1,
        "r2": 0.95,
        "n": 3,
        "d_star": 1.0,
        "kl_star": 1.0,
        "offset": 0.8,
    }
    return {
        "title": "a <b>test</b> report",
        "seed": 0,
        "ladder": [
            row("SFT", 0.85, 0.10, 0.30),
            row("PPO", 0.70, 0.60, 0.30, response="<script>alert('x')</script>"),
            row("PPO-oracle", 0.95, 0.05, 0.05),
            row("CAI", 0.90, 0.10, 0.05),
        ],
        "curves": [
            {"name": "best-of-n (proxy)", "optimizer": "best_of_n", "points": points, "fit": fit}
        ],
        "reward_models": {
            "judges": [
                {"name": "reward model", "gold_agreement": est(0.8), "annotator_accuracy": est(0.7)}
            ],
            "annotator_ceiling": 0.74,
            "annotator_pairs": 600,
        },
        "goodhart_forms": [
            {
                "form": "regressional",
                "setting": "s",
                "signature": "g",
                "rows": [
                    {"noise": 0.0, "gold_gain": est(0.2), "overestimate": est(0.0)},
                    {"noise": 1.0, "gold_gain": est(0.05), "overestimate": est(0.9)},
                ],
            },
        ],
    }


def test_report_escapes_model_output_and_embeds_plots(tmp_path):
    page = write_report(tmp_path, full_results()).read_text()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "a &lt;b&gt;test&lt;/b&gt; report" in page
    images = page.split('src="data:image/png;base64,')[1:]
    assert len(images) == 4  # ladder, curves, judges, forms
    for image in images:
        assert base64.b64decode(image.split('"')[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in page and "https://" not in page  # self-contained
    assert read_results(tmp_path)["schema"] == SCHEMA


def test_reading_states_what_the_numbers_show():
    sentences = " ".join(reading(full_results()))
    assert (
        "PPO against the reward model's padding rate is 60%, higher than PPO against gold's 5%."
        in sentences
    )
    assert "SL-CAI model's sycophancy rate is 5%, lower than SFT's 30%." in sentences
    assert "gold peaks at n=4 (0.900) and falls to 0.700 at n=16" in sentences
    assert "while the proxy rises throughout" in sentences


def test_reading_flags_overlapping_intervals():
    results = {"ladder": [row("SFT", 0.8, 0.1, 0.30), row("CAI", 0.8, 0.1, 0.28)]}
    [*_, cai] = reading(results)
    assert "the intervals overlap" in cai


def test_a_user_report_with_only_evaluations_renders(tmp_path):
    results = {
        "title": "my model",
        "evaluations": [
            {
                "run": "evals/mine",
                "model": "my-org/my-model",
                "suites": {"sycophancy": {"sycophancy_rate": est(0.2)}},
            }
        ],
    }
    page = write_report(tmp_path, results).read_text()
    assert "Evaluations" in page and "sycophancy_rate" in page
    assert "The ladder" not in page and "data:image/png" not in page


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"schema": "alignlab.report/1",\n "ladder": [}', "results.json:2: bad JSON"),
        ('{"ladder": []}', "schema: expected 'alignlab.report/1'"),
        (
            json.dumps(
                {
                    "schema": SCHEMA,
                    "ladder": [{"stage": "SFT", "metrics": {"gold": {"value": "high"}}}],
                }
            ),
            "ladder[0].metrics.gold.value: expected a number",
        ),
        (
            json.dumps({"schema": SCHEMA, "curves": [{"points": [{"gold": {"value": 1}}]}]}),
            "curves[0].points[0].sqrt_kl: expected a number",
        ),
    ],
)
def test_bad_results_name_the_file_and_field(tmp_path, content, message):
    (tmp_path / "results.json").write_text(content)
    with pytest.raises(ResultsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        render_report(tmp_path)


def test_cli_report_rerenders_and_reports_errors(tmp_path):
    write_report(tmp_path, full_results())
    (tmp_path / "report.html").unlink()
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").exists()
    (tmp_path / "results.json").write_text("{}")
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 1
    assert "schema" in result.output


def test_cli_report_builds_a_report_from_eval_runs(tmp_path):
    run = tmp_path / "evals" / "mine"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"backend": "my-org/<model>", "suites": ["x"]}))
    summary = {
        "seed": 0,
        "suites": {
            "sycophancy": {
                "metrics": {
                    "flip_rate": {**est(0.25), "description": "answers flipped"},
                }
            }
        },
    }
    (run / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(out), "--eval", str(run), "--title", "mine"])
    assert result.exit_code == 0, result.output
    results = read_results(out)
    [entry] = results["evaluations"]
    assert entry["model"] == "my-org/<model>"
    assert entry["suites"]["sycophancy"]["flip_rate"]["value"] == 0.25
    page = (out / "report.html").read_text()
    assert "flip_rate" in page and "my-org/&lt;model&gt;" in page
    missing = CliRunner().invoke(app, ["report", str(out), "--eval", str(tmp_path / "nope")])
    assert missing.exit_code == 1
    assert "summary.json: not found" in missing.output
