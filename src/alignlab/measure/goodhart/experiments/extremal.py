"""Extremal Goodhart: a reward model fitted only where responses are short, optimized where
long ones are reachable.

For each seed the organism's own annotator pool labels ``n_pairs`` comparisons. Two reward
models are fitted: ``short`` on the pairs whose responses both have at most ``max_words``
words, and ``all`` (the control) on every pair. Best-of-n optimizes each over the same
samples of the starting policy, which reaches far longer responses. A selected response
is *out of distribution* (OOD) when it is longer than every response the ``short`` model
was fitted on; the figure is gold against the fraction of OOD responses among those
best-of-n selects, n by n, next to the control's on the same samples.

``summary.json`` holds, per seed, split and condition, the curve's figures and, per n,
gold and the OOD fraction among the selected (mean over prompts with its interval), and
Kendall's tau between the two along the curve. Where the collapse happens is told apart
too: per n, the mean gold of the selected responses that are OOD (``gold_ood``) and of
those that are not (``gold_in``), each weighted by how often best-of-n selects them and
pooled over prompts (no interval: a prompt may have no selection in one region), and per
row how far each fell from n = 1 to the largest n (``ood_gold_drop``, ``in_gold_drop``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alignlab.measure.agreement import kendall_tau_b
from alignlab.measure.goodhart.best_of_n import RUN, SampleSource, selection_weights
from alignlab.measure.goodhart.experiments.base import (
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
from alignlab.measure.goodhart.sweep import scorers_for
from alignlab.measure.intervals import mean


@dataclass
class ExtremalConfig(ExperimentConfig):
    """A reward model fitted on short responses only, against one fitted on all."""

    output_dir: str = "runs/goodhart/extremal"
    """Where the experiment writes its runs and summary.json."""
    max_words: int = 12
    """The ``short`` model sees only pairs whose responses both have at most this many words."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_words < 1:
            raise ValueError(f"max_words: must be >= 1, got {self.max_words}")


def words(text: str) -> int:
    return len(text.split())


def fitted_length(pairs_file: Path) -> int:
    """The longest response, in words, among a comparisons file's."""
    from alignlab.data.io import read_records

    pairs = read_records(pairs_file, "comparison")
    return max(max(words(c.chosen), words(c.rejected)) for c in pairs)


def gold_by_region(weights, ood, gold) -> tuple[float | None, float | None]:
    """Mean gold of the selected responses that are OOD and of those that are not, each
    weighted by its selection probability and pooled over prompts; None for a region
    best-of-n never selects from. All arguments are ``[prompts, samples]`` arrays."""
    out = []
    for region in (ood, ~ood):
        mass = float((weights * region).sum())
        out.append(float((weights * region * gold).sum()) / mass if mass > 0 else None)
    return out[0], out[1]


def ood_curve(sweep, split: str, longest: int) -> list[dict]:
    """Per n of the sweep: gold and the fraction of selected responses longer than
    ``longest`` words, from the sweep's own scored samples."""
    _, columns = SampleSource(sweep, scorers_for(sweep)).columns(split)
    ood = columns["length"] > longest
    out = []
    for n in sorted(set(sweep.best_of_n.ns)):
        weights = selection_weights(columns["proxy"], n)
        gold_ood, gold_in = gold_by_region(weights, ood, columns["gold"])
        out.append(
            {
                "n": n,
                "ood": mean((weights * ood).sum(axis=1), seed=sweep.seed).to_dict(),
                "gold": mean((weights * columns["gold"]).sum(axis=1), seed=sweep.seed).to_dict(),
                "gold_ood": gold_ood,
                "gold_in": gold_in,
            }
        )
    return out


def _drop(found: list[dict], name: str) -> float | None:
    first, last = found[0][name], found[-1][name]
    return None if first is None or last is None else first - last


def run_extremal(config: ExtremalConfig) -> Path:
    """Run every seed still missing; write and return ``summary.json``."""
    setup = prepare(config)
    rows, curves = [], []
    for seed in config.seed_list:
        root = Path(config.output_dir) / f"seed-{seed}"
        root.mkdir(parents=True, exist_ok=True)
        pool = annotator_pool(setup.world.annotators, seed)
        every = labelled_pairs(setup.world, pool, config.n_pairs, seed, root / "pairs.jsonl")

        def short(c) -> bool:
            return max(words(c.chosen), words(c.rejected)) <= config.max_words

        only_short = labelled_pairs(
            setup.world, pool, config.n_pairs, seed, root / "short" / "pairs.jsonl", keep=short
        )
        longest = fitted_length(only_short)
        for condition, pairs in (("short", only_short), ("all", every)):
            reward = fit_reward(config, setup, pairs, seed)
            sweep = sweep_config(config, setup, str(reward), root / condition / "sweep", seed)
            body = run_bon(sweep)
            for split in splits(body):
                found = ood_curve(sweep, split, longest)
                taus = kendall_tau_b(
                    [p["ood"]["value"] for p in found], [p["gold"]["value"] for p in found]
                )
                figures = curve_figures(curve(body, RUN, split))
                row = {"condition": condition, "split": split, "seed": seed, **figures}
                row.update(
                    ood_start=found[0]["ood"]["value"],
                    ood_last=found[-1]["ood"]["value"],
                    tau_ood_gold=taus,
                    ood_gold_drop=_drop(found, "gold_ood"),
                    in_gold_drop=_drop(found, "gold_in"),
                )
                rows.append(row)
                curves.append({**row, "fitted_words": longest, "points": found})
    summary = {"rows": rows, "across_seeds": across_seeds(rows, ("condition", "split"))}
    return write_summary(config, {**summary, "curves": curves})
