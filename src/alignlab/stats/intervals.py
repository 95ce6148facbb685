"""Point estimates with their n and a percentile-bootstrap confidence interval.

Every figure alignlab reports is an :class:`Estimate`: a value, the number of
items behind it, and an interval. The interval is Efron's percentile
bootstrap (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*,
ch. 13): resample the n items with replacement ``n_resamples`` times,
recompute the statistic on each resample, and take the ``(1 - level) / 2``
and ``(1 + level) / 2`` quantiles of those values.

Empty input is not an error: it gives ``Estimate(nan, 0, nan, nan)``, so a
report can show a failure mode that had no items (``nan [nan, nan] (n=0)``)
rather than crash. NaN inside the input *is* an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

Statistic = Callable[..., np.ndarray]

# Largest resample block held in memory at once (resamples x items indices).
_MAX_BLOCK = 1 << 22
# The mean's bootstrap is drawn from value counts when there are at most this many distinct values.
_MAX_DISTINCT = 256


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


def rate(successes, *, n_resamples: int = 2000, level: float = 0.95, seed: int = 0) -> Estimate:
    """Proportion of ``successes`` (booleans, or 0/1) with a bootstrap interval."""
    successes = _as_items(successes, "successes")
    bad = (successes != 0) & (successes != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"successes must be booleans or 0/1; item {i} is {successes[i]}")
    return mean(successes, n_resamples=n_resamples, level=level, seed=seed)


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


def _check_options(n_resamples: int, level: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
