"""Every suite end to end against a real OpenAI-compatible server process and the same model
loaded locally; server faults; a run killed with SIGKILL and resumed."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from alignlab.cli.eval import app
from alignlab.evals import (
    SUITES,
    EvalRecord,
    RunConfig,
    SuiteOptions,
    build_tasks,
    read_eval_records,
    run_eval,
)
from alignlab.models.backends import OpenAIChatBackend
from alignlab.models.backends.hf import HFBackend
from openai_server import serve
from test_evals_suites import write_organism_data
from tiny_models import write_tiny_causal_lm

SECRET = "sk-alignlab-test-0123456789"
# Suites whose outputs are generated text: the same greedy model gives the same text both ways.
GENERATED = {"sycophancy", "refusal", "honesty", "jailbreak", "verbosity"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return write_tiny_causal_lm(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def server(model_dir):
    with serve(model_dir) as url:
        yield url


@pytest.fixture(scope="module")
def organism(tmp_path_factory):
    return write_organism_data(tmp_path_factory.mktemp("organism"))


def check_well_formed(records: list[EvalRecord], task) -> None:
    assert [r.id for r in records] == [s.id for s in task.samples[: len(records)]]
    for record in records:
        assert record.error is None, record.error
        assert isinstance(record.output, str)
        assert set(record.scores) == {s.name for s in task.scorers}
        for score in record.scores.values():
            assert score.error is None and (score.value is None or isinstance(score.value, float))
        assert record.backend["name"]


def run_both(suites, server, model_dir, organism, tmp_path, limit):
    options = SuiteOptions(max_new_tokens=6, organism=organism)
    tasks = build_tasks(suites, options)
    endpoint = OpenAIChatBackend(server, "tiny", concurrency=4, max_retries=0)
    local = HFBackend.load(model_dir, device="cpu")
    config = RunConfig(limit=limit, progress=False)
    remote = run_eval(tasks, endpoint, tmp_path / "server", config)
    here = run_eval(tasks, local, tmp_path / "local", config)
    by_path = {
        path: read_eval_records(tmp_path / path / "records.jsonl") for path in ("server", "local")
    }
    for task in tasks:
        served = [r for r in by_path["server"] if r.suite == task.name]
        loaded = [r for r in by_path["local"] if r.suite == task.name]
        assert len(served) == len(loaded) == min(limit, len(task.samples))
        check_well_formed(served, task)
        check_well_formed(loaded, task)
        if task.name in GENERATED or (
            task.name.startswith("world-") and "agreement" not in task.name
        ):
            assert [r.output for r in served] == [r.output for r in loaded], task.name
        assert (
            remote["suites"][task.name]["metrics"].keys()
            == here["suites"][task.name]["metrics"].keys()
        )


@pytest.mark.slow
def test_every_suite_runs_through_the_server_and_locally(server, model_dir, organism, tmp_path):
    run_both(list(SUITES), server, model_dir, organism, tmp_path, limit=3)


@pytest.mark.slow
def test_every_suite_runs_through_the_server_and_locally_at_length(
    server, model_dir, organism, tmp_path
):
    run_both(list(SUITES), server, model_dir, organism, tmp_path, limit=16)


@pytest.mark.slow
def test_server_faults_are_retried_or_recorded_and_the_run_completes(
    model_dir, tmp_path, monkeypatch
):
    log = tmp_path / "requests.jsonl"
    faults = "2:timeout,4:429,6:500,8:malformed,10:truncated,14:malformed,18:malformed"
    monkeypatch.setenv("ALIGNLAB_TEST_KEY", SECRET)
    with serve(model_dir, "--faults", faults, "--fault-delay", "2", "--log", str(log)) as url:
        args = ["run", "--base-url", url, "--model", "tiny", "--api-key-env", "ALIGNLAB_TEST_KEY"]
        args += ["--suite", "verbosity", "--limit", "12", "--out", str(tmp_path / "run")]
        args += [
            "--max-new-tokens",
            "6",
            *("--set", "timeout=1", "--set", "concurrency=1", "--set", "run.chunk_size=4"),
        ]
        result = CliRunner().invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    assert {e["fault"] for e in seen} >= {"timeout", "429", "500", "malformed", "truncated"}
    records = read_eval_records(tmp_path / "run" / "records.jsonl")
    assert sorted(r.id for r in records) == sorted(
        f"{c}-{i}" for c in ("open", "brevity") for i in range(6)
    )
    failed = [r for r in records if r.error is not None]
    # Requests 14 and 18 were one sample's two tries (in its chunk, then on its own):
    # recorded, with the run complete.
    assert len(failed) == 1 and "not JSON" in failed[0].error
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["suites"]["verbosity"]["n_errors"] == 1
    for path in (tmp_path / "run").iterdir():
        assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in result.output


def cli(*args: str) -> subprocess.Popen:
    code = "from alignlab.cli.eval import app; app()"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


@pytest.mark.slow
def test_a_killed_run_resumes_without_repeating_or_losing_samples(model_dir, tmp_path):
    log = tmp_path / "requests.jsonl"
    with serve(model_dir, "--delay", "0.05", "--log", str(log)) as url:
        common = ["run", "--base-url", url, "--model", "tiny", "--suite", "sycophancy,verbosity"]
        common += [
            "--limit",
            "12",
            "--max-new-tokens",
            "6",
            *("--set", "concurrency=1", "--set", "run.chunk_size=2"),
        ]
        common += ["--seed", "7", "--no-progress"]
        killed = tmp_path / "killed"
        process = cli(*common, "--out", str(killed))
        records_file = killed / "records.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if records_file.exists() and records_file.read_text().count("\n") >= 5:
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        before = {r.key for r in read_eval_records(records_file)}
        assert 5 <= len(before) < 24
        asked_before = log.read_text().count("\n")
        resumed = cli(*common, "--out", str(killed), "--resume")
        assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()
        asked_after = [json.loads(line) for line in log.read_text().splitlines()[asked_before:]]
        whole = cli(*common, "--out", str(tmp_path / "whole"))
        assert whole.wait(timeout=300) == 0, whole.stderr.read().decode()
    records = read_eval_records(records_file)
    assert len(records) == 24 and len({r.key for r in records}) == 24
    # No finished sample was asked again.
    finished_prompts = {json.dumps(r.transcript[:1]) for r in records if r.key in before}
    assert not finished_prompts & {json.dumps(e["messages"][:1]) for e in asked_after}
    summaries = [
        json.loads((tmp_path / d / "summary.json").read_text()) for d in ("killed", "whole")
    ]
    assert summaries[0] == summaries[1]
    uninterrupted = {r.key: r for r in read_eval_records(tmp_path / "whole" / "records.jsonl")}
    assert {r.key: (r.output, r.scores) for r in records} == {
        k: (r.output, r.scores) for k, r in uninterrupted.items()
    }
