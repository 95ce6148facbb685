"""DPO training throughput on this machine, in tokens per second.

Builds a fixed tiny model locally (the assistant organism's tokenizer and base-model
shape, random weights: nothing is downloaded), writes a fixed set of comparisons, and
runs :func:`alignlab.trainers.train_dpo` for a fixed number of steps at a fixed batch.
Prints the median tokens/s over the steps after warm-up (every token of the chosen and
rejected sequences counts, padding excluded) and the run's wall time.

    python benchmarks/train_throughput.py [--steps 30] [--batch-size 8] [--threads 1]

One thread is the default: a model this small gains nothing from more, and on a busy
machine more threads than free cores make every step many times slower.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from alignlab.data.io import write_records
from alignlab.organisms.assistant.config import ModelConfig
from alignlab.organisms.assistant.language import build_tokenizer
from alignlab.organisms.assistant.pretrain import model_config
from alignlab.trainers import DPOConfig, read_metrics, train_dpo

WARMUP_STEPS = 3


def write_model(path: Path) -> int:
    """Write the organism-shaped base model with random weights (seed 0) and its tokenizer;
    return its parameter count."""
    from transformers import LlamaForCausalLM

    tokenizer = build_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlamaForCausalLM(model_config(tokenizer, ModelConfig()))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return sum(p.numel() for p in model.parameters())


def comparisons(n: int) -> list[dict]:
    """Arithmetic questions: the right sum, against a wrong one padded with filler."""
    rows = []
    for i in range(n):
        a, b = i % 10, (i // 10) % 10
        rows.append(
            {
                "prompt": f"what is {a} + {b} ?",
                "chosen": f"{a} + {b} = {a + b} .",
                "rejected": f"{a} + {b} = {a + b + 1} . i hope this helps .",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads; 0: torch's")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        parameters = write_model(root / "model")
        write_records(root / "prefs.jsonl", comparisons(args.batch_size * args.steps))
        config = DPOConfig(
            model=str(root / "model"),
            train_file=str(root / "prefs.jsonl"),
            output_dir=str(root / "run"),
            batch_size=args.batch_size,
            max_steps=args.steps,
            save_every=0,
            cpu=not torch.cuda.is_available(),
            progress=False,
        )
        started = time.perf_counter()
        train_dpo(config)
        seconds = time.perf_counter() - started
        rates = [row["tokens_per_s"] for row in read_metrics(root / "run")][WARMUP_STEPS:]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"model: {parameters:,} parameters; batch {args.batch_size} pairs; {args.steps} steps")
    print(f"device: {device}; torch threads: {torch.get_num_threads()}")
    print(f"DPO training: {statistics.median(rates):,.0f} tokens/s (median after warm-up)")
    print(f"wall time: {seconds:.1f} s (including reference log-probs and saving)")


if __name__ == "__main__":
    main()
