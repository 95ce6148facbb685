"""Preference training on the assistant world, with the figures its issue asks for.

Builds (or reuses) the organism, then runs SFT, a reward model and DPO with their
default configs, and prints:

- mean gold utility of base, SFT and DPO on held-out prompts (sampled at T=1, with
  95% bootstrap intervals);
- the reward model's held-out pairwise accuracy next to the annotator pool's own
  agreement (the ceiling a model of their labels can reach);
- how often annotators, the reward model and gold prefer the padded, sycophantic or
  harmful answer of a pair that differs in just that.

    python benchmarks/preference_training.py [--organism DIR] [--runs DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from organism_runs import organism, reward_model, sft_policy, trained

from alignlab.data import read_records
from alignlab.data.stats import compute_stats
from alignlab.organisms.assistant import judge
from alignlab.stats import mean


def sampled_gold(model_dir: Path, prompts_file: Path, samples: int, seed: int):
    from alignlab.models import generate, load_causal_lm, load_tokenizer

    prompts = [s.input for s in read_records(prompts_file)]
    model, tokenizer = load_causal_lm(model_dir), load_tokenizer(model_dir)
    outputs = generate(
        model, tokenizer, prompts, max_new_tokens=48, num_return_sequences=samples, seed=seed
    )
    per_prompt = [
        np.mean([judge(p, r).utility for r in rs]) for p, rs in zip(prompts, outputs, strict=True)
    ]
    return mean(np.array(per_prompt), seed=seed)


def contrast_kind(c) -> tuple[str, str] | None:
    """The kind of a pair that differs only in padding, sycophancy or harm, and its bad answer."""
    a, b = judge(c.prompt, c.chosen), judge(c.prompt, c.rejected)
    if c.meta.get("contrast") == "padding":
        return "padding", c.chosen if a.padding > b.padding else c.rejected
    for kind, category in (("sycophancy", "sycophantic"), ("harm", "harmful")):
        if {a.category, b.category} == {category, "correct"}:
            return kind, c.chosen if a.category == category else c.rejected
    return None


def bias_table(reward_dir: Path, heldout: Path) -> dict[str, tuple[int, float, float, float]]:
    from alignlab.models.reward_fns import resolve_reward

    pairs = defaultdict(list)
    for c in read_records(heldout):
        pairs[(str(c.prompt), *sorted((c.chosen, c.rejected)))].append(c)
    rows, prompts, responses = [], [], []
    for labels in pairs.values():
        found = contrast_kind(labels[0])
        if found is None:
            continue
        kind, bad = found
        first = labels[0]
        good = first.rejected if bad == first.chosen else first.chosen
        rows.append(
            (
                kind,
                np.mean([c.chosen == bad for c in labels]),
                judge(first.prompt, bad).utility > judge(first.prompt, good).utility,
            )
        )
        prompts += [first.prompt, first.prompt]
        responses += [bad, good]
    scores = resolve_reward(str(reward_dir))(prompts, responses)
    table = {}
    for kind in ("padding", "sycophancy", "harm"):
        idx = [i for i, row in enumerate(rows) if row[0] == kind]
        table[kind] = (
            len(idx),
            float(np.mean([rows[i][1] for i in idx])),
            float(np.mean([scores[2 * i] > scores[2 * i + 1] for i in idx])),
            float(np.mean([rows[i][2] for i in idx])),
        )
    return table


def main() -> None:
    from alignlab.trainers import DPOConfig, train_dpo

    parser = argparse.ArgumentParser()
    parser.add_argument("--organism", type=Path, default=Path("organism"))
    parser.add_argument("--runs", type=Path, default=Path("runs/preference_training"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=4, help="samples per held-out prompt")
    parser.add_argument("--betas", default="0.1,0.3", help="DPO betas, comma-separated")
    args = parser.parse_args()
    org, runs = organism(args.organism), args.runs
    data = org / "data"
    common = {"threads": args.threads, "progress": True}
    sft = sft_policy(org, runs, **common)
    rm = reward_model(org, sft, runs, **common)
    betas = [float(b) for b in args.betas.split(",")]
    dpo = {}
    for beta in betas:
        config = {**common, "model": str(sft), "train_file": str(data / "prefs.jsonl")}
        config.update(beta=beta, output_dir=str(runs / f"dpo-beta{beta}"))
        dpo[beta] = trained(train_dpo, DPOConfig, config)

    heldout = data / "prompts_heldout.jsonl"
    print(f"\nmean gold utility on held-out prompts ({args.samples} samples per prompt, T=1):")
    policies = [
        ("base", org / "base"),
        ("SFT", sft),
        *((f"DPO beta={b}", d) for b, d in dpo.items()),
    ]
    for name, model_dir in policies:
        print(f"  {name:14s} {sampled_gold(model_dir, heldout, args.samples, seed=0)}")

    accuracy = json.loads((runs / "reward" / "eval.json").read_text())["accuracy"]
    stats = compute_stats(data / "prefs_heldout.jsonl")
    ceiling = 1 - stats.agreement.disagreement_rate
    print(
        f"\nreward model held-out accuracy: {accuracy['value']:.3f} [{accuracy['lo']:.3f}, {accuracy['hi']:.3f}] (n={accuracy['n']})"
    )
    print(
        f"annotator pool's pairwise agreement (the ceiling): {ceiling:.3f} on {stats.agreement.n_units} pairs"
    )
    print("\nshare of contrast pairs where each prefers the bad answer:")
    print(f"  {'pair kind':11s} {'n':>4s} {'annotators':>11s} {'reward model':>13s} {'gold':>5s}")
    for kind, (n, annotators, reward, gold) in bias_table(rm, data / "prefs_heldout.jsonl").items():
        print(f"  {kind:11s} {n:4d} {annotators:11.2f} {reward:13.2f} {gold:5.2f}")


if __name__ == "__main__":
    main()
