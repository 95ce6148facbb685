import pytest
from typer.testing import CliRunner

from alignlab.cli.train import app as train_app
from alignlab.data.io import write_records
from alignlab.models.loading import load_causal_lm
from alignlab.models.reward import RewardModel
from alignlab.trainers import read_metrics
from tiny_models import write_tiny_causal_lm

PAIRS = [
    {"prompt": f"what is {a} + 1 ?", "chosen": f"{a + 1} .", "rejected": "i do not know ."}
    for a in range(6)
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    lm = write_tiny_causal_lm(root / "lm")
    write_records(root / "prefs.jsonl", PAIRS)
    write_records(
        root / "sft.jsonl", [{"prompt": p["prompt"], "completion": p["chosen"]} for p in PAIRS]
    )
    (root / "sft.toml").write_text(
        f'model = "{lm}"\ntrain_file = "{root / "sft.jsonl"}"\nbatch_size = 3\nprogress = false\n'
    )
    return root


def invoke(*args: str):
    return CliRunner().invoke(train_app, list(args))


def sets(**values) -> list[str]:
    """``--set key=value`` arguments; dotted keys go in as ``**{"lora.r": 2}``."""
    return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]


def test_train_sft_with_config_file_and_overrides(workspace, tmp_path):
    out = tmp_path / "sft"
    config = ["--config", str(workspace / "sft.toml")]
    lora = {"lora.r": 2}
    result = invoke("sft", *config, *sets(output_dir=out, max_steps=3, save_every=2, **lora))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(str(out / "model"))
    assert [r["step"] for r in read_metrics(out)] == [1, 2, 3]
    assert "r = 2" in (out / "config.toml").read_text()
    load_causal_lm(out / "model", device="cpu")

    again = invoke("sft", *config, *sets(output_dir=out))
    assert again.exit_code == 1 and "holds an earlier run" in again.output
    # Resuming needs the settings the run started with; with them, it redoes step 3 only.
    mismatched = invoke("sft", *config, *sets(output_dir=out, max_steps=3), "--resume")
    assert mismatched.exit_code == 1 and "changed config: lora" in mismatched.output
    (out / "metrics.jsonl").write_text((out / "metrics.jsonl").read_text() + '{"step": 3')
    resumed = invoke("sft", *config, *sets(output_dir=out, max_steps=3, **lora), "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert [r["step"] for r in read_metrics(out)] == [1, 2, 3]
    assert (out / "metrics.jsonl").read_text().count('"step": 3') == 1


def test_train_reward_and_dpo(workspace, tmp_path):
    prefs = workspace / "prefs.jsonl"
    common = sets(model=workspace / "lm", train_file=prefs, batch_size=3, progress="false")
    reward = invoke("reward", *common, *sets(eval_file=prefs, output_dir=tmp_path / "rm"))
    assert reward.exit_code == 0, reward.output
    RewardModel.load(tmp_path / "rm" / "model", device="cpu")
    assert (tmp_path / "rm" / "eval.json").exists()
    dpo = invoke("dpo", *common, *sets(loss_type="hinge", output_dir=tmp_path / "dpo"))
    assert dpo.exit_code == 0, dpo.output
    assert [r["step"] for r in read_metrics(tmp_path / "dpo")] == [1, 2]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["sft", "--set", "learning_rate=1"], 2, "unknown key 'learning_rate'"),
        (
            ["sft", *sets(model="m", train_file="t.jsonl", batch_size=0)],
            2,
            "batch_size: must be >= 1",
        ),
        (
            ["dpo", *sets(model="m", train_file="t.jsonl", loss_type="nope")],
            2,
            "loss_type: unknown 'nope'",
        ),
        (["sft", "--set", "train_file=t.jsonl"], 2, "SFTConfig.model is required (--set model="),
        (["reward", "--config", "missing.toml"], 2, "no such config file"),
        (["sft", "--set", "model=m", "--set", "train_file=missing.jsonl"], 1, "missing.jsonl"),
    ],
)
def test_user_errors_exit_non_zero_without_a_traceback(args, code, message, tmp_path):
    result = invoke(*args, "--set", f"output_dir={tmp_path / 'run'}")
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_non_finite_loss_is_reported_with_its_step(workspace, tmp_path):
    # Adam moves every weight by about lr per step: at 1e30 the next forward pass overflows.
    absurd = sets(lr="1e30", max_grad_norm=0, lr_schedule="constant", epochs=20)
    config = ["--config", str(workspace / "sft.toml")]
    result = invoke("sft", *config, *sets(output_dir=tmp_path / "run"), *absurd)
    assert result.exit_code == 1, result.output
    assert "stopped: step " in result.output and "is nan" in result.output
    assert "Traceback" not in result.output
