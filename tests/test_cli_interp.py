"""``alignlab interp probe|capability`` from the command line (the shift command's test is
with the shift experiment's)."""

import json

from typer.testing import CliRunner

from alignlab.cli import app


def test_alignlab_interp_probe_writes_its_panel_and_refuses_a_bad_setting(lm_dir, tmp_path):
    words = ["paris", "madrid", "rome", "france", "spain", "italy"]
    rows = [
        {"statement": f"{a} is the capital of {b}", "label": i == j, "topic": f"t{i % 4}"}
        for i, a in enumerate(words[:3] * 2)
        for j, b in enumerate(words[3:])
    ]
    statements = tmp_path / "s.jsonl"
    statements.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(
        app,
        [
            "interp",
            "probe",
            "--out",
            str(tmp_path / "out"),
            "--set",
            f"models=['{lm_dir}']",
            "--set",
            f"statements=['{statements}']",
            "--set",
            "folds=2",
            "--set",
            "methods=['mean_difference']",
            "--set",
            "progress=false",
        ],
    )
    assert result.exit_code == 0, result.output
    panel = json.loads((tmp_path / "out" / "results.json").read_text())["interp"]["probe"]
    assert [r["method"] for r in panel["table"]["rows"]] == ["mean_difference"]
    bad = CliRunner().invoke(app, ["interp", "probe", "--set", "methods=['svm']"])
    assert bad.exit_code == 2 and "svm" in bad.output


def test_alignlab_interp_capability_refuses_a_bad_setting_by_name():
    bad = CliRunner().invoke(app, ["interp", "capability", "--set", "no_such_field=1"])
    assert bad.exit_code == 2 and "no_such_field" in bad.output
