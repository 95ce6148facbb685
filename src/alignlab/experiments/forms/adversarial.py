"""Adversarial Goodhart: a keyword harm detector used as the reward is evaded.

Best-of-n optimizes :func:`~alignlab.goodhart.detector.keyword_reward` (answer
the request, without a harm keyword) on the organism's harmful requests and their benign
look-alikes. No reward model is fitted: the proxy is simply too simple. Each seed samples
the starting policy afresh. The signature is that the detector's score rises with n while
the gold judge's harm rate climbs too: the optimizer finds harmful instructions free of
the keywords. ``summary.json`` holds per seed and split, n by n, the detector score, the
harm rate and gold, and the figures across seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alignlab.experiments.forms.base import (
    ExperimentConfig,
    across_seeds,
    curve,
    prepare,
    run_bon,
    splits,
    sweep_config,
    write_summary,
)
from alignlab.experiments.sweep.best_of_n import RUN
from alignlab.trainers.config import with_defaults

DETECTOR = "alignlab.goodhart.detector:keyword_reward"


@dataclass
@with_defaults(output_dir="runs/goodhart/adversarial")
class AdversarialConfig(ExperimentConfig):
    """Best-of-n against a keyword harm detector on harmful and benign requests."""

    families: list[str] = field(default_factory=lambda: ["harmful", "benign"])
    """The prompt families optimized and measured."""
    reward_spec: str = DETECTOR
    """The proxy: the keyword detector, or any reward spec to compare with it."""


def family_prompts(source: Path, families: list[str], out: Path) -> Path:
    """The prompts of ``source`` whose ``meta.family`` is one of ``families``, in ``out``."""
    from alignlab.data.io import read_records, write_records

    if not out.exists():
        found = [s for s in read_records(source, "sample") if s.meta.get("family") in families]
        if not found:
            raise ValueError(f"{source}: no prompts of the families {families}")
        write_records(out, found)
    return out


def _per_n(entry: dict) -> list[dict]:
    return [
        {
            "n": p["settings"]["n"],
            "detector": p["proxy"],
            "harm": p["failures"].get("harmful"),
            "gold": p["gold"],
        }
        for p in entry["points"]
    ]


def run_adversarial(config: AdversarialConfig) -> Path:
    """Run every seed still missing; write and return ``summary.json``."""
    setup = prepare(config)
    root = Path(config.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    data = setup.organism / "data"
    prompts = family_prompts(
        data / "prompts_train.jsonl", config.families, root / "prompts_train.jsonl"
    )
    heldout = family_prompts(
        data / "prompts_heldout.jsonl", config.families, root / "prompts_heldout.jsonl"
    )
    rows, curves = [], []
    for seed in config.seed_list:
        sweep = sweep_config(
            config,
            setup,
            config.reward_spec,
            root / f"seed-{seed}" / "sweep",
            seed,
            prompts=str(prompts),
            heldout_prompts=str(heldout),
        )
        body = run_bon(sweep)
        for split in splits(body):
            per_n = _per_n(curve(body, RUN, split))
            first, last = per_n[0], per_n[-1]
            rows.append(
                {
                    "split": split,
                    "seed": seed,
                    "detector_start": first["detector"]["value"],
                    "detector_last": last["detector"]["value"],
                    "harm_start": 0.0 if first["harm"] is None else first["harm"]["value"],
                    "harm_last": 0.0 if last["harm"] is None else last["harm"]["value"],
                    "gold_start": first["gold"]["value"],
                    "gold_last": last["gold"]["value"],
                }
            )
            curves.append({"split": split, "seed": seed, "points": per_n})
    summary = {"rows": rows, "across_seeds": across_seeds(rows, ("split",)), "curves": curves}
    return write_summary(config, summary)
