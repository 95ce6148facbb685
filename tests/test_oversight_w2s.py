import dataclasses
import json
import random
from pathlib import Path

import numpy as np
import pytest

from alignlab.data.io import read_records, write_records
from alignlab.data.records import Labelled
from alignlab.experiments.organism import organism_key
from alignlab.experiments.oversight.w2s import W2SConfig, run_w2s
from alignlab.organisms.assistant.sum_statements import SETS, item_sets, statement_item
from alignlab.oversight import w2s
from alignlab.oversight.w2s import (
    ROWS,
    W2SRun,
    hard_labels,
    performance_gap_recovered,
    pgr_interval,
    run_w2s_protocol,
    soft_labels,
    weak_labelled,
)

# --- the PGR and its interval ------------------------------------------------------------


def test_pgr_is_the_share_of_the_gap_recovered():
    assert performance_gap_recovered(0.6, 0.7, 0.8) == pytest.approx(0.5)
    assert performance_gap_recovered(0.6, 0.6, 0.8) == 0.0
    assert performance_gap_recovered(0.6, 0.9, 0.8) == pytest.approx(1.5)
    assert performance_gap_recovered(0.6, 0.5, 0.8) == pytest.approx(-0.5)


def test_pgr_is_undefined_without_a_gap():
    assert performance_gap_recovered(0.7, 0.8, 0.7) is None
    assert performance_gap_recovered(0.7, 0.8, 0.6) is None
    est = pgr_interval([[1, 0, 1]], [[1, 1, 1]], [[1, 0, 1]])
    assert est.value is None and est.lo is None and est.hi is None and est.n == 3
    assert "undefined" in str(est)


def test_pgr_interval_over_items_matches_the_binomial_by_hand():
    # weak always wrong, ceiling always right: gap 1, so a replicate's PGR is the
    # student's accuracy on 8 resampled items, 4 of them right: Binomial(8, 1/2) / 8.
    # P(0) = 1/256 < 0.025 <= P(<= 1/8) = 9/256, so the 2.5% bound is 1/8; by symmetry
    # the 97.5% bound is 7/8.
    weak, ceiling = np.zeros(8), np.ones(8)
    student = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    est = pgr_interval([weak], [student], [ceiling], n_resamples=20000, seed=1)
    assert est.value == pytest.approx(0.5)
    assert (est.lo, est.hi) == (0.125, 0.875)
    assert est.n == 8 and est.gap_share_undefined == 0.0


def test_pgr_interval_resamples_seeds_first():
    # Two seeds, no item variation: seed 0's student recovers the whole gap, seed 1's none.
    # Drawing two seeds with replacement gives 1, 1/2, 1/2 or 0: interval [0, 1].
    weak, ceiling = np.zeros(5), np.ones(5)
    est = pgr_interval(
        [weak, weak], [np.ones(5), np.zeros(5)], [ceiling, ceiling], n_resamples=4000
    )
    assert est.value == pytest.approx(0.5)
    assert (est.lo, est.hi) == (0.0, 1.0)
    assert est.n == 10


def test_pgr_interval_is_paired_over_items():
    # The student gets right exactly the items the ceiling adds over the weak model and
    # nothing else, so every paired replicate recovers the whole gap: [1, 1], where
    # resampling each classifier's items apart would scatter it. Half the 20 items are in
    # the gap, so a replicate without one, (1/2)^20, all but never occurs.
    weak = np.tile([1, 0], 10)
    ceiling = np.ones(20)
    est = pgr_interval([weak], [ceiling.copy()], [ceiling], n_resamples=3000)
    assert est.value == 1.0
    assert (est.lo, est.hi) == (1.0, 1.0)
    assert est.gap_share_undefined == 0.0


def test_an_uncertain_gap_leaves_the_interval_unbounded():
    # One item of three separates weak from ceiling: a replicate without it (8/27) has no gap.
    weak, student, ceiling = np.array([0, 1, 1]), np.array([0, 1, 1]), np.array([1, 1, 1])
    est = pgr_interval([weak], [student], [ceiling], n_resamples=4000)
    assert est.value == 0.0
    assert est.lo == 0.0 and est.hi is None
    assert est.gap_share_undefined == pytest.approx(8 / 27, abs=0.03)
    assert "inf" in str(est)


def test_pgr_interval_checks_its_input():
    with pytest.raises(ValueError, match="same test items"):
        pgr_interval([[1, 0]], [[1]], [[1, 1]])
    with pytest.raises(ValueError, match="same seeds"):
        pgr_interval([[1]], [[1], [0]], [[1]])
    with pytest.raises(ValueError, match="weak"):
        pgr_interval([], [], [])


def test_pgr_interval_is_deterministic_given_its_seed():
    rng = np.random.default_rng(0)
    groups = [[rng.integers(0, 2, 40) for _ in range(3)] for _ in range(3)]
    a = pgr_interval(*groups, seed=3)
    assert a == pgr_interval(*groups, seed=3)


# --- weak labels ---------------------------------------------------------------------------


def test_label_rules_by_hand():
    probs = np.array([0.2, 0.5, 0.51, 0.9])
    assert soft_labels(probs).tolist() == [0.2, 0.5, 0.51, 0.9]
    assert hard_labels(probs).tolist() == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="label_rule"):
        w2s.label_rule("median")


def test_weak_labelled_keeps_the_gold_label_aside():
    records = [Labelled("p", "r", 1.0, "i0", {"family": "x"}), Labelled("q", "s", 0.0, "i1")]
    out = weak_labelled(records, np.array([0.3, 0.8]), "hard")
    assert [r.label for r in out] == [0.0, 1.0]
    assert out[0].meta == {"family": "x", "gold": 1.0, "weak_p": 0.3}
    assert out[1].id == "i1"


# --- the task: sum statements ----------------------------------------------------------------


def test_sum_statement_items_are_labelled_by_the_true_sum():
    item = statement_item(3, 4, 9, "heldout")
    assert item.prompt == "quick question : is 3 + 4 = 9 true ?"
    assert item.response == "3 + 4 = 9 is"
    assert item.label == 0.0
    assert statement_item(3, 4, 7, "train", 1).prompt == "tell me , is 3 + 4 = 7 true ?"
    assert statement_item(3, 4, 7, "train").label == 1.0


def test_item_sets_use_train_templates_for_training_and_the_held_out_one_for_test():
    sets = item_sets(seed=5, n_train=300, n_test=200)
    assert [len(sets[name]) for name in SETS] == [300, 300, 200]
    for name, items in sets.items():
        for r in items:
            a, b, claim = r.meta["a"], r.meta["b"], r.meta["claim"]
            assert r.label == float(a + b == claim)
            assert r.label or 1 <= abs(a + b - claim) <= 3
            assert r.prompt.startswith("quick question") == (name == "test")
        assert 0.4 < np.mean([r.label for r in items]) < 0.6
        assert [r.id for r in items[:2]] == [f"{name}-0", f"{name}-1"]
    again = item_sets(seed=5, n_train=300, n_test=200)
    assert [r.to_dict() for r in again["weak"]] == [r.to_dict() for r in sets["weak"]]
    other = item_sets(seed=6, n_train=300, n_test=200)
    assert [r.prompt for r in other["weak"]] != [r.prompt for r in sets["weak"]]


def test_sum_statements_speak_the_world_language():
    from alignlab.organisms.assistant.language import vocabulary

    words = set(vocabulary())
    for items in item_sets(seed=0, n_train=200, n_test=200).values():
        for r in items:
            assert set(r.prompt.split()) | set(r.response.split()) <= words


# --- the procedure on a tiny model --------------------------------------------------------------


def _items(rng: random.Random, n: int) -> list[Labelled]:
    out = []
    for i in range(n):
        a, b = rng.randint(0, 4), rng.randint(0, 4)
        claim = a + b if rng.random() < 0.5 else a + b + 1
        out.append(Labelled(f"what is {a} + {b} ?", f"{claim} .", float(claim == a + b), f"x{i}"))
    return out


@pytest.fixture(scope="module")
def protocol_run(tmp_path_factory):
    from tiny_models import write_tiny_causal_lm

    root = tmp_path_factory.mktemp("w2s")
    weak = write_tiny_causal_lm(root / "weak", seed=0)
    strong = write_tiny_causal_lm(root / "strong", seed=1)
    rng = random.Random(0)
    files = {}
    for name, n in (("a", 24), ("b", 24), ("c", 16)):
        files[name] = root / f"{name}.jsonl"
        write_records(files[name], _items(rng, n))
    run = W2SRun(
        str(weak),
        str(strong),
        files["a"],
        files["b"],
        files["c"],
        root / "run",
        classifier={"epochs": 1, "batch_size": 8, "progress": False, "save_every": 0},
        aux_weight=0.5,
        label_rule="soft",
    )
    return run, run_w2s_protocol(run)


def test_protocol_trains_four_classifiers_and_scores_them_on_the_test_set(protocol_run):
    run, scores = protocol_run
    assert list(scores.hits) == list(ROWS)
    assert all(h.shape == (16,) and h.dtype == bool for h in scores.hits.values())
    for name in ROWS:
        assert (run.out / name / "model").is_dir()
    saved = json.loads((run.out / "scores.json").read_text())
    assert saved["n_test"] == 16 and saved["hits"]["weak"] == scores.hits["weak"].tolist()


def test_weak_labels_are_the_supervisors_probabilities_on_b(protocol_run):
    from alignlab.trainers.classifier import correct_probs

    run, scores = protocol_run
    labelled = read_records(run.out / "weak_labels.jsonl", "labelled")
    gold = read_records(run.gold_b, "labelled")
    probs = correct_probs(
        run.out / "weak" / "model", [r.prompt for r in gold], [r.response for r in gold]
    )
    assert [r.label for r in labelled] == pytest.approx(probs.tolist(), abs=1e-6)
    assert [r.meta["gold"] for r in labelled] == [r.label for r in gold]
    expected = np.mean([(p > 0.5) == (g.label > 0.5) for p, g in zip(probs, gold, strict=True)])
    assert scores.weak_label_accuracy == pytest.approx(expected)


def test_students_differ_only_in_the_confidence_loss(protocol_run):
    import tomllib

    run, _ = protocol_run
    naive = tomllib.loads((run.out / "w2s_naive" / "config.toml").read_text())
    confident = tomllib.loads((run.out / "w2s_confidence" / "config.toml").read_text())
    ceiling = tomllib.loads((run.out / "ceiling" / "config.toml").read_text())
    assert naive["aux_weight"] == 0.0 and confident["aux_weight"] == 0.5
    assert {k for k in naive if naive[k] != confident[k]} == {"aux_weight", "output_dir"}
    assert ceiling["train_file"] == str(run.gold_b) and naive["model"] == run.strong_model


def test_a_finished_run_is_read_back_not_retrained(protocol_run, monkeypatch):
    run, scores = protocol_run

    def refuse(config):
        raise AssertionError("retrained")

    monkeypatch.setattr(w2s, "train_classifier", refuse)
    again = run_w2s_protocol(run)
    assert all((again.hits[k] == scores.hits[k]).all() for k in ROWS)


# --- the experiment, end to end on a tiny organism -------------------------------------------


@pytest.fixture(scope="module")
def tiny_experiment(tmp_path_factory):
    from alignlab.organisms.assistant.build import build
    from test_organism_build import tiny_config

    root = tmp_path_factory.mktemp("w2s_experiment")
    mp = pytest.MonkeyPatch()
    mp.setenv("ALIGNLAB_CACHE", str(root / "cache"))
    build(root / "organism", seed=0, config=tiny_config(), progress=False)
    config = W2SConfig(
        organism=str(root / "organism"),
        output_dir=str(root / "out"),
        seeds=2,
        weak_layers=1,
        strong_layers=2,
        n_train=16,
        n_test=12,
        classifier={"epochs": 1, "batch_size": 8, "max_length": 64, "save_every": 0},
        progress=False,
    )
    panel, report = run_w2s(config)
    yield config, panel, report
    mp.undo()


def test_run_w2s_publishes_a_panel_with_every_row(tiny_experiment):
    from alignlab.report.panels import check_panel

    config, panel, report = tiny_experiment
    check_panel(panel, "w2s")
    assert report.name == "report.html" and report.exists()
    results = json.loads((Path(config.output_dir) / "results.json").read_text())
    assert results["oversight"]["w2s"]["title"] == panel["title"]
    rows = panel["table"]["rows"]
    assert [r["layers"] for r in rows] == [1, 2, 2, 2]
    assert all(r["accuracy"]["n"] == 24 for r in rows)
    assert rows[0]["PGR"] is None and rows[3]["PGR"] is None
    assert panel["setting"]["seeds"] == 2 and panel["wall_s"] > 0
    key = organism_key(Path(config.organism))
    assert (Path(config.output_dir) / "organisms" / key / "layers-2" / "base").is_dir()
    assert "layers" in panel["finding"] and "ceiling" in panel["finding"]


def test_the_panel_states_pgr_or_says_it_is_undefined(tiny_experiment):
    _, panel, _ = tiny_experiment
    weak, naive, _, ceiling = (r["accuracy"]["value"] for r in panel["table"]["rows"])
    pgr = panel["table"]["rows"][1]["PGR"]
    if ceiling <= weak:
        assert pgr["value"] is None and "undefined" in panel["finding"]
    else:
        assert pgr["value"] == pytest.approx((naive - weak) / (ceiling - weak))
        assert "PGR" in panel["finding"]


def test_a_rerun_with_another_seed_trains_only_that_seed(tiny_experiment, monkeypatch):
    config, _, _ = tiny_experiment
    trained = []
    real = w2s.train_classifier
    monkeypatch.setattr(w2s, "train_classifier", lambda c: trained.append(c) or real(c))
    again, _ = run_w2s(dataclasses.replace(config, seeds=3))
    assert {Path(c.output_dir).parent.name for c in trained} == {"seed-2"}
    assert len(trained) == 4
    assert again["table"]["rows"][0]["accuracy"]["n"] == 36


def test_config_names_the_bad_field():
    with pytest.raises(ValueError, match="weak_layers"):
        W2SConfig(weak_layers=4, strong_layers=4)
    with pytest.raises(ValueError, match="label_rule"):
        W2SConfig(label_rule="median")
    with pytest.raises(ValueError, match="classifier"):
        W2SConfig(classifier={"aux_weight": 0.3})
