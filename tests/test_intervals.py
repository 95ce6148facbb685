import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from alignlab.stats import expected_rate, intervals
from alignlab.stats.intervals import (
    DEFAULT_RATE_INTERVAL,
    RATE_INTERVALS,
    Estimate,
    bootstrap_ci,
    clopper_pearson,
    mean,
    paired_difference,
    rate,
    register_rate_interval,
    wilson,
)

COVERAGE_NS = (20, 30, 100)
COVERAGE_PS = (0.02, 0.05, 0.1, 0.5)
COVERAGE_FLOOR = 0.93


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


def test_rate_intervals_are_statsmodels_proportion_confint():
    successes = np.array([1] * 7 + [0] * 13)
    for method, statsmodels_name in (("clopper-pearson", "beta"), ("wilson", "wilson")):
        for level in (0.9, 0.95):
            estimate = rate(successes, method=method, level=level)
            lo, hi = proportion_confint(7, 20, alpha=1 - level, method=statsmodels_name)
            assert estimate == Estimate(0.35, 20, pytest.approx(lo), pytest.approx(hi), level)
    assert rate(successes) == rate(successes, method=DEFAULT_RATE_INTERVAL)
    assert DEFAULT_RATE_INTERVAL == "clopper-pearson"


def test_rate_intervals_by_hand():
    # Clopper-Pearson at x = 0 solves P(X = 0) = (1 - hi)^n = 0.025: hi = 1 - 0.025^(1/n),
    # and at x = n, lo^n = 0.025; in between, lo and hi are Beta quantiles.
    assert clopper_pearson(0, 20) == (0.0, pytest.approx(1 - 0.025 ** (1 / 20)))
    assert clopper_pearson(20, 20) == (pytest.approx(0.025 ** (1 / 20)), 1.0)
    lo, hi = clopper_pearson(3, 10)
    assert stats.binom.sf(2, 10, lo) == pytest.approx(0.025)  # P(X >= 3 | lo) = 0.025
    assert stats.binom.cdf(3, 10, hi) == pytest.approx(0.025)  # P(X <= 3 | hi) = 0.025
    # Wilson, x = 3 of n = 10: z = 1.95996, center (0.3 + z^2/20) / (1 + z^2/10),
    # half-width z sqrt(0.3 * 0.7 / 10 + z^2 / 400) / (1 + z^2/10).
    z = stats.norm.ppf(0.975)
    center = (0.3 + z**2 / 20) / (1 + z**2 / 10)
    half = z * math.sqrt(0.021 + z**2 / 400) / (1 + z**2 / 10)
    assert wilson(3, 10) == (pytest.approx(center - half), pytest.approx(center + half))
    assert wilson(3, 10) == (pytest.approx(0.1078, abs=1e-4), pytest.approx(0.6032, abs=1e-4))


@pytest.mark.parametrize("method", sorted(RATE_INTERVALS))
def test_all_failures_or_all_successes_never_get_a_point_interval(method):
    for n in (1, 5, 100):
        none, every = rate([0] * n, method=method), rate([1] * n, method=method)
        assert none.value == 0 and none.lo == 0 and none.hi > 0.02
        assert every.value == 1 and every.hi == 1 and every.lo < 0.98


def test_rate_ignores_the_seed_and_resamples():
    successes = np.random.default_rng(0).random(50) < 0.3
    assert rate(successes, seed=1) == rate(successes, seed=2, n_resamples=10)


def exact_coverage(method: str, n: int, p: float, level: float = 0.95) -> float:
    """P(lo <= p <= hi) by the binomial sum over the counts 0..n."""
    counts = np.arange(n + 1)
    lo, hi = RATE_INTERVALS[method](counts, n, level)
    return float(stats.binom.pmf(counts, n, p)[(lo <= p) & (p <= hi)].sum())


def test_default_rate_interval_covers_at_least_093():
    rng = np.random.default_rng(0)
    for n in COVERAGE_NS:
        counts = np.arange(n + 1)
        lo, hi = RATE_INTERVALS[DEFAULT_RATE_INTERVAL](counts, n, 0.95)
        for p in COVERAGE_PS:
            exact = exact_coverage(DEFAULT_RATE_INTERVAL, n, p)
            drawn = rng.binomial(n, p, size=4000)
            simulated = float(((lo[drawn] <= p) & (p <= hi[drawn])).mean())
            assert exact >= COVERAGE_FLOOR, (n, p, exact)
            assert simulated >= COVERAGE_FLOOR, (n, p, simulated)
            assert simulated == pytest.approx(exact, abs=0.02)  # 5 standard errors of 4000 draws


def test_wilson_misses_the_floor_which_is_why_it_is_not_the_default():
    assert exact_coverage("wilson", 20, 0.05) == pytest.approx(0.9245, abs=1e-4)
    assert exact_coverage("wilson", 20, 0.05) < COVERAGE_FLOOR


def test_rate_interval_names_are_unique():
    with pytest.raises(ValueError, match="a rate interval named 'wilson' is already registered"):
        register_rate_interval("wilson")(wilson)


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
        (lambda: rate([1, 0], method="wald"), "unknown rate interval method 'wald'; known: "),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_expected_rate_is_rate_on_zeros_and_ones_and_never_a_point_interval():
    hits = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0], dtype=float)
    assert expected_rate(hits) == rate(hits)
    zero = expected_rate(np.zeros(9))
    assert (zero.value, zero.lo) == (0.0, 0.0) and zero.hi > 0.3
    half = expected_rate(np.full(8, 0.25))
    assert half.value == pytest.approx(0.25)
    assert (half.lo, half.hi) == pytest.approx(proportion_confint(2.0, 8, method="beta"))
    with pytest.raises(ValueError, match=r"item 1 is 1\.5"):
        expected_rate([0.2, 1.5])


def test_expected_rate_covers_the_mean_chance_of_poisson_binomial_units():
    # The figure is a mean of chances; what it estimates is the population's mean chance.
    rng = np.random.default_rng(0)
    for n in (9, 20, 100):
        for scale in (0.05, 0.3):
            population = rng.beta(0.5, 0.5 / scale - 0.5, size=100_000)
            truth = population.mean()
            covered = [
                (e := expected_rate(rng.choice(population, n))).lo <= truth <= e.hi
                for _ in range(500)
            ]
            assert np.mean(covered) >= 0.93, (n, scale, np.mean(covered))


def test_over_seeds_weighs_seeds_equally_and_resamples_them():
    from alignlab.stats import over_seeds

    est = over_seeds([np.ones(10), np.zeros(30)])
    assert est.value == 0.5 and est.n == 40  # seeds weigh the same, not items
    assert est.lo == 0.0 and est.hi == 1.0  # two seeds that disagree wholly: any mix
    one = over_seeds([np.array([0.0, 1.0, 1.0, 1.0])], seed=3)
    assert one == bootstrap_ci(np.array([0.0, 1.0, 1.0, 1.0]), seed=3)
    assert over_seeds([np.array([]), np.array([])]).n == 0


def test_over_seeds_covers_a_mean_that_varies_between_seeds():
    from alignlab.stats import over_seeds

    # Each seed's items have their own mean (the seed's trained model), drawn around 0.6.
    rng = np.random.default_rng(0)
    trials, covered, pooled = 200, 0, 0
    for t in range(trials):
        means = np.clip(rng.normal(0.6, 0.1, size=4), 0, 1)
        groups = [rng.random(50) < m for m in means]
        est = over_seeds(groups, n_resamples=400, seed=t)
        covered += est.lo <= 0.6 <= est.hi
        flat = bootstrap_ci(np.concatenate(groups), n_resamples=400, seed=t)
        pooled += flat.lo <= 0.6 <= flat.hi
    assert covered / trials >= 0.85  # ignoring seeds would cover far less often
    assert pooled < covered


def test_over_seeds_never_gives_an_all_zero_rate_a_point_interval():
    from alignlab.stats import over_seeds

    est = over_seeds([np.zeros(10), np.zeros(20)])
    assert (
        est.value == 0.0
        and est.lo == 0.0
        and est.hi == pytest.approx(proportion_confint(0, 30, method="beta")[1])
    )
    assert over_seeds([np.ones(5)]).lo < 1.0


def test_over_seeds_of_differences_does_not_give_a_constant_pool_a_rate_interval():
    from alignlab.stats import over_seeds

    # Paired differences that are all zero are no rate of 0 successes: no interval above 0.
    est = over_seeds([np.zeros(10), np.zeros(20)], rate=False)
    assert (est.value, est.lo, est.hi) == (0.0, 0.0, 0.0)
    assert over_seeds([np.ones(5)], rate=False).lo == 1.0
