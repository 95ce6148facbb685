"""Early warning: does a signal visible without gold flag over-optimization before gold
falls?

For each seed the organism's annotator pool labels ``n_pairs`` comparisons and a reward
ensemble of ``members`` bootstrap members is fitted to them; best-of-n optimizes its first
member (or, with ``proxy = "mean"``, the members' mean, whose selection favours responses
the members agree on and so suppresses the disagreement signal). A held-out reward model
is fitted to labels of a second, independently drawn pool on fresh pairs. Along the
best-of-n grid the sweep tracks the ensemble's disagreement, the gap between the proxy's
and the held-out model's gains and whether the held-out model still follows the proxy,
and the rule of :mod:`alignlab.goodhart.warning` decides when to warn
(thresholds in ``sweep.warning``). ``summary.json`` holds,
per seed and split, where the warning fired and where gold truly peaked (in grid points
and in n), and across seeds the distribution of the lead and how many warnings were
timely, with the gold already lost from the peak when the warning fired (``gold_lost``,
``lost_fraction``: see :mod:`~alignlab.goodhart.warning`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alignlab.experiments.forms.base import (
    ExperimentConfig,
    annotator_pool,
    curve,
    fit_reward,
    labelled_pairs,
    prepare,
    run_bon,
    splits,
    sweep_config,
    write_summary,
)
from alignlab.experiments.sweep.best_of_n import RUN
from alignlab.trainers.config import with_defaults


@dataclass
@with_defaults(output_dir="runs/goodhart/early_warning")
class EarlyWarningConfig(ExperimentConfig):
    """A reward ensemble's member (or mean) optimized by best-of-n, watched by the members'
    disagreement and a held-out reward model."""

    members: int = 3
    """Bootstrap members of the reward ensemble."""
    proxy: Literal["member", "mean"] = "member"
    """What best-of-n optimizes: the ensemble's first member, or the members' mean."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.members < 2:
            raise ValueError(f"members: an ensemble needs at least 2, got {self.members}")


def _warning_row(entry: dict, seed: int) -> dict:
    found = entry["warning"]
    ns = [p["settings"]["n"] for p in entry["points"]]
    fired = found["fired"]
    return {
        "split": entry["split"],
        "seed": seed,
        "fired_n": None if fired is None else ns[fired],
        "peak_n": ns[found["peak"]],
        "lead_points": found["lead"],
        "late_fraction": found["late_fraction"],
        "timely": found["timely"],
        "gold_lost": found["gold_lost"],
        "lost_fraction": found["lost_fraction"],
        "alarms": {name: None if i is None else ns[i] for name, i in found["alarms"].items()},
    }


def run_early_warning(config: EarlyWarningConfig) -> Path:
    """Run every seed still missing; write and return ``summary.json``."""
    setup = prepare(config)
    rows = []
    for seed in config.seed_list:
        root = Path(config.output_dir) / f"seed-{seed}"
        root.mkdir(parents=True, exist_ok=True)
        pool = annotator_pool(setup.world.annotators, seed)
        pairs = labelled_pairs(setup.world, pool, config.n_pairs, seed, root / "pairs.jsonl")
        ensemble = fit_reward(config, setup, pairs, seed, ensemble=config.members)
        other = annotator_pool(setup.world.annotators, 10_000 + seed)
        heldout_pairs = labelled_pairs(
            setup.world, other, config.n_pairs, 10_000 + seed, root / "heldout" / "pairs.jsonl"
        )
        heldout = fit_reward(config, setup, heldout_pairs, seed)
        proxy = ensemble / "member_0" if config.proxy == "member" else ensemble
        sweep = sweep_config(
            config,
            setup,
            str(proxy),
            root / "sweep",
            seed,
            ensemble=str(ensemble),
            heldout_reward=str(heldout),
        )
        body = run_bon(sweep)
        rows += [_warning_row(curve(body, RUN, split), seed) for split in splits(body)]
    by_split = {}
    for split in dict.fromkeys(r["split"] for r in rows):
        found = [r for r in rows if r["split"] == split]
        by_split[split] = {
            "seeds": len(found),
            "timely": sum(r["timely"] for r in found),
            "lead_points": [r["lead_points"] for r in found],
            "late_fraction": [r["late_fraction"] for r in found],
            "gold_lost": [r["gold_lost"] for r in found],
            "lost_fraction": [r["lost_fraction"] for r in found],
            "fired_n": [r["fired_n"] for r in found],
            "peak_n": [r["peak_n"] for r in found],
        }
    return write_summary(config, {"rows": rows, "by_split": by_split})
