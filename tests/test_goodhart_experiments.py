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
from alignlab.measure.goodhart.config import SweepConfig
from alignlab.measure.goodhart.experiments import EXPERIMENTS
from alignlab.measure.goodhart.experiments.adversarial import family_prompts
from alignlab.measure.goodhart.experiments.base import (
    across_seeds,
    annotator_pool,
    curve_figures,
    labelled_pairs,
)
from alignlab.measure.goodhart.experiments.extremal import fitted_length, gold_by_region
from alignlab.measure.goodhart.experiments.regressional import scaled_annotators
from alignlab.organisms.assistant import WorldConfig
from alignlab.organisms.assistant.config import AnnotatorConfig
from alignlab.organisms.assistant.corpus import comparisons, prompts
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
    assert fitted_length(path) == max(
        max(len(c.chosen.split()), len(c.rejected.split())) for c in pairs
    )
    # Written once: a second call with another filter reads the file back.
    assert labelled_pairs(world, pool, 60, 1, path) == path
    assert len(read_records(path, "comparison")) == len(pairs)
    with pytest.raises(ValueError, match="no comparison"):
        labelled_pairs(world, pool, 10, 1, tmp_path / "none.jsonl", keep=lambda c: False)


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


def test_gold_by_region_weighs_each_selection_and_pools_prompts():
    weights = np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75]])
    ood = np.array([[True, False, True], [True, True, False]])
    gold = np.array([[0.2, 1.0, 0.9], [0.0, 0.6, 0.8]])
    gold_ood, gold_in = gold_by_region(weights, ood, gold)
    # OOD: 0.5 * 0.2 + 0.25 * 0.6 over a mass of 0.75; in: 0.5 * 1.0 + 0.75 * 0.8 over 1.25.
    assert gold_ood == pytest.approx(0.25 / 0.75) and gold_in == pytest.approx(1.1 / 1.25)
    never = gold_by_region(weights, np.zeros_like(ood), gold)
    assert never[0] is None and never[1] == pytest.approx(1.35 / 2)


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
        assert {"gold_ood", "gold_in"} <= set(summary["curves"][0]["points"][0])
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
