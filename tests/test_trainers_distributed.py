"""Two processes under torchrun take the same step as one batch and as accumulation.

The loop normalizes each step's loss over the global batch's units (response tokens for
SFT, comparisons for DPO), so 2 processes x 4 examples, 1 x 8 and 4 accumulated x 2 see
the same 8 examples and must agree to float tolerance. The responses differ in length, so
the micro-batches hold different numbers of tokens and a mean per micro-batch would not.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from alignlab.data.io import write_records
from alignlab.data.records import Demonstration
from alignlab.trainers import SFTConfig, read_metrics
from alignlab.trainers.processes import launcher_mismatch, make_accelerator
from tiny_models import write_tiny_causal_lm

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "warm",
    "mat",
    "while",
    "rain",
    "fell",
    "over",
    "quiet",
    "hills",
    "and",
    "the",
    "river",
    "ran",
]
DEMOS = [Demonstration(f"say {i}", " ".join(WORDS[: 1 + (5 * i) % len(WORDS)])) for i in range(16)]
STEPS = 2


CONFIGS = Path(__file__).parent.parent / "configs" / "accelerate"


def torchrun(processes: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
    ]


def accelerate_launch(config: str) -> list[str]:
    """``accelerate launch`` with one of the shipped configs, at 2 CPU processes in float32."""
    return [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIGS / config),
        "--num_processes", "2", "--mixed_precision", "no",
    ]  # fmt: skip


def train(lm_dir, data, out, launcher: list[str], batch_size: int, grad_accum: int = 1):
    settings = {
        "model": str(lm_dir),
        "train_file": str(data),
        "output_dir": str(out),
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "max_steps": STEPS,
        "lr": 1e-2,
        "save_every": 0,
        "progress": False,
        "threads": 1,
    }
    args = [a for k, v in settings.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    command = [*launcher, "-m", "alignlab.cli", "train", "sft", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    weights = load_file(out / "model" / "model.safetensors")
    return [row["loss"] for row in read_metrics(out)], weights, done.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    lm_dir = write_tiny_causal_lm(root / "lm")
    data = root / "sft.jsonl"
    write_records(data, DEMOS)
    shapes = {
        "1 x 8": (torchrun(1), 8, 1),
        "2 x 4": (torchrun(2), 4, 1),
        "4 x 2 accumulated": (torchrun(1), 2, 4),
        "2 x 4, ddp.yaml": (accelerate_launch("ddp.yaml"), 4, 1),
        "2 x 4, fsdp.yaml on CPUs": (accelerate_launch("fsdp.yaml"), 4, 1),
    }
    return {
        name: train(lm_dir, data, root / f"run{i}", launcher, b, g)
        for i, (name, (launcher, b, g)) in enumerate(shapes.items())
    }


def largest_difference(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_two_processes_one_batch_and_accumulation_take_the_same_steps(runs):
    losses, weights, _ = runs["1 x 8"]
    assert len(losses) == STEPS and losses[1] < losses[0]
    for shape in list(runs)[1:]:
        other_losses, other_weights, _ = runs[shape]
        print(shape, "losses", other_losses, "vs", losses)
        print(shape, "largest weight difference", largest_difference(weights, other_weights))
        assert other_losses == pytest.approx(losses, rel=1e-5), shape
        assert largest_difference(weights, other_weights) < 1e-5, shape


def test_each_launch_runs_the_processes_and_sharding_it_names(runs):
    layouts = {name: stderr for name, (_, _, stderr) in runs.items()}
    assert "processes" not in layouts["1 x 8"]
    assert "sft: 2 processes (MULTI_CPU), global batch 8" in layouts["2 x 4"]
    assert "sft: 2 processes (MULTI_CPU), global batch 8" in layouts["2 x 4, ddp.yaml"]
    # accelerate shards with FSDP on accelerators only: on CPUs the run is data parallel, and
    # says so rather than pretending to shard
    fsdp = layouts["2 x 4, fsdp.yaml on CPUs"]
    assert "asked for FSDP but accelerate runs MULTI_CPU (no sharding)" in fsdp
    assert all(stderr.count("done: sft model") == 1 for stderr in layouts.values())


def test_the_micro_batches_hold_different_numbers_of_tokens():
    lengths = [len(d.response.split()) for d in DEMOS]
    assert len(set(lengths)) > 4  # so a mean per micro-batch would weigh tokens unequally


@pytest.mark.parametrize(
    ("env", "formed", "says"),
    [
        ({}, 1, None),
        ({"WORLD_SIZE": "2"}, 2, None),
        ({"WORLD_SIZE": "2", "ACCELERATE_USE_FSDP": "true"}, 2, "asked for FSDP but"),
        ({"WORLD_SIZE": "2"}, 1, "asked for 2 processes (WORLD_SIZE) but 1 formed"),
        ({"MASTER_ADDR": "127.0.0.1", "ACCELERATE_USE_CPU": "True"}, 1, "started one"),
    ],
)
def test_a_launcher_asking_for_more_processes_than_formed_is_named(env, formed, says):
    found = launcher_mismatch(formed, "MULTI_CPU" if formed > 1 else "NO", env)
    assert found == says or (says is not None and says in found)


def test_accelerate_launch_cpu_running_one_process_warns(monkeypatch, tmp_path):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    with pytest.warns(UserWarning, match="set MASTER_ADDR for several processes but started one"):
        make_accelerator(SFTConfig(model="m", train_file="f", output_dir=str(tmp_path)))


@pytest.mark.skipif(
    torch.cuda.device_count() < 2, reason="FSDP shards only on accelerators: needs 2 GPUs"
)
def test_fsdp_config_shards_on_gpus(tmp_path):
    lm_dir = write_tiny_causal_lm(tmp_path / "lm")
    data = tmp_path / "sft.jsonl"
    write_records(data, DEMOS)
    one = train(lm_dir, data, tmp_path / "one", torchrun(1), 8)
    fsdp = train(lm_dir, data, tmp_path / "fsdp", accelerate_launch("fsdp.yaml"), 4)
    assert "sft: 2 processes (FSDP), global batch 8" in fsdp[2]
    assert fsdp[0] == pytest.approx(one[0], rel=1e-4)
