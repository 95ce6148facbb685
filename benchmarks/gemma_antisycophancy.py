"""Anti-sycophancy fine-tuning on a real model, and the Wei et al. filtering ablation.

On Gemma 3 270M base (``alignlab models import-gguf --gemma --out DIR``), or any HF
causal LM directory:

1. ``alignlab data truth-claims`` builds ``--claims`` arithmetic claims with user
   opinions and truth-only targets. The sycophancy suite's phrasings and operand pairs
   are held out (:mod:`alignlab.feedback.truth_claims`).
2. The filter keeps only the claims the model judges right when no opinion is given.
3. LoRA SFT runs twice, for the same number of steps on the same number of examples:
   once on the filtered claims, and once on as many claims drawn without the filter
   (the ablation).
4. The sycophancy suite runs on the base and on both adapters.

It prints each model's agreement with false and true claims, echo rate and abandon rate,
with n and Wilson 95% intervals. It then prints each stage's wall time, seconds per
step and peak RSS. Every stage is skipped when its output exists, so a rerun resumes.

    python benchmarks/gemma_antisycophancy.py --model models/gemma-270m --runs runs/antisyc
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from alignlab.data.io import read_records, write_records

CLI = [sys.executable, "-m", "alignlab.cli"]
METRICS = ("false_claim_agreement_rate", "true_claim_agreement_rate", "claim_echo_rate")
STAGES: list[tuple[str, float, int, float]] = []
"""``(stage, wall seconds, steps, peak RSS GiB)`` of each stage run this time."""


def run(stage: str, args: list[str], done: Path, steps: int = 1) -> None:
    """Run ``alignlab ARGS`` unless ``done`` exists; record its time and peak RSS."""
    if done.exists():
        print(f"{stage}: {done} exists, skipped", file=sys.stderr)
        return
    started = time.perf_counter()
    child = subprocess.Popen([*CLI, *args])
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{stage} failed: alignlab {' '.join(args)}")
    # ru_maxrss is in KiB on Linux
    STAGES.append((stage, time.perf_counter() - started, steps, usage.ru_maxrss / 2**20))


def sft(name: str, model: str, data: Path, runs: Path, steps: int, a: argparse.Namespace):
    out = runs / name
    settings = {
        "model": model, "train_file": str(data), "output_dir": str(out), "max_steps": steps,
        "batch_size": a.batch_size, "lr": a.lr, "lora.r": 16, "save_every": 0,
        "threads": a.threads, "seed": a.seed, "max_length": 160,
    }  # fmt: skip
    args = [x for k, v in settings.items() for x in ("--set", f"{k}={json.dumps(v)}")]
    run(f"sft ({name})", ["train", "sft", *args], out / "model", steps)
    return out / "model"


def evaluate(name: str, model: str, runs: Path, a: argparse.Namespace) -> dict:
    out = runs / f"eval-{name}"
    args = ["eval", "run", "--model", model, "--suite", "sycophancy", "--out", str(out)]
    args += ["--max-new-tokens", str(a.max_new_tokens), "--seed", str(a.seed)]
    args += ["--set", f"threads={a.threads}"]
    run(f"eval ({name})", args, out / "summary.json")
    summary = json.loads((out / "summary.json").read_text())
    return summary["suites"]["sycophancy"]["metrics"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="A base model directory (safetensors).")
    parser.add_argument("--runs", type=Path, default=Path("runs/antisycophancy"))
    parser.add_argument("--claims", type=int, default=400, help="Claims built before filtering.")
    parser.add_argument("--steps", type=int, default=30, help="SFT steps of each run.")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    a.runs.mkdir(parents=True, exist_ok=True)

    every, kept = a.runs / "claims-all.jsonl", a.runs / "claims-filtered.jsonl"
    build = ["data", "truth-claims", "--n", str(a.claims), "--seed", str(a.seed)]
    run("build claims", [*build, "--out", str(every)], every)
    run("filter claims", [*build, "--out", str(kept), "--filter-model", a.model], kept, a.claims)
    filtered = list(read_records(kept, "demonstration"))
    draws = list(read_records(every, "demonstration"))
    unfiltered = a.runs / "claims-unfiltered.jsonl"
    if not unfiltered.exists():  # as many claims as the filter kept, drawn without it
        write_records(unfiltered, random.Random(a.seed).sample(draws, len(filtered)))

    models = {
        "base": a.model,
        "sft filtered": str(sft("sft-filtered", a.model, kept, a.runs, a.steps, a)),
        "sft unfiltered": str(sft("sft-unfiltered", a.model, unfiltered, a.runs, a.steps, a)),
    }
    results = {name: evaluate(name.replace(" ", "-"), m, a.runs, a) for name, m in models.items()}

    print(f"\nfilter: kept {len(filtered)} of {len(draws)} claims; each SFT run: {a.steps} "
          f"steps of {a.batch_size}, LoRA r=16, lr {a.lr}, seed {a.seed}")  # fmt: skip
    print(f"{'model':<16}" + "".join(f"{m:<34}" for m in (*METRICS, "abandon_rate")))
    for name, metrics in results.items():
        cells = []
        for m in (*METRICS, "abandon_rate"):
            v = metrics[m]
            cells.append(f"{v['value']:.3f} [{v['lo']:.3f}, {v['hi']:.3f}] n={v['n']}")
        print(f"{name:<16}" + "".join(f"{c:<34}" for c in cells))
    print("\nstage                      wall s   s/step   peak RSS GiB")
    for stage, wall, steps, rss in STAGES:
        print(f"{stage:<26} {wall:7.1f}  {wall / steps:7.2f}  {rss:8.2f}")


if __name__ == "__main__":
    main()
