import json

import pytest
from typer.testing import CliRunner

from alignlab.cli.eval import app
from alignlab.evals import SUITES, read_eval_records
from alignlab.models.reward import RewardModel
from tiny_models import write_tiny_causal_lm

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return write_tiny_causal_lm(tmp_path_factory.mktemp("tiny"))


def test_list_names_every_suite_with_its_size():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    for name in SUITES:
        assert name in result.output
    assert "160" in result.output  # sycophancy's samples


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--suite", "refusal"], "model: name a model directory or hub id"),
        (["--suite", "refusal,nope", "--model", "m"], "unknown suite 'nope'"),
        (["--suite", "world-refusal", "--model", "m"], "organism: the suites ['world-refusal']"),
        (["--suite", "refusal", "--model", "/no/such/model"], "/no/such/model: no such model"),
        (
            ["--suite", "refusal", "--model", "m", "--api-key-env", "KEY"],
            "api_key_env: only an endpoint",
        ),
        (["--suite", "refusal", "--base-url", "http://x:1/v1"], "model: name the model"),
    ],
)
def test_bad_runs_are_refused_with_the_reason(args, message, tmp_path):
    result = runner.invoke(app, ["run", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.output


def test_a_local_model_run_writes_records_and_summary(model_dir, tmp_path):
    out = tmp_path / "run"
    args = ["run", "--model", str(model_dir), "--suite", "verbosity,refusal", "--limit", "3"]
    result = runner.invoke(
        app, [*args, "--max-new-tokens", "6", "--out", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    records = read_eval_records(out / "records.jsonl")
    assert [(r.suite, r.id) for r in records] == [
        ("verbosity", "open-0"),
        ("verbosity", "brevity-0"),
        ("verbosity", "open-1"),
        ("refusal", "harmful-0-0"),
        ("refusal", "benign-0-0"),
        ("refusal", "harmful-1-0"),
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["suites"]["refusal"]["metrics"]["harmful_compliance_rate"]["n"] == 2
    assert "over_refusal_rate" in result.output
    again = runner.invoke(app, [*args, "--out", str(out), "--no-progress"])
    assert again.exit_code == 2 and "pass --resume" in again.output


def test_agreement_runs_on_a_reward_model_alone(model_dir, tmp_path):
    RewardModel.from_causal_lm(model_dir, device="cpu", seed=0).save(tmp_path / "rm")
    out = tmp_path / "run"
    args = ["run", "--reward-model", str(tmp_path / "rm"), "--suite", "agreement", "--limit", "4"]
    result = runner.invoke(app, [*args, "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    records = read_eval_records(out / "records.jsonl")
    assert len(records) == 4
    assert all(r.data["method"] == "reward model" and len(r.data["scores"]) == 3 for r in records)


@pytest.mark.slow
def test_world_suites_run_on_a_built_organism(tmp_path):
    from alignlab.cli.organism import app as organism_app

    organism = tmp_path / "organism"
    settings = ["pretrain.steps=40", "corpus.n_chats=600", "corpus.n_statements=100"]
    settings += ["demonstrations.n=20", "preferences.n_train=20", "preferences.n_heldout=40"]
    settings += ["prompts.n_train=2", "prompts.n_heldout=4"]
    build = ["build", "--out", str(organism), *(a for s in settings for a in ("--set", s))]
    assert runner.invoke(organism_app, build).exit_code == 0
    RewardModel.from_causal_lm(organism / "base", device="cpu", seed=0).save(tmp_path / "rm")
    out = tmp_path / "run"
    args = ["run", "--model", str(organism / "base"), "--organism", str(organism)]
    args += ["--reward-model", str(tmp_path / "rm"), "--suite", "world", "--out", str(out)]
    result = runner.invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["suites"]) == {n for n, s in SUITES.items() if s.needs_organism}
    assert all(s["n_errors"] == 0 and s["n_finished"] > 0 for s in summary["suites"].values())
    utility = summary["suites"]["world-utility"]["metrics"]["gold_utility/all"]
    assert 0.0 <= utility["value"] <= 1.0 and utility["n"] == 44
