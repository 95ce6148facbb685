"""Constitutional AI against a real OpenAI-compatible server on loopback, through the CLI."""

import json

import pytest
from typer.testing import CliRunner

from alignlab.cli.cai import app
from alignlab.data import Comparison, Sample, read_records, write_records
from openai_server import serve
from tiny_models import write_tiny_causal_lm

SECRET = "sk-alignlab-cai-test-0123456789"
# Options the tiny model's vocabulary has, so the endpoint's first-token log-probs name them.
YES_NO = """\
name = "yes-no"
[comparison]
options = ["yes", "no"]
[[comparison.turns]]
role = "user"
content = "{conversation} {question} {first} or {second} ?"
[[principles]]
id = "right"
critique = "is it right ?"
revision = "tell me a good answer ."
question = "is the first answer good ?"
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return write_tiny_causal_lm(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def server(model_dir):
    with serve(model_dir) as url:
        yield url


@pytest.fixture
def data(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    write_records(prompts, [Sample(f"what is {i} + 2 ?", id=f"s{i}") for i in range(3)])
    pairs = tmp_path / "pairs.jsonl"
    write_records(
        pairs,
        [Comparison(f"what is {i} + 2 ?", f"{i + 2} .", f"{i + 3} .") for i in range(3)],
    )
    return prompts, pairs


def invoke(command: str, *flags: str, **settings):
    """Run ``alignlab cai COMMAND`` with ``--set key=value`` for each setting (``__`` for ``.``)."""
    args = [command, *flags, "--set", "progress=false"]
    for key, value in settings.items():
        args += ["--set", f"{key.replace('__', '.')}={value}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


# The module's server fixture starts a model server: about 6 s, paid by the first test.
@pytest.mark.slow
def test_revise_through_the_endpoint_matches_the_local_model(
    server, model_dir, data, tmp_path, monkeypatch
):
    monkeypatch.setenv("ALIGNLAB_CAI_KEY", SECRET)
    prompts, _ = data
    common = dict(
        prompts=prompts, constitution="default", temperature=0.0, max_new_tokens=6, rounds=2
    )
    endpoint = dict(
        policy__model="tiny",
        policy__base_url=server,
        policy__api_key_env="ALIGNLAB_CAI_KEY",
        critic__model=model_dir,
        critic__device="cpu",
    )
    served, local = tmp_path / "served.jsonl", tmp_path / "local.jsonl"
    invoke("revise", output=served, **common, **endpoint)
    invoke("revise", output=local, policy__model=model_dir, policy__device="cpu", **common)
    there, here = read_records(served), read_records(local)
    assert [r.meta["id"] for r in there] == ["s0/0", "s1/0", "s2/0"]
    assert [r.meta["initial"] for r in there] == [r.meta["initial"] for r in here]
    assert [r.response for r in there] == [r.response for r in here]
    assert there[0].meta["policy"] != there[0].meta["critic"]
    for path in tmp_path.iterdir():
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    # Resuming a finished run asks nothing more of the server.
    result = invoke("revise", "--resume", output=served, **common, **endpoint)
    assert "3 revised, 0 unchanged, 0 failed (empty 0, off-topic 0) of 3 answers (0 this run)" in (
        " ".join(result.output.split())
    )


def test_label_through_the_endpoint_says_which_method_it_used(server, data, tmp_path):
    _, pairs = data
    constitution = tmp_path / "yes_no.toml"
    constitution.write_text(YES_NO)
    common = dict(pairs=pairs, feedback__model="tiny", feedback__base_url=server)
    common["principles_per_pair"] = 1
    out = tmp_path / "labels.jsonl"
    # The whole vocabulary as first-token alternatives: the options are always among them.
    invoke("label", constitution=constitution, output=out, feedback__top_logprobs=200, **common)
    records = read_records(out, "comparison")
    assert len(records) == 3
    for r in records:
        assert r.meta["method"] == "logprobs" and 0.5 <= r.weight <= 1.0
        assert r.annotator == f"tiny@{server}"
    # "A" is no word of the tiny model: no first token names it, so votes are sampled.
    voted = tmp_path / "voted.jsonl"
    invoke("label", constitution="default", output=voted, votes=2, **common)
    assert {r.meta["method"] for r in read_records(voted, "comparison")} == {"votes"}
    settings = json.loads((tmp_path / "voted.jsonl.run.json").read_text())
    assert settings["feedback"]["base_url"] == server


def test_the_cli_reports_bad_constitutions_and_outputs(data, tmp_path):
    prompts, _ = data
    bad = tmp_path / "bad.toml"
    bad.write_text(YES_NO.replace('critique = "is it right ?"\n', ""))
    result = CliRunner().invoke(
        app, ["revise", "--set", f"prompts={prompts}", "--set", f"constitution={bad}"]
    )
    assert result.exit_code == 1
    assert "bad.toml:7: principles[0].critique: missing key" in result.output
    result = CliRunner().invoke(app, ["label", "--set", "rounds=2"])
    assert result.exit_code == 2 and "unknown key 'rounds'" in result.output
    shown = CliRunner().invoke(app, ["constitution", "organism"])
    assert shown.exit_code == 0 and "is the user right ?" in shown.output
