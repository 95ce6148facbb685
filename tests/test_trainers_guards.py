"""The guards of a training run: divergence stops it and names a good checkpoint, a resume
with a changed config is refused unless allowed (and then recorded), and an unreadable
checkpoint file gets one clear error naming it."""

import os
import pickle
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import alignlab.trainers.sft as sft_module
from alignlab.cli.train import app as train_app
from alignlab.trainers import SFTConfig, read_metrics, train_sft
from alignlab.trainers.rundir import CheckpointError, checkpoint_steps, read_changes


def config(lm_dir, train_file, out, **overrides) -> SFTConfig:
    settings = dict(
        model=str(lm_dir),
        train_file=str(train_file),
        output_dir=str(out),
        batch_size=4,
        lr=1e-3,
        max_steps=2,
        save_every=2,
        lr_schedule="constant",
        progress=False,
        threads=1,
    )
    return SFTConfig(**{**settings, **overrides})


def cli(*args: str, **values):
    sets = [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]
    return CliRunner().invoke(train_app, ["sft", *args, *sets])


def cli_settings(lm_dir, train_file, out, **overrides) -> dict:
    settings = dict(
        model=f'"{lm_dir}"',
        train_file=f'"{train_file}"',
        output_dir=f'"{out}"',
        batch_size=4,
        lr=1e-3,
        lr_schedule='"constant"',
        progress="false",
        threads=1,
    )
    return {**settings, **overrides}


def named_checkpoint(output: str) -> Path | None:
    found = re.search(r"the last good checkpoint is (\S+?);", " ".join(output.split()))
    return Path(found.group(1)) if found else None


def finite(checkpoint: Path) -> bool:
    weights = load_file(checkpoint / "model.safetensors")
    return all(bool(torch.isfinite(t).all()) for t in weights.values())


def test_a_diverging_loss_stops_the_cli_non_zero_and_names_a_good_checkpoint(
    lm_dir, train_file, tmp_path, monkeypatch
):
    # From step 7 on the loss is 1000 times what it was: the smoothed loss passes 10 times
    # its minimum at once. Step 7 ran on step-6's weights, so step-5 is the last good one.
    calls, real = [], sft_module.sft_loss

    def rising(logits, input_ids, response_mask):
        calls.append(1)
        loss, metrics = real(logits, input_ids, response_mask)
        return (loss * 1000 if len(calls) >= 7 else loss), metrics

    monkeypatch.setattr(sft_module, "sft_loss", rising)
    out = tmp_path / "run"
    result = cli(**cli_settings(lm_dir, train_file, out, epochs=4, save_every=1))
    assert result.exit_code == 1, result.output
    assert "step 7: the loss diverged" in result.output
    assert "divergence_factor = 10" in result.output and "Traceback" not in result.output
    assert "done" not in result.output and not (out / "model").exists()
    good = named_checkpoint(result.output)
    assert good == out / "checkpoints" / "step-5" and finite(good)
    assert checkpoint_steps(out) == [5]
    assert (out / "checkpoints" / "step-6.diverged").is_dir()

    # The factor disabled, the same run goes on to the end.
    calls.clear()
    off = cli(**cli_settings(lm_dir, train_file, tmp_path / "off", epochs=4, divergence_factor=0))
    assert off.exit_code == 0, off.output


def test_an_overflow_after_an_absurd_update_names_no_checkpoint_good(lm_dir, train_file, tmp_path):
    # At lr 1e30 the first update leaves weights near 1e30: finite, but the next forward
    # pass overflows. Step-1 holds those weights, so it must not be called good.
    out = tmp_path / "run"
    absurd = dict(lr="1e30", max_grad_norm=0, epochs=20, save_every=1)
    result = cli(**cli_settings(lm_dir, train_file, out, **absurd))
    assert result.exit_code == 1, result.output
    assert "stopped: step 2: the loss is nan" in " ".join(result.output.split())
    assert "no checkpoint is known good" in result.output
    assert checkpoint_steps(out) == [] and (out / "checkpoints" / "step-1.diverged").is_dir()


@pytest.fixture(scope="module")
def two_steps(lm_dir, train_file, tmp_path_factory):
    """A run stopped after its checkpoint at step 2 (of a run meant to take more)."""
    out = tmp_path_factory.mktemp("two") / "run"
    train_sft(config(lm_dir, train_file, out))
    shutil.rmtree(out / "model")
    return out


def copy_run(two_steps: Path, tmp_path: Path) -> Path:
    shutil.copytree(two_steps, tmp_path / "run")
    return tmp_path / "run"


def test_resume_refuses_changes_that_alter_the_run(two_steps, lm_dir, train_file, tmp_path):
    run = copy_run(two_steps, tmp_path)
    before = (run / "config.toml").read_text()
    changed = config(lm_dir, train_file, run, resume=True, lr=2e-3, seed=1, batch_size=3)
    with pytest.raises(ValueError, match=r"changed config: batch_size \(4 -> 3\), lr .*, seed"):
        train_sft(changed)
    assert (run / "config.toml").read_text() == before and read_changes(run) == []
    # A linear schedule's length is part of its lr at every step.
    toml = (run / "config.toml").read_text().replace('"constant"', '"linear"')
    (run / "config.toml").write_text(toml)
    longer = config(lm_dir, train_file, run, resume=True, lr_schedule="linear", max_steps=4)
    with pytest.raises(ValueError, match=r"changed config: max_steps \(2 -> 4\)\. Resume"):
        train_sft(longer)


def test_resume_with_allowed_changes_records_them_and_follows_the_new_lr(
    two_steps, lm_dir, train_file, tmp_path
):
    run = copy_run(two_steps, tmp_path)
    # Lengthening a constant-lr run changes nothing done so far: no flag needed.
    train_sft(config(lm_dir, train_file, run, resume=True, max_steps=3, log_every=2))
    [longer] = read_changes(run)
    assert longer["changed"] == {
        "max_steps": {"old": 2, "new": 3},
        "log_every": {"old": 1, "new": 2},
    }
    assert longer["from_step"] == 2 and longer["allowed_by"] == "safe"

    shutil.rmtree(run / "model")
    allowed = config(lm_dir, train_file, run, resume=True, max_steps=4, lr=5e-4)
    train_sft(replace(allowed, allow_changes=True, log_every=2))
    assert read_changes(run)[-1]["changed"] == {
        "lr": {"old": 1e-3, "new": 5e-4},
        "max_steps": {"old": 3, "new": 4},
    }
    assert read_changes(run)[-1]["allowed_by"] == "allow_changes"
    assert "lr = 0.0005" in (run / "config.toml").read_text()
    # The checkpoint's optimizer and scheduler held lr 1e-3; the resumed steps use the new one.
    lrs = {r["step"]: r["lr"] for r in read_metrics(run)}
    assert lrs[2] == 1e-3 and lrs[4] == 5e-4


def test_resume_from_the_cli_needs_allow_changes(two_steps, lm_dir, train_file, tmp_path):
    run = copy_run(two_steps, tmp_path)
    settings = cli_settings(lm_dir, train_file, run, max_steps=2, save_every=2, seed=3)
    refused = cli("--resume", **settings)
    assert refused.exit_code == 1 and "changed config: seed (0 -> 3)" in refused.output
    assert "--allow-changes" in refused.output and "Traceback" not in refused.output
    allowed = cli("--resume", "--allow-changes", **{**settings, "max_steps": 3})
    assert allowed.exit_code == 0, allowed.output
    assert read_changes(run)[-1]["changed"]["seed"] == {"old": 0, "new": 3}


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo tampered",))


@pytest.mark.parametrize(
    ("name", "damage", "cause"),
    [
        ("optimizer.bin", "pickle", "tampered with"),
        ("optimizer.bin", "truncate", "truncated"),
        ("scheduler.bin", "truncate", "truncated"),
        ("model.safetensors", "truncate", "truncated"),
        ("random_states_0.pkl", "garbage", "tampered with|truncated"),
    ],
)
def test_an_unreadable_checkpoint_file_gets_one_clear_error(
    two_steps, lm_dir, train_file, tmp_path, name, damage, cause
):
    run = copy_run(two_steps, tmp_path)
    path = run / "checkpoints" / "step-2" / name
    data = path.read_bytes()
    if damage == "pickle":
        path.write_bytes(pickle.dumps(_RunsCode()))
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(b"not a pickle" * 10)
    with pytest.raises(CheckpointError, match=cause) as error:
        train_sft(config(lm_dir, train_file, run, resume=True))
    assert str(error.value).startswith(f"{path}: unreadable checkpoint file")
    assert "weights_only" not in str(error.value)
    if name == "optimizer.bin":
        result = cli("--resume", **cli_settings(lm_dir, train_file, run, max_steps=2, save_every=2))
        assert result.exit_code == 1
        assert result.output.count("error: ") == 1 and "Traceback" not in result.output
        shown = " ".join(result.output[result.output.index("error: ") :].split())
        assert "optimizer.bin: unreadable checkpoint file" in shown
        assert "weights_only" not in result.output and "config" not in result.output.lower()
