"""Panels: the panel sections' schema, their rendering, and publishing into results.json."""

import base64
import json

import pytest

from alignlab.experiments.oversight.base import publish
from alignlab.report import ResultsError, add_panel, read_results, write_results
from alignlab.report.panels import PanelError, check_panel, panel_html


def est(value, n=40):
    return {"value": value, "n": n, "lo": value - 0.1, "hi": value + 0.1}


def panel(title="Debate <judge>", finding="debate > naive"):
    return {
        "title": title,
        "finding": finding,
        "setting": {"n": 40, "seeds": 3},
        "wall_s": 12.5,
        "table": {
            "columns": ["protocol", "accuracy"],
            "rows": [{"protocol": "naive", "accuracy": est(0.5)}, {"protocol": "debate"}],
        },
        "curves": [
            {
                "title": "accuracy against debater strength (n=40, 3 seeds)",
                "x": "best-of-n",
                "y": "judge accuracy",
                "x_log": True,
                "series": [
                    {"name": "debate", "points": [{"x": 1, "y": est(0.6)}, {"x": 4, "y": est(0.7)}]}
                ],
            }
        ],
    }


def test_a_panel_renders_escaped_with_its_table_setting_and_plot():
    html = panel_html(panel(), "oversight-debate")
    assert 'id="oversight-debate"' in html and "Debate &lt;judge&gt;" in html
    assert "n: 40 · seeds: 3 · wall time: 12 s" in html  # 12.5 rounds to even
    assert "[0.400, 0.600]" in html and "–" in html  # an interval, and a missing cell
    image = html.split("base64,")[1].split('"')[0]
    assert base64.b64decode(image).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p.pop("title"), "title: expected a string"),
        (lambda p: p["table"]["rows"][0].update(other=1), r"rows\[0\]\.other: not one of"),
        (lambda p: p["table"]["rows"][0].update(accuracy=[1]), "expected an estimate"),
        (lambda p: p["curves"][0]["series"][0]["points"][0].update(x="a"), r"points\[0\]\.x"),
        (lambda p: p["curves"][0]["series"][0]["points"][1].update(y=3), r"points\[1\]\.y"),
    ],
)
def test_a_bad_panel_names_its_field(change, message):
    bad = panel()
    change(bad)
    with pytest.raises(PanelError, match=message):
        check_panel(bad, "p")


def test_publish_keeps_other_panels_and_sections(tmp_path):
    write_results(tmp_path, {"title": "mine", "evaluations": []})
    publish(tmp_path, "debate", panel())
    report = publish(tmp_path, "process", panel(title="Process"))
    results = read_results(tmp_path)
    assert set(results["oversight"]) == {"debate", "process"}
    assert results["title"] == "mine" and results["evaluations"] == []
    page = report.read_text()
    assert "Scalable oversight" in page and 'id="oversight-process"' in page


def test_a_bad_oversight_section_is_refused_by_name(tmp_path):
    (tmp_path / "results.json").write_text(
        json.dumps({"schema": "alignlab.report/1", "oversight": {"debate": {"title": 3}}})
    )
    with pytest.raises(ResultsError, match=r"oversight\.debate\.title"):
        read_results(tmp_path)


def test_interp_panels_sit_beside_oversight_ones_and_unknown_sections_are_refused(tmp_path):
    publish(tmp_path, "debate", panel())
    page = add_panel(tmp_path, "interp", "probe", panel(title="Probes"), title="t").read_text()
    results = read_results(tmp_path)
    assert set(results) >= {"oversight", "interp"} and set(results["interp"]) == {"probe"}
    assert "Inside the model" in page and 'id="interp-probe"' in page
    with pytest.raises(ValueError, match="holds no panels"):
        add_panel(tmp_path, "ladder", "x", panel(), title="t")
    (tmp_path / "results.json").write_text(
        json.dumps({"schema": "alignlab.report/1", "interp": {"probe": {"title": 3}}})
    )
    with pytest.raises(ResultsError, match=r"interp\.probe\.title"):
        read_results(tmp_path)
