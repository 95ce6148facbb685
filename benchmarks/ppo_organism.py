"""PPO on the assistant world: the figures of the RLHF issue, from one command.

Builds (or reuses) the organism, trains (or reuses) SFT and a reward model, then runs
PPO four ways from the SFT policy and prints what each shows:

- ``proxy``: against the reward model with a fixed ``kl_coef`` (0.1);
- ``proxy-kl0``: the same with ``kl_coef`` 0 and more steps (over-optimization);
- ``oracle``: against the gold utility itself, ``kl_coef`` 0.1 (the upper bound);
- ``adaptive``: against the reward model with an adaptive controller (target 0.5 nats,
  ``kl_coef`` starting at 0.5).

    python benchmarks/ppo_organism.py [--organism DIR] [--runs DIR] [--steps 200]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from organism_runs import organism, reward_model, sft_policy, trained

from alignlab.trainers import PPOConfig, read_metrics, train_ppo

JUDGE = "alignlab.organisms.assistant:judge"


def smooth(rows: list[dict], key: str, window: int = 10) -> list[tuple[int, float]]:
    points = [(r["step"], r[key]) for r in rows if key in r]
    return [
        (points[i][0], float(np.mean([v for _, v in points[max(0, i - window + 1) : i + 1]])))
        for i in range(len(points))
    ]


def at_kl(rows: list[dict], kl: float, key: str = "eval/gold/mean") -> float | None:
    """The value of ``key`` at the evaluation whose measured KL is nearest to ``kl``."""
    evals = [r for r in rows if key in r and "eval/kl" in r]
    if not evals:
        return None
    return min(evals, key=lambda r: abs(r["eval/kl"] - kl))[key]


def describe(name: str, rows: list[dict]) -> None:
    gold = smooth(rows, "gold/mean")
    proxy = smooth(rows, "proxy/mean")
    peak_step, peak = max(gold, key=lambda p: p[1])
    print(f"\n[{name}] {len(rows) - 1} steps")
    print("  step   proxy  gold(rollouts)  kl     sycophantic padded malformed  eval gold")
    marks = sorted({0, *range(20, len(rows), max(1, (len(rows) - 1) // 8)), len(rows) - 1})
    by_step = {r["step"]: r for r in rows}
    for step in marks:
        r = by_step.get(step, {})
        g = dict(gold).get(step, float("nan"))
        p = dict(proxy).get(step, float("nan"))
        print(
            f"  {step:4d}  {p:6.3f}  {g:6.3f}          {r.get('kl', float('nan')):5.2f}"
            f"  {r.get('gold/sycophantic', 0):.3f}       {r.get('gold/padded', 0):.3f}"
            f"  {r.get('gold/malformed', 0):.3f}      {r.get('eval/gold/mean', float('nan')):.3f}"
        )
    print(f"  rollout gold (10-step mean) peaks at step {peak_step}: {peak:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--organism", type=Path, default=Path("organism"))
    parser.add_argument("--runs", type=Path, default=Path("runs/ppo_organism"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    org, runs = organism(args.organism), args.runs
    data = org / "data"
    common = {"threads": args.threads}
    sft = sft_policy(org, runs, **common)
    rm = reward_model(org, sft, runs, **common)
    ppo_common = {
        **common,
        "model": str(sft),
        "prompts": str(data / "prompts_train.jsonl"),
        "eval_prompts": str(data / "prompts_heldout.jsonl"),
        "gold": "gold",
        "judge": JUDGE,
        "eval_every": 20,
        "save_every": 0,
    }
    variants = {
        "proxy": {"reward": str(rm), "kl_coef": 0.1, "max_steps": args.steps},
        "proxy-kl0": {"reward": str(rm), "kl_coef": 0.0, "max_steps": int(args.steps * 1.5)},
        "oracle": {"reward": "gold", "kl_coef": 0.1, "max_steps": args.steps},
        "adaptive": {"reward": str(rm), "kl_coef": 0.5, "kl_target": 0.5, "max_steps": args.steps},
    }
    results = {}
    for name, extra in variants.items():
        out = runs / f"ppo-{name}"
        trained(train_ppo, PPOConfig, {**ppo_common, **extra, "output_dir": str(out)})
        results[name] = read_metrics(out)
        describe(name, results[name])

    print("\noracle against proxy at matched KL (held-out gold at the evaluation nearest each KL):")
    for kl in (0.1, 0.2, 0.4):
        print(
            f"  KL {kl:.1f}: proxy {at_kl(results['proxy'], kl)}  oracle {at_kl(results['oracle'], kl)}"
        )
    adaptive = [r["kl"] for r in results["adaptive"] if "kl" in r and r["step"] > args.steps // 2]
    within = np.mean([0.25 <= k <= 0.75 for k in adaptive])
    kls = [r["kl"] for r in results["adaptive"] if "kl" in r]
    rolling = np.convolve(kls, np.ones(10) / 10, mode="valid")[len(kls) - len(adaptive) - 9 :]
    rolling_within = np.mean([0.25 <= k <= 0.75 for k in rolling])
    print(
        f"\nadaptive controller, second half: mean KL {np.mean(adaptive):.2f} (target 0.5), "
        f"{within:.0%} of steps and {rolling_within:.0%} of 10-step means within 50% of it"
    )


if __name__ == "__main__":
    main()
