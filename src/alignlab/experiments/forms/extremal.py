"""Extremal Goodhart: a reward model fitted only on each prompt family's shorter responses,
optimized where longer ones are reachable.

For each seed an annotator pool labels ``n_pairs`` comparisons: the organism's own, its
noise and bias scaled by ``level`` as in the regressional experiment (at 0 it labels
nearly by gold, so the pool's liking for length teaches no model to prefer long answers,
and what sets the restricted model apart is the lengths it never saw). Labels near gold
do not make a small reward model right where it was fitted, though: on the organism
best-of-256 finds every model's in-range errors (answers to another question, wrong
sums), and ``failures_in`` shows them. Three reward models are fitted to the pairs:

- ``restricted``: per prompt family, only the pairs whose responses both have at most the
  ``quantile`` of that family's response lengths (over every pair's chosen and rejected
  response, in words). Every family keeps pairs, and each has its own fitted range: the
  longest response among its kept pairs.
- ``matched``: per family, as many pairs as ``restricted`` keeps, drawn at random from all
  of them, so it differs from ``restricted`` in the lengths it saw and not in how much
  data it had per family.
- ``all`` (the control): every pair.

Best-of-n optimizes each over the same samples of the starting policy. A sample is *out of
distribution* (OOD) when it is longer than every response of its prompt's family that
``restricted`` was fitted on (every sample of a family it kept no pair of). The figure is
gold against the fraction of OOD responses among those best-of-n selects, n by n, for each
model on the same samples and with the same OOD boundary.

``summary.json`` holds, per seed, split and condition, the curve's figures and, per n,
gold and the OOD fraction among the selected (mean over prompts with its interval), and
Kendall's tau between the two along the curve. Where the collapse happens is told apart
too: per n, the mean gold of the selected responses that are OOD (``gold_ood``) and of
those that are not (``gold_in``), each weighted by how often best-of-n selects them and
pooled over prompts (no interval: a prompt may have no selection in one region), what
those selections are (``failures_ood``, ``failures_in``: the share of each region's
selections in each judge category, :func:`failures_by_region`; the categories say whether
gold falls off the range through padding or inside it through malformed text and wrong
answers), and per row how far each fell from n = 1 to the largest n (``ood_gold_drop``,
``in_gold_drop``) and the part of gold's whole drop that the move off the fitted range
accounts for (``shift_drop``, :func:`shift_drop`; the rest is the two regions' own drops,
weighted by their share at n = 1). What a selection loses by being off range, ``gold_in - gold_ood``
(:func:`ood_cost`), is reported at the gold peak's n, where over-optimization sets in
(``ood_cost_peak``), and at the largest n (``ood_cost_last``).
Why the selection goes where it does is told by ``ood_proxy_gap``: the model's mean score
of OOD samples minus that of in-range ones, each score standardized within its prompt
(positive: the model prefers what it was not fitted on). Whether the model is right where
it was fitted and wrong beyond is told by how often it orders a pair of one prompt's
samples as gold does (:func:`region_accuracy`), for pairs of two in-range samples
(``accuracy_in``), of an OOD and an in-range one (``accuracy_cross``: the comparisons that
decide whether best-of-n leaves the range) and of two OOD ones (``accuracy_ood``).
``curves`` also holds each seed's fitted range per family (``fitted_words``) and pair
counts (``pairs``).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
from alignlab.experiments.forms.regressional import scaled_annotators
from alignlab.experiments.sweep.best_of_n import RUN, SampleSource, read_prompt_samples
from alignlab.experiments.sweep.runner import scorers_for
from alignlab.stats.agreement import kendall_tau_b
from alignlab.stats.intervals import mean
from alignlab.trainers.best_of_n import selection_weights
from alignlab.trainers.config import with_defaults

CONDITIONS = ("restricted", "matched", "all")


@dataclass
@with_defaults(output_dir="runs/goodhart/extremal")
class ExtremalConfig(ExperimentConfig):
    """A reward model fitted on each family's shorter responses, against two controls."""

    quantile: float = 0.5
    """Per prompt family, the ``restricted`` model sees only pairs whose responses both have
    at most this quantile of the family's response lengths, in words."""
    level: float = 0.0
    """Scale of the organism pool's annotator noise and bias (the regressional experiment's
    :func:`scaled_annotators`): 0 labels nearly by gold, 1 is the organism's own pool. At
    0 a model that saw long responses learns what gold says of them, so what sets the
    restricted model apart is what it never saw. At 1 the pool's liking for length teaches
    every model that saw long responses to prefer them (the regressional experiment's
    subject), and the controls leave the range further than the restricted model."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.quantile < 1:
            raise ValueError(f"quantile: must be in (0, 1), got {self.quantile}")
        if self.level < 0:
            raise ValueError(f"level: must be >= 0, got {self.level}")


def words(text: str) -> int:
    return len(text.split())


def family(record) -> str:
    """A comparison's or prompt's family, from its ``meta``."""
    return (record.meta or {}).get("family", "")


def restrict(pairs: list, quantile: float) -> list:
    """The pairs whose responses both have at most the ``quantile`` of their family's
    response lengths (over every response of the family's pairs), in their order."""
    lengths: dict[str, list[int]] = {}
    for c in pairs:
        lengths.setdefault(family(c), []).extend((words(c.chosen), words(c.rejected)))
    limit = {f: float(np.quantile(v, quantile)) for f, v in lengths.items()}
    return [c for c in pairs if max(words(c.chosen), words(c.rejected)) <= limit[family(c)]]


def matched(pairs: list, like: list, seed: int) -> list:
    """Per family, as many of ``pairs`` as ``like`` has, drawn at random, in their order."""
    wanted = Counter(family(c) for c in like)
    by_family: dict[str, list[int]] = {}
    for i, c in enumerate(pairs):
        by_family.setdefault(family(c), []).append(i)
    rng = random.Random(f"goodhart:{seed}:matched")
    keep = {i for f, k in wanted.items() for i in rng.sample(by_family.get(f, []), k)}
    return [c for i, c in enumerate(pairs) if i in keep]


def fitted_lengths(pairs: list) -> dict[str, int]:
    """Per family, the longest response, in words, among ``pairs``."""
    out: dict[str, int] = {}
    for c in pairs:
        f = family(c)
        out[f] = max(out.get(f, 0), words(c.chosen), words(c.rejected))
    return out


def derived_pairs(every: Path, root: Path, quantile: float, seed: int) -> dict[str, Path]:
    """The ``restricted`` and ``matched`` subsets of the pairs in ``every``, written under
    ``root/<condition>/pairs.jsonl``; reused when there."""
    from alignlab.data.io import read_records, write_records

    paths = {c: root / c / "pairs.jsonl" for c in ("restricted", "matched")}
    if not all(p.exists() for p in paths.values()):
        pairs = read_records(every, "comparison")
        kept = restrict(pairs, quantile)
        write_records(paths["restricted"], kept)
        write_records(paths["matched"], matched(pairs, kept, seed))
    return {**paths, "all": every}


def region_means(weights, ood, values) -> tuple[float | None, float | None]:
    """Mean of ``values`` over the selected responses that are OOD and over those that are
    not, each response weighted by its selection probability, pooled over prompts; None
    for a region best-of-n never selects from. All arguments are ``[prompts, samples]``
    arrays."""
    out = []
    for region in (ood, ~ood):
        mass = float((weights * region).sum())
        out.append(float((weights * region * values).sum()) / mass if mass > 0 else None)
    return out[0], out[1]


def failures_by_region(weights, ood, columns) -> dict[str, dict[str, float]]:
    """What the selected responses are, by region: per judge category (and ``padded``),
    the share of the OOD selections (``ood``) and of the in-range ones (``in``) in it,
    as :func:`region_means` weighs them; categories no selection of a region is in are
    left out."""
    out: dict[str, dict[str, float]] = {"ood": {}, "in": {}}
    for name, values in columns.items():
        if name.startswith("failure/"):
            for region, share in zip(
                ("ood", "in"), region_means(weights, ood, values), strict=True
            ):
                if share:
                    out[region][name.removeprefix("failure/")] = share
    return out


def proxy_gap(proxy, ood) -> float | None:
    """Mean within-prompt standardized score of the OOD samples minus that of the others;
    None when either region is empty. Both arguments are ``[prompts, samples]`` arrays."""
    spread = proxy.std(axis=1, keepdims=True)
    z = (proxy - proxy.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)
    if not ood.any() or ood.all():
        return None
    return float(z[ood].mean() - z[~ood].mean())


def region_accuracy(proxy, gold, first, second) -> float | None:
    """Of the pairs of one prompt's samples, one in region ``first`` and one in ``second``,
    that gold orders strictly, the fraction the proxy orders the same way (a proxy tie
    counts 1/2), pooled over prompts; None when no pair counts. All arguments are
    ``[prompts, samples]`` arrays, the regions boolean."""
    agree = total = 0.0
    for p, g, a, b in zip(proxy, gold, first, second, strict=True):
        gold_sign = np.sign(g[a][:, None] - g[b][None, :])
        proxy_sign = np.sign(p[a][:, None] - p[b][None, :])
        counted = gold_sign != 0
        total += counted.sum()
        agree += ((proxy_sign == gold_sign) + 0.5 * (proxy_sign == 0))[counted].sum()
    return float(agree / total) if total else None


def prompt_families(sweep, split: str) -> list[str]:
    """The families of the prompts a sweep's split optimizes over, in the columns' order."""
    return [family(s) for s in read_prompt_samples(sweep.splits[split], sweep.max_prompts)]


def ood_curve(sweep, split: str, fitted: dict[str, int]) -> tuple[list[dict], dict]:
    """Per n of the sweep: gold and the fraction of selected responses longer than their
    family's ``fitted`` length, from the sweep's own scored samples; and the figures of the
    samples themselves: the proxy gap and the three region accuracies."""
    _, columns = SampleSource(sweep, scorers_for(sweep)).columns(split)
    longest = np.array([fitted.get(f, 0) for f in prompt_families(sweep, split)])
    ood = columns["length"] > longest[:, None]
    out = []
    for n in sorted(set(sweep.best_of_n.ns)):
        weights = selection_weights(columns["proxy"], n)
        gold_ood, gold_in = region_means(weights, ood, columns["gold"])
        failures = failures_by_region(weights, ood, columns)
        out.append(
            {
                "n": n,
                "ood": mean((weights * ood).sum(axis=1), seed=sweep.seed).to_dict(),
                "gold": mean((weights * columns["gold"]).sum(axis=1), seed=sweep.seed).to_dict(),
                "gold_ood": gold_ood,
                "gold_in": gold_in,
                "failures_ood": failures["ood"],
                "failures_in": failures["in"],
            }
        )
    proxy, gold = columns["proxy"], columns["gold"]
    return out, {
        "ood_proxy_gap": proxy_gap(proxy, ood),
        "accuracy_in": region_accuracy(proxy, gold, ~ood, ~ood),
        "accuracy_cross": region_accuracy(proxy, gold, ood, ~ood),
        "accuracy_ood": region_accuracy(proxy, gold, ood, ood),
    }


def _drop(found: list[dict], name: str) -> float | None:
    first, last = found[0][name], found[-1][name]
    return None if first is None or last is None else first - last


def _in_minus_ood(point: dict) -> float | None:
    if point["gold_ood"] is None or point["gold_in"] is None:
        return None
    return point["gold_in"] - point["gold_ood"]


def ood_cost(found: list[dict], n: int) -> float | None:
    """How much less gold best-of-``n``'s OOD selections have than its in-range ones
    (``gold_in - gold_ood``; positive: moving off the fitted range costs gold); None when a
    region has no selection at that n."""
    return _in_minus_ood(next(p for p in found if p["n"] == n))


def shift_drop(found: list[dict]) -> float | None:
    """The part of gold's drop from the first n to the last that comes from the selection
    moving off the fitted range: ``(ood_last - ood_first) * (gold_in - gold_ood)`` at the
    last n. Gold is ``ood * gold_ood + (1 - ood) * gold_in`` at every n, so the drop is
    exactly this plus ``ood_first`` times the OOD selections' drop plus ``1 - ood_first``
    times the in-range ones'. None when a region has no selection at the last n."""
    first, last = found[0], found[-1]
    cost = _in_minus_ood(last)
    return None if cost is None else (last["ood"]["value"] - first["ood"]["value"]) * cost


def run_extremal(config: ExtremalConfig) -> Path:
    """Run every seed still missing; write and return ``summary.json``."""
    from alignlab.data.io import read_records

    setup = prepare(config)
    rows, curves = [], []
    for seed in config.seed_list:
        root = Path(config.output_dir) / f"seed-{seed}"
        root.mkdir(parents=True, exist_ok=True)
        pool = annotator_pool(scaled_annotators(setup.world.annotators, config.level), seed)
        every = labelled_pairs(setup.world, pool, config.n_pairs, seed, root / "pairs.jsonl")
        files = derived_pairs(every, root, config.quantile, seed)
        kept = {c: read_records(files[c], "comparison") for c in CONDITIONS}
        fitted = fitted_lengths(kept["restricted"])
        counts = {c: len(pairs) for c, pairs in kept.items()}
        for condition in CONDITIONS:
            reward = fit_reward(config, setup, files[condition], seed)
            sweep = sweep_config(config, setup, str(reward), root / condition / "sweep", seed)
            body = run_bon(sweep)
            for split in splits(body):
                found, samples = ood_curve(sweep, split, fitted)
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
                    shift_drop=shift_drop(found),
                    ood_cost_peak=ood_cost(found, figures["peak_n"]),
                    ood_cost_last=ood_cost(found, found[-1]["n"]),
                    **samples,
                )
                rows.append(row)
                curves.append(
                    {**row, "fitted_words": fitted, "pairs": counts[condition], "points": found}
                )
    summary = {"rows": rows, "across_seeds": across_seeds(rows, ("condition", "split"))}
    return write_summary(config, {**summary, "curves": curves})
