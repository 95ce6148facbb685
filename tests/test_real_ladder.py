"""`alignlab demo --model`: the real-model ladder end to end on a tiny LM, its held-out
measurement, and its section of the shared report."""

import json

import pytest
from typer.testing import CliRunner

from alignlab.cli import app
from alignlab.evals.suites.refusal import topic_of
from alignlab.experiments.real import RealConfig, run_real
from alignlab.experiments.real.measure import (
    CAI_FIRST_TOPIC,
    MEASURES,
    ladder_tasks,
    measure,
    row_metrics,
)
from alignlab.report import read_results, write_results
from alignlab.report.reading import reading

TINY = {
    "eval_limit": 4,
    "claims": 12,
    "sft_steps": 1,
    "cai_topics": 1,
    "cai_steps": 1,
    "bon_n": 2,
    "max_new_tokens": 8,
    "batch_size": 4,
    "threads": 1,
    "progress": False,
}
STAGES = [
    "base",
    "anti-sycophancy SFT",
    "ablation: SFT unfiltered",
    "SL-CAI",
    "RL-CAI DPO",
    "best-of-2 (LoRA RM)",
]


def test_settings_are_checked():
    with pytest.raises(ValueError, match="model"):
        RealConfig()
    with pytest.raises(ValueError, match="cai_topics"):
        RealConfig(model="m", cai_topics=26)
    with pytest.raises(ValueError, match="eval_limit"):
        RealConfig(model="m", eval_limit=0)


def test_suites_are_cut_to_held_out_samples_an_equal_share_per_condition():
    tasks = {t.name: t for t in ladder_tasks(24, 16)}
    assert set(tasks) == {m.suite for m in MEASURES.values()}
    assert all(len(t.samples) == 24 for t in tasks.values())
    refusal = tasks["refusal"].samples
    assert all(topic_of(s) < CAI_FIRST_TOPIC for s in refusal)
    assert sum(s.meta["kind"] == "harmful" for s in refusal) == 12
    claims = tasks["sycophancy"].samples
    assert all(s.meta["kind"] == "claim" for s in claims)
    assert sum(bool(s.meta["claim_true"]) for s in claims) == 12
    odd = {t.name: t for t in ladder_tasks(5, 16)}["honesty"].samples
    assert sorted(s.meta["kind"] for s in odd) == ["answerable"] * 3 + ["unanswerable"] * 2


def test_a_finished_stage_is_read_without_loading_a_model(tmp_path):
    summary = {"suites": {"refusal": {"metrics": {"over_refusal_rate": {"value": 0.25, "n": 4}}}}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))

    def refuse():
        raise AssertionError("loaded a model for a finished stage")

    read = measure(refuse, tmp_path, 4, 8, 0, False)
    assert row_metrics(read) == {"over_refusal": {"value": 0.25, "n": 4}}


def test_the_reading_claims_a_change_only_where_intervals_separate():
    def est(value, lo, hi):
        return {"value": value, "lo": lo, "hi": hi, "n": 40}

    section = {
        "model": "m",
        "columns": {"sycophancy": "agrees with false claims ↓", "padding": "padding ↓"},
        "rows": [
            {
                "stage": "base",
                "metrics": {"sycophancy": est(1.0, 0.9, 1.0), "padding": est(0.1, 0.0, 0.2)},
            },
            {
                "stage": "SFT",
                "metrics": {"sycophancy": est(0.5, 0.3, 0.7), "padding": est(0.15, 0.05, 0.3)},
            },
        ],
        "notes": ["a note"],
    }
    sentences = reading({"real_ladder": section})
    assert "moved beyond the intervals by: SFT 50%" in sentences[0]
    assert "no stage moved it" in sentences[1]
    assert sentences[-1] == "a note"


def test_a_malformed_section_is_refused_by_field(tmp_path):
    with pytest.raises(ValueError, match=r"real_ladder.rows\[0\].stage"):
        write_results(tmp_path, {"real_ladder": {"rows": [{"metrics": {}}]}})


def test_the_ladder_runs_on_a_real_model_and_joins_the_organisms_report(tmp_path, lm_dir):
    out = tmp_path / "demo"
    organism_row = {"stage": "SFT", "metrics": {"gold": {"value": 0.5, "n": 3}}}
    write_results(out, {"title": "organism", "ladder": [organism_row]})
    report = run_real(RealConfig(model=str(lm_dir), out=str(out), **TINY))
    results = read_results(out)
    assert results["ladder"] == [organism_row]
    section = results["real_ladder"]
    assert [row["stage"] for row in section["rows"]] == STAGES
    for row in section["rows"]:
        assert row["metrics"]["sycophancy"]["n"] == 2  # the false claims of 4 samples
        assert 0 <= row["metrics"]["harmful_compliance"]["value"] <= 1
    assert section["data"]["filter"]["built"] == 12
    page = report.read_text()
    assert "The ladder on" in page and "The ladder</h2>" in page
    stamp = (out / "real" / "eval" / "bon" / "summary.json").stat().st_mtime_ns
    run_real(RealConfig(model=str(lm_dir), out=str(out), **TINY))  # every stage reused
    assert (out / "real" / "eval" / "bon" / "summary.json").stat().st_mtime_ns == stamp
    assert read_results(out)["real_ladder"]["rows"] == section["rows"]


def test_cli_names_a_missing_model(tmp_path):
    result = CliRunner().invoke(
        app, ["demo", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "not a model directory" in result.output


def test_less_harmful_help_with_more_off_topic_replies_is_called_answering_less():
    def est(value, lo, hi):
        return {"value": value, "lo": lo, "hi": hi, "n": 12}

    section = {
        "model": "m",
        "columns": {"harmful_compliance": "harmful help ↓", "off_topic": "off-topic"},
        "rows": [
            {
                "stage": "base",
                "metrics": {
                    "harmful_compliance": est(0.67, 0.35, 0.9),
                    "off_topic": est(0.2, 0.07, 0.42),
                },
            },
            {
                "stage": "SL-CAI",
                "metrics": {
                    "harmful_compliance": est(0.0, 0.0, 0.26),
                    "off_topic": est(0.92, 0.73, 0.99),
                    "refusal": est(0.0, 0.0, 0.26),
                },
            },
            {
                "stage": "DPO",
                "metrics": {
                    "harmful_compliance": est(0.5, 0.2, 0.8),
                    "off_topic": est(0.9, 0.7, 0.99),
                },
            },
        ],
    }
    sentences = reading({"real_ladder": section})
    fewer = [s for s in sentences if "answers less" in s]
    assert fewer == [
        "SL-CAI: harmful help fell to 0% as off-topic replies rose to 92%, and it refused 0% "
        "of harmful requests: it answers less, which is not the same as refusing."
    ]
