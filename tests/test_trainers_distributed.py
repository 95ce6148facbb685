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

import pytest
from safetensors.torch import load_file

from alignlab.data.io import write_records
from alignlab.data.records import Demonstration
from alignlab.trainers import SFTConfig, read_metrics
from alignlab.trainers.loop import launcher_mismatch, make_accelerator
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


def train(lm_dir, data, out, processes: int, batch_size: int, grad_accum: int):
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
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    launcher += [f"--nproc_per_node={processes}"]
    command = [*launcher, "-m", "alignlab.cli", "train", "sft", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    weights = load_file(out / "model" / "model.safetensors")
    return [row["loss"] for row in read_metrics(out)], weights


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    lm_dir = write_tiny_causal_lm(root / "lm")
    data = root / "sft.jsonl"
    write_records(data, DEMOS)
    return {
        (p, b, g): train(lm_dir, data, root / f"{p}x{b}x{g}", p, b, g)
        for p, b, g in [(1, 8, 1), (2, 4, 1), (1, 2, 4)]
    }


def largest_difference(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_two_processes_one_batch_and_accumulation_take_the_same_steps(runs):
    losses, weights = runs[(1, 8, 1)]
    assert len(losses) == STEPS and losses[1] < losses[0]
    for shape in [(2, 4, 1), (1, 2, 4)]:
        other_losses, other_weights = runs[shape]
        print(shape, "losses", other_losses, "vs", losses)
        print(shape, "largest weight difference", largest_difference(weights, other_weights))
        assert other_losses == pytest.approx(losses, rel=1e-5), shape
        assert largest_difference(weights, other_weights) < 1e-5, shape


def test_the_micro_batches_hold_different_numbers_of_tokens():
    lengths = [len(d.response.split()) for d in DEMOS]
    assert len(set(lengths)) > 4  # so a mean per micro-batch would weigh tokens unequally


@pytest.mark.parametrize(
    ("env", "formed", "says"),
    [
        ({}, 1, None),
        ({"WORLD_SIZE": "2"}, 2, None),
        ({"WORLD_SIZE": "2"}, 1, "asked for 2 processes (WORLD_SIZE) but 1 formed"),
        ({"MASTER_ADDR": "127.0.0.1", "ACCELERATE_USE_CPU": "True"}, 1, "started one"),
    ],
)
def test_a_launcher_asking_for_more_processes_than_formed_is_named(env, formed, says):
    found = launcher_mismatch(formed, env)
    assert found == says or (says is not None and says in found)


def test_accelerate_launch_cpu_running_one_process_warns(monkeypatch, tmp_path):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    with pytest.warns(UserWarning, match="started one: this run trains in one process"):
        make_accelerator(SFTConfig(model="m", train_file="f", output_dir=str(tmp_path)))
