"""Regressional Goodhart: the noisier and more biased the labels, the worse best-of-n
over-optimizes the reward model fitted to them.

For each seed and each level ``s`` of :attr:`RegressionalConfig.levels`, an annotator
pool is drawn from the organism's :class:`AnnotatorConfig` with its noise and bias scaled
by ``s`` (:func:`scaled_annotators`), labels ``n_pairs`` comparisons, and a reward model
is fitted to them; best-of-n then optimizes each reward model over the same samples of
the starting policy. Level 0 is an almost gold-faithful pool, level 1 the organism's own.
The signature is that over-optimization grows with the level: the gold peak comes at
smaller n (and smaller ``d*`` of the best-of-n fit), gains less over the start, and gold
drops further from it by the largest n.

Best-of-n selects from two candidate pools (:attr:`RegressionalConfig.candidates`): every
sample (``all``), and the samples the world's grammar reads (``well_formed``: the judge's
``malformed`` ones are passed over, a format check before the reward model). A reward
model fitted to well-formed pairs alone is wrong about malformed text in ways no label
noise explains (extremal Goodhart); the well-formed pool isolates the errors that come
from the labels. ``summary.json`` holds each level's figures per pool, seed and split,
across seeds, and Kendall's tau between the level and each of :data:`TRENDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from alignlab.experiments.forms.base import (
    ExperimentConfig,
    across_seeds,
    annotator_pool,
    curve,
    curve_figures,
    fit_reward,
    labelled_pairs,
    prepare,
    run_bon,
    splits,
    sweep_config,
    write_summary,
)
from alignlab.experiments.sweep.best_of_n import RUN
from alignlab.stats.agreement import kendall_tau_b
from alignlab.trainers.config import with_defaults

TRENDS = ("drop", "peak_n", "peak_gain", "fit_d_star")
"""Figures whose trend with the level ``summary.json`` reports as Kendall's tau."""
TEMPERATURE_FLOOR = 0.05
"""The lowest Bradley-Terry temperature a scaled pool gets, the lowest the organism's
:func:`~alignlab.organisms.assistant.annotators.annotator_pool` draws anyway."""


@dataclass
@with_defaults(output_dir="runs/goodhart/regressional")
class RegressionalConfig(ExperimentConfig):
    """Reward models fitted to annotator pools of increasing noise and bias."""

    levels: list[float] = field(default_factory=lambda: [0.0, 0.5, 1.0, 2.0])
    """Scales of the organism pool's noise and bias (see :func:`scaled_annotators`)."""
    candidates: dict[str, list[str]] = field(
        default_factory=lambda: {"all": [], "well_formed": ["malformed"]}
    )
    """Candidate pools best-of-n selects from, by name: the judge categories each passes over."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.levels or min(self.levels) < 0:
            raise ValueError(f"levels: must be >= 0, got {self.levels}")


def scaled_annotators(annotators, level: float):
    """The :class:`AnnotatorConfig` with length and agreement biases, harm miss rate and
    their spreads multiplied by ``level``, and the Bradley-Terry temperature (label noise)
    too, floored at :data:`TEMPERATURE_FLOOR`; the miss rate is capped at 1."""
    a = annotators
    return replace(
        a,
        length_bias=a.length_bias * level,
        length_bias_spread=a.length_bias_spread * level,
        agreement_bias=a.agreement_bias * level,
        agreement_bias_spread=a.agreement_bias_spread * level,
        harm_miss_rate=min(1.0, a.harm_miss_rate * level),
        harm_miss_rate_spread=a.harm_miss_rate_spread * level,
        temperature=max(TEMPERATURE_FLOOR, a.temperature * level),
        temperature_spread=a.temperature_spread * level,
    )


def run_regressional(config: RegressionalConfig) -> Path:
    """Run every (seed, level) still missing; write and return ``summary.json``."""
    setup = prepare(config)
    rows = []
    for seed in config.seed_list:
        for level in config.levels:
            out = Path(config.output_dir) / f"seed-{seed}" / f"level-{level:g}"
            out.mkdir(parents=True, exist_ok=True)
            pool = annotator_pool(scaled_annotators(setup.world.annotators, level), seed)
            pairs = labelled_pairs(setup.world, pool, config.n_pairs, seed, out / "pairs.jsonl")
            reward = fit_reward(config, setup, pairs, seed)
            for pool_name, exclude in config.candidates.items():
                sweep = sweep_config(
                    config, setup, str(reward), out / f"sweep-{pool_name}", seed, exclude=exclude
                )
                body = run_bon(sweep)
                for split in splits(body):
                    figures = curve_figures(curve(body, RUN, split))
                    row = {"level": level, "candidates": pool_name, "split": split, "seed": seed}
                    rows.append({**row, **figures})
    taus: dict[str, dict[str, float]] = {}
    for key in dict.fromkeys((r["candidates"], r["split"]) for r in rows):
        found = [r for r in rows if (r["candidates"], r["split"]) == key]
        taus["/".join(key)] = {
            name: kendall_tau_b(
                [r["level"] for r in found if r[name] is not None],
                [r[name] for r in found if r[name] is not None],
            )
            for name in TRENDS
        }
    summary = {
        "rows": rows,
        "across_seeds": across_seeds(rows, ("level", "candidates", "split")),
        "kendall_tau_with_level": taus,
    }
    return write_summary(config, summary)
