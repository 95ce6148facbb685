"""Every stage of the ladder on a real model: seconds per step and peak RSS.

On Gemma 3 270M base (``alignlab models import-gguf --gemma --out DIR``), or any HF causal
LM directory, each stage runs as its own ``alignlab`` process, for a few steps, with LoRA,
on data the project builds (anti-sycophancy claims and pairs, refusal-topic prompts in a
phrasing the suites never use):

=================  ==========================================================
sft                LoRA SFT on claims (``--steps`` steps of ``--batch-size``)
reward             a LoRA reward model on claim pairs (same steps and batch)
dpo                LoRA DPO on the same pairs (batch 4)
ppo                LoRA PPO against that reward model (``--ppo-steps``, rollouts of 8)
cai revise         SL-CAI critiques and revisions (``--prompts`` prompts, one round)
cai label          RL-CAI labels of pairs the policy samples for the same prompts
bon                best-of-4 against the reward model on the same prompts
eval               the sycophancy suite's first ``--prompts`` samples, greedy
=================  ==========================================================

Each line: the stage's wall time, its units (steps, prompts, samples), seconds per unit,
and the process's peak resident memory (``ru_maxrss`` of the child). Stages whose output
exists are skipped, so a rerun prints only what it ran.

    python benchmarks/gemma_stages.py --model models/gemma-270m --runs runs/stages
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-m", "alignlab.cli"]
ROWS: list[tuple[str, float, int, str, float]] = []
"""``(stage, wall seconds, units, unit name, peak RSS GiB)`` of each stage run this time."""


def run(stage: str, args: list[str], done: Path, units: int, unit: str) -> None:
    """Run ``alignlab ARGS`` unless ``done`` exists; record its time and peak RSS."""
    if done.exists():
        print(f"{stage}: {done} exists, skipped", file=sys.stderr)
        return
    print(f"▸ {stage}: alignlab {' '.join(args)}", file=sys.stderr)
    started = time.perf_counter()
    child = subprocess.Popen([*CLI, *args])
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{stage} failed: alignlab {' '.join(args)}")
    ROWS.append((stage, time.perf_counter() - started, units, unit, usage.ru_maxrss / 2**20))


def sets(settings: dict, prefix: str = "") -> list[str]:
    """``--set key=value`` arguments; a nested dict becomes dotted keys."""
    out = []
    for key, value in settings.items():
        if isinstance(value, dict):
            out += sets(value, f"{prefix}{key}.")
        else:
            out += ["--set", f"{prefix}{key}={json.dumps(value)}"]
    return out


def train(kind: str, runs: Path, settings: dict, steps: int, a: argparse.Namespace) -> Path:
    out = runs / kind
    common = {"output_dir": str(out), "max_steps": steps, "lora.r": 16, "lr": 2e-4}
    common |= {"save_every": 0, "eval_every": 0, "threads": a.threads, "seed": a.seed}
    run(kind, ["train", kind, *sets({**common, **settings})], out / "model", steps, "step")
    return out / "model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="A base model directory (safetensors).")
    parser.add_argument("--runs", type=Path, default=Path("runs/stages"))
    parser.add_argument("--steps", type=int, default=4, help="Steps of SFT, reward and DPO.")
    parser.add_argument("--ppo-steps", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=8, help="Prompts of CAI, bon and eval.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    a.runs.mkdir(parents=True, exist_ok=True)
    from alignlab.data.io import write_records
    from alignlab.evals.suites.refusal import training_prompts

    claims, pairs = a.runs / "claims.jsonl", a.runs / "pairs.jsonl"
    build = ["data", "truth-claims", "--n", "64", "--seed", str(a.seed)]
    run("build claims", [*build, "--out", str(claims)], claims, 64, "claim")
    run("build pairs", [*build, "--pairs", "--out", str(pairs)], pairs, 64, "pair")
    prompts = a.runs / "prompts.jsonl"
    if not prompts.exists():
        write_records(prompts, training_prompts(range(25, 25 + a.prompts // 2)))
    common = {"model": a.model, "batch_size": a.batch_size, "max_length": 160}
    train("sft", a.runs, {**common, "train_file": str(claims)}, a.steps, a)
    rm = train("reward", a.runs, {**common, "train_file": str(pairs)}, a.steps, a)
    dpo = {**common, "train_file": str(pairs), "batch_size": 4}
    train("dpo", a.runs, dpo, a.steps, a)
    ppo = {"model": a.model, "reward": str(rm), "prompts": str(prompts), "rollout_size": 8}
    ppo |= {"eval_prompts": str(prompts), "eval_max_prompts": a.prompts}
    ppo |= {"batch_size": 4, "forward_batch_size": 8, "max_new_tokens": 32}
    train("ppo", a.runs, ppo, a.ppo_steps, a)
    model = {"model": a.model, "device": "cpu"}
    cai = {"prompts": str(prompts), "threads": a.threads, "seed": a.seed}
    revised = a.runs / "revisions.jsonl"
    revise = sets({**cai, "output": str(revised), "policy": model, "critic": model})
    run("cai revise", ["cai", "revise", *revise], revised, a.prompts, "prompt")
    labels = a.runs / "labels.jsonl"
    label = sets({**cai, "output": str(labels), "policy": model, "feedback": model})
    run("cai label", ["cai", "label", *label], labels, a.prompts, "pair")
    bon = ["bon", "--policy", a.model, "--reward", str(rm), "--prompts", str(prompts)]
    bon += ["--n", "1,2,4", "--out", str(a.runs / "bon"), "--seed", str(a.seed)]
    run("bon (n=4)", bon, a.runs / "bon" / "bon.json", a.prompts, "prompt")
    evals = ["eval", "run", "--model", a.model, "--suite", "sycophancy", "--limit"]
    evals += [str(a.prompts), "--out", str(a.runs / "eval"), "--max-new-tokens", "48"]
    evals += ["--set", f"threads={a.threads}"]
    run("eval", evals, a.runs / "eval" / "summary.json", a.prompts, "sample")

    print(f"\n{a.model}: {a.threads} threads, LoRA r=16, seed {a.seed}")
    print(f"{'stage':<14} {'wall s':>8} {'units':>6}  {'s/unit':>8}  {'peak RSS GiB':>12}")
    for stage, wall, units, unit, rss in ROWS:
        print(f"{stage:<14} {wall:8.1f} {units:>3} {unit:<6} {wall / units:7.2f}  {rss:12.2f}")


if __name__ == "__main__":
    main()
