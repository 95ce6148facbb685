import math

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from alignlab.evals import (
    BiasScore,
    CalibrationError,
    EvalRecord,
    KendallTau,
    LabelRate,
    Mean,
    Score,
    bias_score,
    bootstrap_records,
    expected_calibration_error,
)


def rec(i, meta=None, error=None, data=None, **scores) -> EvalRecord:
    return EvalRecord(
        "s",
        f"s{i}",
        i,
        "q",
        None,
        "a",
        scores=scores,
        meta=meta or {},
        data=data or {},
        error=error,
    )


def test_mean_keeps_matching_scored_records_only():
    records = [
        rec(0, {"kind": "a"}, k=Score(1.0, "")),
        rec(1, {"kind": "a"}, k=Score(0.0, "")),
        rec(2, {"kind": "b"}, k=Score(1.0, "")),
        rec(3, {"kind": "a"}, k=Score(None, "not applicable")),
        rec(4, {"kind": "a"}, k=Score(None, "", error="judge said nothing")),
        rec(5, {"kind": "a"}, error="EndpointError: down"),
    ]
    estimate = Mean("m", "", "k", {"kind": "a"}).compute(records)
    assert (estimate.value, estimate.n) == (0.5, 2)
    both = Mean("m", "", "k", {"kind": ("a", "b")}).compute(records)
    assert (both.value, both.n) == (2 / 3, 3)


def test_label_rate_counts_one_label_among_labelled_records():
    labels = ["refused", "complied", "complied", None, "complied"]
    records = [rec(i, k=Score(1.0, "", label=label)) for i, label in enumerate(labels)]
    estimate = LabelRate("r", "", "k", "complied").compute(records)
    assert (estimate.value, estimate.n) == (0.75, 4)
    assert estimate.lo <= 0.75 <= estimate.hi
    # A rate's interval is exact (Clopper-Pearson), not a bootstrap of the labels.
    assert (estimate.lo, estimate.hi) == pytest.approx(proportion_confint(3, 4, method="beta"))


def test_a_mean_of_zeros_and_ones_is_a_rate_and_never_gets_a_point_interval():
    records = [rec(i, k=Score(0.0, "")) for i in range(20)]
    estimate = Mean("m", "", "k").compute(records)
    assert (estimate.value, estimate.lo) == (0.0, 0.0)
    assert estimate.hi == pytest.approx(proportion_confint(0, 20, method="beta")[1])
    assert estimate.hi > 0.1
    graded = [rec(i, k=Score(v, "")) for i, v in enumerate([0.2, 0.4, 0.9])]
    assert Mean("m", "", "k").compute(graded).value == pytest.approx(0.5)


def test_expected_calibration_error_by_hand():
    # Bin (0.7, 0.8]: confidences 0.75, 0.75, accuracy 1/2 -> gap 0.25, weight 2/4.
    # Bin (0.9, 1.0]: confidences 0.95, 1.0, accuracy 1 -> gap 0.025, weight 2/4.
    confidence = np.array([0.75, 0.75, 0.95, 1.0])
    correct = np.array([1.0, 0.0, 1.0, 1.0])
    assert expected_calibration_error(confidence, correct, 10) == pytest.approx(
        0.5 * 0.25 + 0.5 * 0.025
    )
    assert expected_calibration_error(np.array([0.0]), np.array([0.0]), 10) == 0.0


def test_calibration_error_metric_reads_confidence_and_correctness():
    records = [
        rec(i, data={"confidence": c}, ok=Score(v, ""))
        for i, (c, v) in enumerate([(0.75, 1.0), (0.75, 0.0), (0.95, 1.0), (1.0, 1.0)])
    ]
    estimate = CalibrationError("ece", "", "ok").compute(records)
    assert estimate.value == pytest.approx(0.1375) and estimate.n == 4


def test_bias_score_follows_bbq():
    answers = ["biased", "biased", "biased", "anti_biased", "unknown"]
    assert bias_score(answers) == pytest.approx(2 * 3 / 4 - 1)
    assert bias_score(answers, accuracy=0.2) == pytest.approx(0.8 * 0.5)
    assert math.isnan(bias_score(["unknown"]))


def test_bias_score_metric_scales_ambiguous_contexts_by_the_error_rate():
    rows = [("biased", 0.0), ("biased", 0.0), ("unknown", 1.0), ("anti_biased", 0.0)]
    records = [
        rec(i, answer=Score(0.0, "", label=label), correct=Score(ok, ""))
        for i, (label, ok) in enumerate(rows)
    ]
    ambiguous = BiasScore("b", "", "answer", "correct", True).compute(records)
    assert ambiguous.value == pytest.approx((1 - 0.25) * (2 * 2 / 3 - 1))
    plain = BiasScore("b", "", "answer", "correct", False).compute(records)
    assert plain.value == pytest.approx(2 * 2 / 3 - 1)


def test_kendall_tau_pools_every_records_pairs():
    records = [
        rec(0, data={"x": [1.0, 2.0], "y": [0.1, 0.2]}),
        rec(1, data={"x": [3.0, 4.0], "y": [0.3, 0.4]}),
    ]
    assert KendallTau("t", "", "x", "y").compute(records).value == pytest.approx(1.0)
    records.append(rec(2, data={"x": [5.0, 6.0], "y": [0.0, -1.0]}))
    # Pairs of (x, y): 15 in all; y puts (6, -1) and (5, 0) below everything: 9 discordant.
    assert KendallTau("t", "", "x", "y").compute(records).value == pytest.approx((6 - 9) / 15)


def test_bootstrap_is_seeded_and_empty_input_is_nan():
    items = list(np.random.default_rng(0).normal(size=20))
    a = bootstrap_records(items, np.mean, seed=3)
    assert a == bootstrap_records(items, np.mean, seed=3)
    assert a.lo != bootstrap_records(items, np.mean, seed=4).lo
    assert a.lo < a.value < a.hi
    empty = bootstrap_records([], np.median)
    assert empty.n == 0 and math.isnan(empty.value)
