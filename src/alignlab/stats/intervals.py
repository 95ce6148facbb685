"""Point estimates with their n and a confidence interval: exact or score intervals for rates,
the percentile bootstrap for every other statistic.

Every figure alignlab reports is an :class:`Estimate`: a value, the number of items behind
it, and an interval.

A rate (the proportion of n items that succeed) gets a binomial interval from statsmodels'
``proportion_confint``, chosen by name from :data:`RATE_INTERVALS`: Clopper-Pearson (the
default) or Wilson. The percentile bootstrap is wrong for rates exactly where rates matter
most, small n and rare failures: a sample with no failure resamples to no failure, so its
interval is ``[0, 0]`` whatever n, and its nominal 95% covers p = 0.02 at n = 20 a third
of the time, p = 0.05 two times in three (``benchmarks/interval_coverage.py``; on binomial
intervals see Brown, Cai & DasGupta 2001, "Interval Estimation for a Binomial Proportion",
*Statistical Science* 16(2)). Wilson's interval misses a 0.93 coverage floor on the grid
n in {20, 30, 100}, p in {0.02, 0.05, 0.1, 0.5} (0.924 at n = 20, p = 0.05, by the exact
binomial sum), so the default is Clopper-Pearson, which never covers less than ``level``.

Other statistics (means of scores, medians, paired differences) get Efron's percentile
bootstrap (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 13): resample
the n items with replacement ``n_resamples`` times, recompute the statistic on each
resample, and take the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of those
values.

Empty input is not an error: it gives ``Estimate(nan, 0, nan, nan)``, so a
report can show a failure mode that had no items (``nan [nan, nan] (n=0)``)
rather than crash. NaN inside the input *is* an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike

from alignlab.registry import registrar

Statistic = Callable[..., np.ndarray]
RateInterval = Callable[[ArrayLike, ArrayLike, float], tuple[np.ndarray, np.ndarray]]
"""``(successes, n, level) -> (lo, hi)``, elementwise over arrays of counts."""

# Largest resample block held in memory at once (resamples x items indices).
_MAX_BLOCK = 1 << 22
# The mean's bootstrap is drawn from value counts when there are at most this many distinct values.
_MAX_DISTINCT = 256

RATE_INTERVALS: dict[str, RateInterval] = {}

DEFAULT_RATE_INTERVAL = "clopper-pearson"
"""Meets 95% coverage of at least 0.93 at every n in {20, 30, 100} and p in {0.02, 0.05,
0.1, 0.5}; Wilson does not (0.924 at n = 20, p = 0.05). See tests/test_intervals.py."""


register_rate_interval = registrar(RATE_INTERVALS, "rate interval")
"""Register a binomial interval ``(successes, n, level) -> (lo, hi)`` under names."""


@register_rate_interval("clopper-pearson")
def clopper_pearson(successes, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Clopper & Pearson (1934), the "exact" interval: x successes of n, a = 1 - level.

    ``lo = B(a/2; x, n - x + 1)`` and ``hi = B(1 - a/2; x + 1, n - x)``, B the Beta quantile,
    with ``lo = 0`` at x = 0 and ``hi = 1`` at x = n. It inverts two one-sided binomial
    tests, so it covers p with probability at least ``level`` for every p and n, at the
    price of some width (Clopper & Pearson 1934, "The use of confidence or fiducial limits
    illustrated in the case of the binomial", *Biometrika* 26(4)). statsmodels
    ``proportion_confint(method="beta")``.
    """
    return _proportion_confint(successes, n, level, "beta")


@register_rate_interval("wilson")
def wilson(successes, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval (Wilson 1927, *JASA* 22(158)): p^ = x / n, z the normal quantile.

    ``(p^ + z^2 / 2n  +-  z sqrt(p^ (1 - p^) / n + z^2 / 4n^2)) / (1 + z^2 / n)``: the p whose
    score test does not reject. Narrower than Clopper-Pearson and near ``level`` on average,
    but its coverage dips below it for some p (0.924 at n = 20, p = 0.05; Brown, Cai &
    DasGupta 2001). statsmodels ``proportion_confint(method="wilson")``.
    """
    return _proportion_confint(successes, n, level, "wilson")


def _proportion_confint(successes, n, level: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    """statsmodels' interval, with the bounds that are 0 or 1 in exact arithmetic set so.

    (Wilson's lower bound at x = 0 is ``center - half-width``, which rounds to ~1e-18.)
    statsmodels is imported here, when a rate is first asked for: it brings pandas, a
    second of start-up that a command without rates should not pay.
    """
    from statsmodels.stats.proportion import proportion_confint

    successes, n = np.asarray(successes), np.asarray(n)
    lo, hi = proportion_confint(successes, n, alpha=1.0 - level, method=method)
    lo = np.where(successes == 0, 0.0, np.clip(lo, 0.0, 1.0))
    hi = np.where(successes == n, 1.0, np.clip(hi, 0.0, 1.0))
    return lo, hi


@dataclass(frozen=True)
class Estimate:
    """A statistic with its sample size and a ``level`` confidence interval ``[lo, hi]``."""

    value: float
    n: int
    lo: float
    hi: float
    level: float = 0.95

    def __str__(self) -> str:
        text = f"{self.value:.3f} [{self.lo:.2f}, {self.hi:.2f}] (n={self.n}"
        if self.level != 0.95:
            text += f", {self.level:.0%}"
        return text + ")"

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def bootstrap_ci(
    values,
    statistic: Statistic | None = None,
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Percentile bootstrap interval of ``statistic`` over the items ``values`` (1-D).

    ``statistic`` reduces an array along an ``axis`` keyword, as ``np.mean``,
    ``np.median`` or ``np.std`` do; it is called on blocks of resamples of
    shape ``[resamples, n]`` with ``axis=-1``. The default, the mean, needs
    no such block when the values take few distinct values (rates, scores on
    a small scale): a resample's count of each distinct value is then drawn
    directly, ``counts ~ Multinomial(n, observed frequencies)``, which is the
    same distribution as resampling the items and costs O(distinct values)
    per resample instead of O(n); otherwise a million items with 2000
    resamples take seconds. Results are deterministic given ``seed``.
    """
    values = _as_items(values, "values")
    _check_options(n_resamples, level)
    n = values.size
    if n == 0:
        return Estimate(float("nan"), 0, float("nan"), float("nan"), level)
    rng = np.random.default_rng(seed)
    if statistic is None:
        value = float(values.mean())
        replicates = _bootstrap_means(values, n_resamples, rng)
    else:
        value = float(statistic(values, axis=-1))
        replicates = _bootstrap_statistic(values, statistic, n_resamples, rng)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(replicates, [alpha, 1.0 - alpha])
    return Estimate(value, n, float(lo), float(hi), level)


def mean(values, *, n_resamples: int = 2000, level: float = 0.95, seed: int = 0) -> Estimate:
    """Mean of per-item ``values`` with a bootstrap interval."""
    return bootstrap_ci(values, n_resamples=n_resamples, level=level, seed=seed)


def rate(
    successes,
    *,
    method: str = DEFAULT_RATE_INTERVAL,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Proportion of ``successes`` (booleans, or 0/1) with a ``method`` binomial interval.

    ``method`` names an interval of :data:`RATE_INTERVALS`; the default, Clopper-Pearson,
    covers at least ``level`` at every n and p. No sample gets a point interval: all
    failures give ``[0, hi]`` with ``hi > 0``, all successes ``[lo, 1]`` with ``lo < 1``.
    ``n_resamples`` and ``seed`` are accepted for callers of the bootstrap era and ignored:
    the interval is a formula of the count, the same on every call.
    """
    interval = _rate_interval(method)
    successes = _as_items(successes, "successes")
    bad = (successes != 0) & (successes != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"successes must be booleans or 0/1; item {i} is {successes[i]}")
    return _counted(successes, interval, level)


def expected_rate(chances, *, method: str = DEFAULT_RATE_INTERVAL, level: float = 0.95) -> Estimate:
    """A rate whose hits are chances: ``chances[i]`` in [0, 1] is unit i's probability of a
    hit (a best-of-n selection's chance of picking a failing sample), so the rate is their
    mean and the count their sum, ``x = sum_i p_i``, given to the ``method`` interval as if
    it were a binomial count. A sum of independent Bernoulli(p_i) (Poisson-binomial) varies
    less than a binomial of the same mean, and an expectation less still, so the interval
    keeps its coverage; with 0/1 chances it is :func:`rate`'s, and an all-zero sample still
    gets ``[0, hi > 0]``.
    """
    interval = _rate_interval(method)
    chances = _as_items(chances, "chances")
    bad = (chances < 0) | (chances > 1) | ~np.isfinite(chances)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"chances must lie in [0, 1]; item {i} is {chances[i]}")
    return _counted(chances, interval, level)


def _counted(hits: np.ndarray, interval, level: float) -> Estimate:
    """The rate of ``hits`` (0/1, or chances) with ``interval`` of their sum as the count."""
    _check_level(level)
    n = hits.size
    if n == 0:
        return Estimate(float("nan"), 0, float("nan"), float("nan"), level)
    lo, hi = interval(float(hits.sum()), n, level)
    return Estimate(float(hits.mean()), n, float(lo), float(hi), level)


def over_seeds(
    groups, *, rate: bool = True, n_resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> Estimate:
    """Mean of per-item values gathered under several seeds (one array per seed), with a
    two-stage bootstrap interval: resample the seeds, then the items within each seed.

    Items of one seed share its trained models, so they are not independent of each other;
    resampling seeds first carries the seed-to-seed variation into the interval, and with
    one seed it is the ordinary bootstrap. Every seed weighs the same; ``n`` counts items.
    Rates whose every item is a success (or every one a failure) get the Clopper-Pearson
    interval of the pooled count instead of the bootstrap's point, so none is ``[0, 0]``;
    ``rate=False`` says the values are not successes (differences, scores), whose
    constant pool keeps the bootstrap's point.
    """
    arrays = [_as_items(g, f"groups[{i}]") for i, g in enumerate(groups)]
    _check_options(n_resamples, level)
    arrays = [a for a in arrays if a.size]
    if not arrays:
        return Estimate(float("nan"), 0, float("nan"), float("nan"), level)
    value = float(np.mean([a.mean() for a in arrays]))
    pooled = np.concatenate(arrays)
    if rate and np.all(pooled == pooled[0]) and pooled[0] in (0.0, 1.0):
        return _counted(pooled, clopper_pearson, level)
    rng = np.random.default_rng(seed)
    if len(arrays) == 1:
        replicates = _bootstrap_means(arrays[0], n_resamples, rng)
    else:
        # inner[s, r]: seed s's mean under item resample r; each replicate draws seeds,
        # and for each drawn seed one of its item resamples, independently.
        inner = np.stack([_bootstrap_means(a, n_resamples, rng) for a in arrays])
        shape = (n_resamples, len(arrays))
        picks = rng.integers(0, len(arrays), size=shape)
        replicates = inner[picks, rng.integers(0, n_resamples, size=shape)].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(replicates, [alpha, 1.0 - alpha])
    return Estimate(value, sum(a.size for a in arrays), float(lo), float(hi), level)


def paired_difference(
    a, b, *, n_resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> Estimate:
    """Mean of ``a - b`` over the same items, e.g. two models' scores or successes.

    Items are resampled as pairs, so what the two share (an item's
    difficulty) cancels and the interval is narrower than one built from two
    independent intervals. For successes this is the difference of rates.
    """
    a = _as_items(a, "a")
    b = _as_items(b, "b")
    if a.size != b.size:
        raise ValueError(f"a and b must score the same items: got {a.size} and {b.size} values")
    return mean(a - b, n_resamples=n_resamples, level=level, seed=seed)


def _bootstrap_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    distinct, counts = np.unique(values, return_counts=True)
    n = values.size
    if distinct.size <= _MAX_DISTINCT:
        draws = rng.multinomial(n, counts / n, size=n_resamples)
        return draws @ distinct / n
    return _bootstrap_statistic(values, np.mean, n_resamples, rng)


def _bootstrap_statistic(
    values: np.ndarray, statistic: Statistic, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    n = values.size
    block = max(1, _MAX_BLOCK // n)
    replicates = []
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        resamples = values[rng.integers(0, n, size=(size, n))]
        replicates.append(np.asarray(statistic(resamples, axis=-1), dtype=float))
    return np.concatenate(replicates)


def _as_items(values, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per item), got shape {values.shape}")
    missing = np.isnan(values)
    if missing.any():
        raise ValueError(f"{name} contains NaN at item {int(np.flatnonzero(missing)[0])}")
    return values


def _rate_interval(method: str) -> RateInterval:
    if method not in RATE_INTERVALS:
        raise ValueError(
            f"unknown rate interval method {method!r}; known: {', '.join(sorted(RATE_INTERVALS))}"
        )
    return RATE_INTERVALS[method]


def _check_options(n_resamples: int, level: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    _check_level(level)


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
