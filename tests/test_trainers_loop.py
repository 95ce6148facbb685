import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import LlamaForCausalLM

import alignlab.trainers.sft as sft_module
from alignlab.config import to_dict, to_toml
from alignlab.models.loading import LoraSpec
from alignlab.trainers import NonFiniteLossError, SFTConfig, read_metrics, train_sft
from alignlab.trainers.loop import EpochSampler
from alignlab.trainers.rundir import MetricsLog, checkpoint_steps
from tiny_models import build_tokenizer, tiny_llama_config

TIMING = {"tokens_per_s"}


@pytest.fixture(scope="module")
def tied_lm_dir(tmp_path_factory):
    """A tiny model whose output head shares the embedding matrix, as the organism's does."""
    path = tmp_path_factory.mktemp("tied")
    tokenizer = build_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlamaForCausalLM(tiny_llama_config(len(tokenizer), tie_word_embeddings=True))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def config(lm_dir, train_file, out, **overrides) -> SFTConfig:
    settings = dict(
        model=str(lm_dir),
        train_file=str(train_file),
        output_dir=str(out),
        batch_size=4,
        lr=1e-3,
        epochs=2,
        save_every=2,
        # LoRA dropout draws from the RNG, so equal numbers need the RNG restored too.
        lora=LoraSpec(r=4, dropout=0.1),
        progress=False,
    )
    return SFTConfig(**{**settings, **overrides})


def numbers(run_dir) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in read_metrics(run_dir)]


def test_same_seed_same_numbers_other_seed_other_numbers(lm_dir, train_file, tmp_path):
    train_sft(config(lm_dir, train_file, tmp_path / "a"))
    train_sft(config(lm_dir, train_file, tmp_path / "b"))
    train_sft(config(lm_dir, train_file, tmp_path / "c", seed=1))
    assert numbers(tmp_path / "a") == numbers(tmp_path / "b")
    assert numbers(tmp_path / "a") != numbers(tmp_path / "c")
    # A LoRA run saves its adapter (peft's format), not merged weights.
    weights_a = load_file(tmp_path / "a" / "model" / "adapter_model.safetensors")
    weights_b = load_file(tmp_path / "b" / "model" / "adapter_model.safetensors")
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


@pytest.mark.parametrize("tied", [False, True])
def test_non_finite_loss_stops_and_the_run_resumes_to_the_same_numbers(
    lm_dir, tied_lm_dir, train_file, tmp_path, monkeypatch, tied
):
    # Tied weights are trained in full, so the checkpoint must restore the tie.
    lm_dir, extra = (tied_lm_dir, {"lora": None}) if tied else (lm_dir, {})
    train_sft(config(lm_dir, train_file, tmp_path / "whole", **extra))

    calls = []
    real_loss = sft_module.sft_loss

    def poisoned(logits, input_ids, response_mask):
        calls.append(1)
        loss, metrics = real_loss(logits, input_ids, response_mask)
        return (loss * float("nan") if len(calls) == 5 else loss), metrics

    monkeypatch.setattr(sft_module, "sft_loss", poisoned)
    cut = config(lm_dir, train_file, tmp_path / "cut", **extra)
    # Step 5's loss was computed on step-4's weights, so the last good checkpoint is step-2,
    # and step-4 is set aside for resuming to start from step-2.
    with pytest.raises(NonFiniteLossError, match=r"step 5: the loss is nan.*good .*step-2;"):
        train_sft(cut)
    assert checkpoint_steps(tmp_path / "cut") == [2]
    assert (tmp_path / "cut" / "checkpoints" / "step-4.diverged").is_dir()
    assert [r["step"] for r in read_metrics(tmp_path / "cut")] == [1, 2, 3, 4]
    assert not (tmp_path / "cut" / "model").exists()
    kept = load_file(tmp_path / "cut" / "checkpoints" / "step-2" / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in kept.values())

    monkeypatch.setattr(sft_module, "sft_loss", real_loss)
    train_sft(replace(cut, resume=True))
    assert numbers(tmp_path / "cut") == numbers(tmp_path / "whole")
    weights = "model.safetensors" if tied else "adapter_model.safetensors"  # LoRA: the adapter
    whole = load_file(tmp_path / "whole" / "model" / weights)
    resumed = load_file(tmp_path / "cut" / "model" / weights)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_gradient_accumulation_counts_optimizer_steps(lm_dir, train_file, tmp_path):
    # 12 demos in micro-batches of 2 make 6 micro-batches, 3 optimizer steps per epoch.
    cfg = config(lm_dir, train_file, tmp_path / "run", batch_size=2, grad_accum=2, save_every=0)
    train_sft(cfg)
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["epoch"] for r in rows][2::3] == [1.0, 2.0]


def test_max_steps_cycles_the_data_and_log_every_thins_the_log(lm_dir, train_file, tmp_path):
    cfg = config(lm_dir, train_file, tmp_path / "run", max_steps=7, log_every=3, save_every=5)
    train_sft(cfg)
    # Logged: every third step, the checkpoint step 5, and the last step.
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [3, 5, 6, 7]
    assert checkpoint_steps(tmp_path / "run") == [5]


def test_old_checkpoints_are_pruned(lm_dir, train_file, tmp_path):
    cfg = config(lm_dir, train_file, tmp_path / "run", save_every=1, keep_checkpoints=3)
    train_sft(cfg)
    assert checkpoint_steps(tmp_path / "run") == [4, 5, 6]
    assert not list((tmp_path / "run" / "checkpoints").glob(".*"))


def test_epoch_order_depends_on_seed_and_epoch_only():
    first = EpochSampler(10, seed=3)
    again = EpochSampler(10, seed=3)
    assert list(first) == list(again) and sorted(first) == list(range(10))
    first.set_epoch(1)
    assert list(first) != list(again)
    again.set_epoch(1)
    assert list(first) == list(again)


def test_truncating_metrics_drops_later_steps_and_a_torn_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "loss": 1.0 / s} for s in range(1, 6)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 6, "lo')
    log = MetricsLog(path)
    log.truncate(3)
    assert read_metrics(path) == rows[:3]
    log.append({"step": 4, "loss": 0.0})
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3, 4]


@pytest.mark.slow
def test_a_killed_run_resumes_with_every_step_logged_once(lm_dir, train_file, tmp_path):
    run = tmp_path / "run"
    cfg = config(lm_dir, train_file, run, epochs=1, max_steps=300, save_every=2, lora=None)
    config_file = tmp_path / "sft.toml"
    config_file.write_text(to_toml(to_dict(cfg)))
    script = "from alignlab.cli.train import app; app()"
    command = [sys.executable, "-c", script, "sft", "--config", str(config_file)]
    env = {**os.environ, "CI": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while (checkpoint_steps(run) or [0])[-1] < 4:
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "no second checkpoint in 120 s"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (run / "model").exists()
    killed_at = checkpoint_steps(run)[-1]
    assert killed_at < 300

    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert Path(resumed.stdout.decode().strip()) == run / "model"
    steps = [r["step"] for r in read_metrics(run)]
    assert steps == list(range(1, 301))
    assert checkpoint_steps(run)[-1] == 300


def test_train_or_reuse_returns_a_finished_model_and_resumes_a_partial_run(tmp_path):
    from dataclasses import dataclass

    from alignlab.trainers import train_or_reuse

    @dataclass
    class Config:
        output_dir: str
        resume: bool = False

    calls = []

    def train(config):
        calls.append(config)
        return Path(config.output_dir) / "model"

    fresh = tmp_path / "fresh"
    assert train_or_reuse(train, Config(str(fresh))) == fresh / "model"
    assert calls[-1].resume is False
    partial = tmp_path / "partial"
    (partial / "checkpoints").mkdir(parents=True)
    train_or_reuse(train, Config(str(partial)))
    assert calls[-1].resume is True
    done = tmp_path / "done"
    (done / "model").mkdir(parents=True)
    assert train_or_reuse(train, Config(str(done))) == done / "model"
    assert len(calls) == 2
