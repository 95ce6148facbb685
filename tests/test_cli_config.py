import pytest
from rich.console import Console
from typer.testing import CliRunner

from alignlab.cli import app
from alignlab.cli.config import STAGES, stage_class
from alignlab.config import from_dict, load_config, required_fields
from alignlab.config.docs import field_docs

# The stage classes live next to the trainers, which import torch: import them all once,
# when the module is collected, so that no test pays for it.
CLASSES = {stage: stage_class(stage) for stage in STAGES}


def invoke(*args: str):
    return CliRunner().invoke(app, ["config", *args])


def test_every_goodhart_experiment_and_trainer_is_a_stage():
    from alignlab.experiments.forms import EXPERIMENTS

    for name, (config_class, _) in EXPERIMENTS.items():
        assert CLASSES[name] is config_class
    assert {"sft", "reward", "dpo", "ppo", "demo", "sweep", "organism"} <= set(STAGES)


def test_list_and_show_without_a_stage_name_every_stage():
    for args in (["list"], ["show"]):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        rows = [line.split() for line in result.stdout.splitlines()]
        assert rows == [[stage, where.split(":")[1]] for stage, where in STAGES.items()]


@pytest.mark.parametrize(
    ("stage", "lines"),
    [
        (
            "sft",
            [
                "train_file: str | None = required",
                "    Demonstrations: JSONL, Parquet or a datasets directory. Required.",
                "eval_prompts: str | None = unset",
            ],
        ),
        (
            "dpo",
            [
                "beta: float = 0.1",
                "    Inverse temperature: how tightly the policy is tied to the reference.",
            ],
        ),
        ("ppo", ["kl_target: float | None = unset"]),
        ("sweep", ["best_of_n: BestOfNSweep = [table]", "best_of_n.oracle: bool = true"]),
        ("organism", ["corpus.n_chats: int = 30000"]),
        (
            "cai-revise",
            ['policy.model: str | None = "runs/sft/model"', "prompts: str | None = required"],
        ),
    ],
)
def test_show_prints_each_field_with_its_type_default_and_doc(stage, lines):
    result = invoke("show", stage)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0] == f"{stage}: {CLASSES[stage].__name__} ({CLASSES[stage].__module__})"
    for line in lines:
        assert line in out
    # Every field, the inherited ones too, is on a line of its own.
    named = {line.split(":")[0] for line in out if line and not line.startswith(" ")}
    assert {d.name for d in field_docs(CLASSES[stage])} <= named


def test_show_on_a_terminal_draws_a_table(monkeypatch):
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    result = invoke("show", "dpo")
    assert result.exit_code == 0, result.output
    assert "DPOConfig" in result.stdout and "beta" in result.stdout and "│" in result.stdout


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_stage_template_loads_back_as_its_defaults(stage, tmp_path):
    path = tmp_path / f"{stage}.toml"
    result = invoke("show", stage, "--toml", str(path))
    assert result.exit_code == 0, result.output
    cls = CLASSES[stage]
    # Required inputs have no default: the template names them, and a run gives them.
    required = required_fields(cls)
    given = {name: "x.jsonl" for name in required}
    if stage == "cai-label":
        given = {"pairs": "x.jsonl", "feedback": {"model": "m"}}
    text = path.read_text()
    for name in required:
        assert f"# {name} = ... (required)" in text or f"# [{name}]" in text
    overrides = [f"{k}.model=m" if isinstance(v, dict) else f"{k}={v}" for k, v in given.items()]
    assert load_config(cls, path, overrides) == from_dict(cls, given)


def test_toml_prints_the_template_and_nested_fields_sit_under_their_table(tmp_path):
    printed = invoke("show", "sweep", "--toml")
    assert printed.exit_code == 0, printed.output
    assert invoke("show", "sweep", "--toml", "-").stdout == printed.stdout
    text = printed.stdout
    table = text[text.index("\n[best_of_n]\n") :]
    table = table[: table.index("\n[", 1)]
    assert "\n# The n values" in table and "\nns = [1, 2, 4, 8, 16, 32, 64, 128, 256]\n" in table
    assert "\n# type: list[int]\n" in table
    assert "# samples_dir = ..." in table  # unset: commented out

    path = tmp_path / "sweep.toml"
    path.write_text("keep me")
    refused = invoke("show", "sweep", "--toml", str(path))
    assert refused.exit_code == 1 and "--force" in refused.output
    assert path.read_text() == "keep me"
    assert invoke("show", "sweep", "--toml", str(path), "--force").exit_code == 0
    assert path.read_text() == text


def test_an_unknown_stage_exits_2_naming_the_closest():
    result = invoke("show", "dop")
    assert result.exit_code == 2
    assert "unknown stage 'dop'; did you mean 'dpo'?" in result.output
    far = invoke("show", "zzzz", "--toml")
    assert far.exit_code == 2 and "known: sft, reward" in far.output
    stray = invoke("show", "sft", "sft.toml")
    assert stray.exit_code == 2 and "add --toml" in stray.output


def test_a_mistyped_key_is_answered_with_the_field_meant():
    result = CliRunner().invoke(app, ["train", "sft", "--set", "lr_rate=1e-4"])
    assert result.exit_code == 2
    assert "unknown key 'lr_rate' for SFTConfig; did you mean 'lr'?" in result.output
