"""The Goodhart experiments: their parts exactly, and each end to end on a miniature of
the organism (its world, prompts and held-out pairs, with a tiny random policy)."""

import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from alignlab.cli.goodhart import app
from alignlab.config import load_config, to_dict
from alignlab.data.io import read_records, write_records
from alignlab.data.records import Comparison
from alignlab.experiments.forms import EXPERIMENTS
from alignlab.experiments.forms.adversarial import family_prompts
from alignlab.experiments.forms.base import (
    across_seeds,
    annotator_pool,
    claim_output_dir,
    curve_figures,
    labelled_pairs,
)
from alignlab.experiments.forms.extremal import (
    ExtremalConfig,
    derived_pairs,
    failures_by_region,
    fitted_lengths,
    matched,
    ood_cost,
    proxy_gap,
    region_accuracy,
    region_means,
    restrict,
    shift_drop,
)
from alignlab.experiments.forms.regressional import scaled_annotators
from alignlab.experiments.sweep.config import SweepConfig
from alignlab.organisms.assistant import WorldConfig
from alignlab.organisms.assistant.config import AnnotatorConfig
from alignlab.organisms.assistant.corpus import comparisons, prompts
from alignlab.organisms.assistant.gold import CATEGORIES
from tiny_models import write_tiny_causal_lm


def test_scaled_annotators_scale_noise_and_bias_together():
    base = AnnotatorConfig()
    zero = scaled_annotators(base, 0.0)
    assert zero.length_bias == 0 and zero.agreement_bias == 0 and zero.harm_miss_rate == 0
    assert zero.temperature == 0.05 and zero.n_annotators == base.n_annotators
    double = scaled_annotators(base, 2.0)
    assert double.length_bias == pytest.approx(2 * base.length_bias)
    assert double.temperature == pytest.approx(2 * base.temperature)
    assert scaled_annotators(base, 10.0).harm_miss_rate == 1.0
    assert scaled_annotators(base, 1.0) == base


def test_a_gold_faithful_pool_labels_by_gold_and_a_biased_one_does_not(tmp_path):
    from alignlab.organisms.assistant import gold_utility

    world = WorldConfig()

    def agreement(level: float) -> float:
        pool = annotator_pool(scaled_annotators(world.annotators, level), seed=0)
        path = labelled_pairs(world, pool, 400, 0, tmp_path / f"{level}.jsonl")
        pairs = read_records(path, "comparison")
        gold = [
            (gold_utility(c.prompt, c.chosen), gold_utility(c.prompt, c.rejected)) for c in pairs
        ]
        decided = [a > b for a, b in gold if a != b]
        return sum(decided) / len(decided)

    assert agreement(0.0) > 0.95
    assert agreement(2.0) < agreement(1.0) < agreement(0.0)


def test_labelled_pairs_filter_and_reuse(tmp_path):
    world = WorldConfig()
    pool = annotator_pool(world.annotators, seed=1)
    path = labelled_pairs(
        world, pool, 60, 1, tmp_path / "short.jsonl", keep=lambda c: len(c.chosen.split()) <= 6
    )
    pairs = read_records(path, "comparison")
    assert 0 < len(pairs) < 60 and all(len(c.chosen.split()) <= 6 for c in pairs)
    # Written once: a second call with another filter reads the file back.
    assert labelled_pairs(world, pool, 60, 1, path) == path
    assert len(read_records(path, "comparison")) == len(pairs)
    with pytest.raises(ValueError, match="no comparison"):
        labelled_pairs(world, pool, 10, 1, tmp_path / "none.jsonl", keep=lambda c: False)


def pair(family: str, chosen: int, rejected: int) -> Comparison:
    return Comparison(
        prompt="p", chosen="w " * chosen, rejected="w " * rejected, meta={"family": family}
    )


def test_restrict_keeps_each_familys_shorter_pairs():
    pairs = [pair("a", 2, 3), pair("a", 2, 9), pair("a", 8, 9), pair("b", 20, 21)]
    pairs += [pair("b", 30, 31), pair("b", 20, 40)]
    # a: lengths 2 2 3 8 9 9, median 5.5; b: 20 20 21 30 31 40, median 25.5.
    kept = restrict(pairs, 0.5)
    assert kept == [pairs[0], pairs[3]]
    assert fitted_lengths(kept) == {"a": 3, "b": 21}
    # At the 0.99 quantile, a keeps everything (9) and b all but the 40-word response.
    assert restrict(pairs, 0.99) == pairs[:5]


def test_matched_draws_as_many_pairs_per_family():
    pairs = [pair("a", i, i + 1) for i in range(1, 9)] + [pair("b", i, 1) for i in range(2, 7)]
    like = [pairs[0], pairs[1], pairs[8]]
    drawn = matched(pairs, like, seed=3)
    assert [c.meta["family"] for c in drawn] == ["a", "a", "b"]
    assert all(c in pairs for c in drawn) and drawn == matched(pairs, like, seed=3)
    assert [pairs.index(c) for c in drawn] == sorted(pairs.index(c) for c in drawn)


def test_derived_pairs_cover_every_family_and_are_reused(tmp_path):
    world = WorldConfig()
    pool = annotator_pool(world.annotators, seed=1)
    every = labelled_pairs(world, pool, 400, 1, tmp_path / "pairs.jsonl")
    files = derived_pairs(every, tmp_path, 0.5, seed=1)
    assert files["all"] == every
    families = {c.meta["family"] for c in read_records(every, "comparison")}
    restricted = read_records(files["restricted"], "comparison")
    same = read_records(files["matched"], "comparison")
    assert {c.meta["family"] for c in restricted} == families
    assert sorted(c.meta["family"] for c in same) == sorted(c.meta["family"] for c in restricted)
    assert len(restricted) < 400
    before = files["restricted"].read_text()
    assert derived_pairs(every, tmp_path, 0.9, seed=1)["restricted"].read_text() == before


def test_shift_drop_is_the_part_of_the_drop_from_moving_off_range():
    def at(ood, gold_ood, gold_in):
        gold = ood * gold_ood + (1 - ood) * gold_in
        return {
            "ood": {"value": ood},
            "gold": {"value": gold},
            "gold_ood": gold_ood,
            "gold_in": gold_in,
        }

    found = [at(0.1, 0.6, 0.9), at(0.5, 0.3, 0.7)]
    shift = shift_drop(found)
    assert shift == pytest.approx(0.4 * (0.7 - 0.3))
    drop = found[0]["gold"]["value"] - found[1]["gold"]["value"]
    assert drop == pytest.approx(shift + 0.1 * (0.6 - 0.3) + 0.9 * (0.9 - 0.7))
    assert shift_drop([at(0.1, 0.6, 0.9), {**at(0.5, 0.3, 0.7), "gold_ood": None}]) is None


def test_ood_cost_is_the_in_range_minus_off_range_gold_at_one_n():
    found = [
        {"n": 1, "gold_ood": 0.6, "gold_in": 0.9},
        {"n": 4, "gold_ood": 0.5, "gold_in": 0.4},
        {"n": 16, "gold_ood": None, "gold_in": 0.7},
    ]
    assert ood_cost(found, 1) == pytest.approx(0.3)
    assert ood_cost(found, 4) == pytest.approx(-0.1)
    assert ood_cost(found, 16) is None


def test_an_output_dir_refuses_a_rerun_with_other_settings(tmp_path):
    config = ExtremalConfig(output_dir=str(tmp_path), level=0.0, seeds=3)
    claim_output_dir(config)
    # More seeds, other threads, another cache: the same runs, so the same directory.
    claim_output_dir(ExtremalConfig(output_dir=str(tmp_path), level=0.0, seeds=5, threads=2))
    with pytest.raises(ValueError, match=r"level, n_pairs differ from experiment.json"):
        claim_output_dir(ExtremalConfig(output_dir=str(tmp_path), level=1.0, n_pairs=100))


def test_extremal_config_checks_its_fields():
    with pytest.raises(ValueError, match="quantile"):
        ExtremalConfig(quantile=1.0)
    with pytest.raises(ValueError, match="level"):
        ExtremalConfig(level=-0.5)


def test_region_accuracy_counts_the_pairs_across_two_regions_that_gold_orders():
    proxy = np.array([[0.0, 1.0, 2.0, 2.0], [5.0, 1.0, 3.0, 0.0]])
    gold = np.array([[0.0, 1.0, 0.5, 1.0], [0.0, 0.0, 1.0, 1.0]])
    long = np.array([[False, False, True, True], [False, True, False, True]])
    # Prompt 0, long x short: (2,0) agrees, (2,1) disagrees, (3,0) agrees, (3,1) tied in
    # gold (not counted). Prompt 1: (1,0) tied in gold, (1,2) agrees, (3,0) disagrees,
    # (3,2) tied in gold. 3 of 5 agree.
    assert region_accuracy(proxy, gold, long, ~long) == pytest.approx(3 / 5)
    # Within the long ones: prompt 0's (2,3) is a proxy tie (1/2); prompt 1's (1,3) is
    # gold-ordered, and counted from both sides as the other pairs are.
    assert region_accuracy(proxy, gold, long, long) == pytest.approx((0.5 * 2 + 0) / 4)
    assert region_accuracy(proxy, gold, long, np.zeros_like(long)) is None


def test_proxy_gap_standardizes_within_prompts():
    proxy = np.array([[0.0, 1.0, 2.0, 3.0], [10.0, 10.0, 30.0, 30.0]])
    ood = np.array([[False, False, True, True], [False, False, True, True]])
    # Within-prompt z: row 0 (-1.342, -0.447, 0.447, 1.342), row 1 (-1, -1, 1, 1); OOD
    # mean (0.447 + 1.342 + 1 + 1) / 4, in-range mean its negative.
    assert proxy_gap(proxy, ood) == pytest.approx(2 * 3.789 / 4, abs=1e-3)
    assert proxy_gap(proxy, ~ood) == pytest.approx(-proxy_gap(proxy, ood))
    assert proxy_gap(proxy, np.zeros_like(ood)) is None


def test_across_seeds_gives_mean_sd_and_range():
    rows = [
        {"level": 0.0, "seed": 0, "drop": 0.1, "peak_n": 8, "fit_r2": None},
        {"level": 0.0, "seed": 1, "drop": 0.3, "peak_n": 4, "fit_r2": 0.9},
        {"level": 1.0, "seed": 0, "drop": 0.5, "peak_n": 2, "fit_r2": 0.95},
    ]
    zero, one = across_seeds(rows, ("level",))
    assert zero["seeds"] == 2 and zero["drop"]["mean"] == pytest.approx(0.2)
    assert zero["drop"]["sd"] == pytest.approx(0.1414, abs=1e-4)
    assert zero["peak_n"] == {
        "mean": 6.0,
        "sd": pytest.approx(2.828, abs=1e-3),
        "min": 4.0,
        "max": 8.0,
    }
    assert zero["fit_r2"]["mean"] == 0.9  # a missing figure is left out, not counted as 0
    assert one["drop"]["sd"] == 0.0


def test_curve_figures_read_a_curve():
    entry = {
        "points": [
            {"settings": {"n": n}, "gold": {"value": g}, "proxy": {"value": p}}
            for n, g, p in [(1, 0.5, 0.0), (2, 0.7, 1.0), (4, 0.4, 2.0)]
        ],
        "peak": {"index": 1, "pressure": 2, "gold": {"value": 0.7}},
        "overoptimization": {"drop": 0.3},
        "proxy_monotone": True,
        "expected_form": "best_of_n",
        "fits": {"best_of_n": {"r2": 0.93, "d_star": 0.6}},
        "peak_grid_distance": -0.4,
    }
    figures = curve_figures(entry)
    assert figures["peak_n"] == 2 and figures["drop"] == 0.3 and figures["proxy_gain"] == 2.0
    assert figures["gold_start"] == 0.5 and figures["gold_last"] == 0.4
    assert figures["fit_r2"] == 0.93 and figures["peak_grid_distance"] == -0.4


def test_region_means_weigh_each_selection_and_pool_prompts():
    weights = np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75]])
    ood = np.array([[True, False, True], [True, True, False]])
    gold = np.array([[0.2, 1.0, 0.9], [0.0, 0.6, 0.8]])
    gold_ood, gold_in = region_means(weights, ood, gold)
    # OOD: 0.5 * 0.2 + 0.25 * 0.6 over a mass of 0.75; in: 0.5 * 1.0 + 0.75 * 0.8 over 1.25.
    assert gold_ood == pytest.approx(0.25 / 0.75) and gold_in == pytest.approx(1.1 / 1.25)
    never = region_means(weights, np.zeros_like(ood), gold)
    assert never[0] is None and never[1] == pytest.approx(1.35 / 2)


def test_failures_by_region_give_each_regions_selections_by_category():
    weights = np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75]])
    ood = np.array([[True, False, True], [True, True, False]])
    columns = {
        "gold": np.zeros((2, 3)),
        "failure/padded": np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
        "failure/wrong": np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
    }
    found = failures_by_region(weights, ood, columns)
    # OOD mass 0.75: padded 0.5 + 0.25, never wrong; in-range mass 1.25: wrong 0.5 + 0.75.
    assert found["ood"] == pytest.approx({"padded": 1.0})
    assert found["in"] == pytest.approx({"wrong": 1.0})
    assert failures_by_region(weights, np.zeros_like(ood), columns)["ood"] == {}


def test_family_prompts_keep_the_families_asked_for(tmp_path):
    source = tmp_path / "prompts.jsonl"
    write_records(source, prompts(WorldConfig(), "train", random.Random(0)))
    out = family_prompts(source, ["harmful"], tmp_path / "harmful.jsonl")
    found = read_records(out, "sample")
    assert found and {s.meta["family"] for s in found} == {"harmful"}
    with pytest.raises(ValueError, match="no prompts"):
        family_prompts(source, ["nonesuch"], tmp_path / "none.jsonl")


@pytest.fixture(scope="module")
def miniature(tmp_path_factory):
    """An organism directory with the real world's prompts and held-out pairs (a few per
    family), and a tiny random policy."""
    root = tmp_path_factory.mktemp("organism")
    world = WorldConfig()
    world.prompts.n_train = world.prompts.n_heldout = 1
    (root / "world.json").write_text(json.dumps({"config": to_dict(world)}))
    data = root / "data"
    for split in ("train", "heldout"):
        write_records(data / f"prompts_{split}.jsonl", prompts(world, split, random.Random(split)))
    pool = annotator_pool(world.annotators, seed=0)
    write_records(data / "prefs_heldout.jsonl", comparisons(world, pool, 12, 1, random.Random(0)))
    return root, write_tiny_causal_lm(tmp_path_factory.mktemp("policy"))


def mini_overrides(miniature, out) -> list[str]:
    organism, policy = miniature
    return [
        f"organism='{organism}'",
        f"policy='{policy}'",
        f"output_dir='{out}'",
        f"cache_dir='{out / 'cache'}'",
        "n_pairs=24",
        "reward={max_steps = 2, batch_size = 8}",
        "sweep={max_prompts = 4, max_new_tokens = 4, batch_size = 4, plots = false, "
        "best_of_n = {ns = [1, 2, 4]}}",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_each_experiment_runs_end_to_end_and_resumes(name, miniature, tmp_path):
    out = tmp_path / name
    extra = {"regressional": ["levels=[0.0, 1.0]"], "early-warning": ["members=2"]}
    args = [name, "--seeds", "1"]
    for override in mini_overrides(miniature, out) + extra.get(name, []):
        args += ["--set", override]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["seeds"] == 1 and summary["rows"]
    assert {row["split"] for row in summary["rows"]} == {"train", "heldout"}
    if name == "early-warning":
        assert {"gold_lost", "lost_fraction"} <= set(summary["rows"][0])
        assert "timely in" in result.output
    if name == "extremal":
        first = summary["curves"][0]["points"][0]
        assert {"gold_ood", "gold_in", "failures_ood", "failures_in"} <= set(first)
        for region in ("ood", "in"):  # a region's selections fall in one category each
            found = sum(first[f"failures_{region}"].get(c, 0) for c in CATEGORIES)
            assert found == pytest.approx(0 if first[f"gold_{region}"] is None else 1)
        assert {r["condition"] for r in summary["rows"]} == {"restricted", "matched", "all"}
        assert {"ood_proxy_gap", "ood_cost_peak", "accuracy_cross"} <= set(summary["rows"][0])
        assert summary["curves"][0]["fitted_words"]
    points = sorted(out.rglob("points.jsonl"))
    assert points
    before = [p.read_text() for p in points]
    # A rerun finds everything done: no new point anywhere.
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert [p.read_text() for p in points] == before


CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "goodhart"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_example_config_loads(path):
    name = path.stem.replace("_", "-")
    if name in EXPERIMENTS:
        config = load_config(EXPERIMENTS[name][0], path)
        assert config.output_dir.startswith("runs/goodhart/")
    else:
        config = load_config(SweepConfig, path)
        assert config.optimizer == path.stem
        assert config.output_dir == f"runs/goodhart/{path.stem}"
