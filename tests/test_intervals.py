import math

import numpy as np
import pytest

from alignlab.stats import intervals
from alignlab.stats.intervals import Estimate, bootstrap_ci, mean, paired_difference, rate


def test_estimate_prints_value_interval_and_n():
    assert str(Estimate(0.7342, 500, 0.7011, 0.7712)) == "0.734 [0.70, 0.77] (n=500)"
    assert str(Estimate(0.5, 10, 0.2, 0.8, level=0.9)) == "0.500 [0.20, 0.80] (n=10, 90%)"


def test_estimate_to_dict():
    assert Estimate(0.5, 10, 0.2, 0.8).to_dict() == {
        "value": 0.5,
        "n": 10,
        "lo": 0.2,
        "hi": 0.8,
        "level": 0.95,
    }


def test_empty_input_gives_nan_with_n_zero():
    for estimate in (rate([]), mean([]), paired_difference([], [])):
        assert estimate.n == 0
        assert math.isnan(estimate.value) and math.isnan(estimate.lo) and math.isnan(estimate.hi)
    assert str(rate([])) == "nan [nan, nan] (n=0)"


def test_single_item_has_a_point_interval():
    assert mean([3.0]) == Estimate(3.0, 1, 3.0, 3.0)


def test_deterministic_under_seed():
    values = np.random.default_rng(1).normal(size=300)
    assert mean(values, seed=7) == mean(values, seed=7)
    assert mean(values, seed=7) != mean(values, seed=8)
    assert bootstrap_ci(values, np.median, seed=3) == bootstrap_ci(values, np.median, seed=3)


def test_bernoulli_interval_contains_p_with_normal_width():
    successes = np.random.default_rng(0).random(2000) < 0.7
    estimate = rate(successes)
    assert estimate.n == 2000
    assert estimate.value == successes.mean()
    assert estimate.lo < 0.7 < estimate.hi
    expected_width = 2 * 1.96 * math.sqrt(0.21 / 2000)
    assert estimate.hi - estimate.lo == pytest.approx(expected_width, rel=0.1)


def test_mean_interval_has_normal_width():
    values = np.random.default_rng(2).normal(5.0, 2.0, size=4000)
    estimate = mean(values, level=0.9)
    assert estimate.value == pytest.approx(values.mean())
    expected_width = 2 * 1.645 * values.std() / math.sqrt(values.size)
    assert estimate.hi - estimate.lo == pytest.approx(expected_width, rel=0.1)


def test_counting_shortcut_matches_resampling_items():
    # Few distinct values: the mean's bootstrap is drawn from Multinomial value counts;
    # passing np.mean forces resampling of the items themselves.
    values = np.random.default_rng(3).integers(1, 6, size=1000).astype(float)
    counted = mean(values)
    resampled = bootstrap_ci(values, np.mean)
    assert counted.value == resampled.value
    assert counted.lo == pytest.approx(resampled.lo, abs=0.02)
    assert counted.hi == pytest.approx(resampled.hi, abs=0.02)


def test_resample_blocks_do_not_change_the_result(monkeypatch):
    values = np.random.default_rng(4).normal(size=500)
    whole = bootstrap_ci(values, np.median, n_resamples=300)
    monkeypatch.setattr(intervals, "_MAX_BLOCK", 500 * 7)
    assert bootstrap_ci(values, np.median, n_resamples=300) == whole


def test_general_statistic():
    values = np.random.default_rng(5).exponential(size=1001)
    estimate = bootstrap_ci(values, np.median)
    assert estimate.value == np.median(values)
    assert estimate.lo < estimate.value < estimate.hi


def test_rate_accepts_zero_one_and_rejects_other_values():
    assert rate([1, 0, 1, 1]) == rate([True, False, True, True])
    assert rate([1, 0, 1, 1]).value == 0.75
    with pytest.raises(ValueError, match=r"item 2 is 0.5"):
        rate([1, 0, 0.5])


def test_paired_difference_is_the_mean_difference():
    rng = np.random.default_rng(6)
    difficulty = rng.normal(0, 3, size=400)
    a = difficulty + rng.normal(0, 0.5, size=400)
    b = difficulty + 0.2 + rng.normal(0, 0.5, size=400)
    estimate = paired_difference(a, b)
    assert estimate == mean(a - b)
    assert estimate.value == pytest.approx(a.mean() - b.mean())
    # Shared item difficulty cancels: the difference is far surer than either mean.
    single = mean(a)
    assert estimate.hi - estimate.lo < (single.hi - single.lo) / 3


def test_paired_difference_of_rates():
    a = np.array([1, 1, 1, 0, 1, 0, 1, 1])
    b = np.array([1, 0, 1, 0, 0, 0, 1, 0])
    assert paired_difference(a, b).value == pytest.approx(3 / 8)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: paired_difference([1, 0], [1]), "a and b must score the same items: got 2 and 1"),
        (lambda: mean([1.0, float("nan")]), "values contains NaN at item 1"),
        (lambda: mean([[1.0, 2.0]]), r"values must be 1-D .* got shape \(1, 2\)"),
        (lambda: rate([1, 0], level=1.0), "level must lie strictly between 0 and 1"),
        (lambda: mean([1.0], n_resamples=0), "n_resamples must be at least 1"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
