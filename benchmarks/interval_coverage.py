"""Coverage of 95% intervals for a rate: each registered method against the old bootstrap.

For each n and p, draws ``--draws`` samples of n Bernoulli(p) items (as their success
counts, which is all an interval of a rate depends on), builds each interval, and prints
the fraction that contain p. The baseline is what ``alignlab.stats.rate`` did before it
used statsmodels: the percentile bootstrap of the sample mean (``--resamples`` resamples,
the 2.5% and 97.5% quantiles), re-implemented here only for comparison.

    python benchmarks/interval_coverage.py --draws 4000 --seed 0
"""

from __future__ import annotations

import argparse

import numpy as np

from alignlab.stats.intervals import DEFAULT_RATE_INTERVAL, RATE_INTERVALS

NS = (20, 30, 100)
PS = (0.02, 0.05, 0.1, 0.5)
LEVEL = 0.95


def bootstrap_interval(
    successes: np.ndarray, n: int, resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The old percentile bootstrap of a rate, one interval per sample.

    Resampling n items with replacement from a sample with x successes draws
    ``Binomial(n, x / n)`` successes, the same distribution the old code drew through
    ``Multinomial(n, observed frequencies)`` of the two values 0 and 1.
    """
    replicates = rng.binomial(n, successes[:, None] / n, size=(successes.size, resamples)) / n
    alpha = (1.0 - LEVEL) / 2.0
    lo, hi = np.quantile(replicates, [alpha, 1.0 - alpha], axis=1)
    return lo, hi


def coverage(lo: np.ndarray, hi: np.ndarray, p: float) -> float:
    return float(np.mean((lo <= p) & (p <= hi)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4000, help="samples per (n, p)")
    parser.add_argument("--seed", type=int, default=0, help="numpy seed")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    methods = list(RATE_INTERVALS)
    columns = [*methods, "bootstrap"]
    width = max(len(c) for c in columns) + 2
    print(
        f"95% interval coverage, {args.draws} draws per row, seed {args.seed}; "
        f"default method: {DEFAULT_RATE_INTERVAL}"
    )
    print(f"{'n':>5} {'p':>6}" + "".join(f"{c:>{width}}" for c in columns))
    for n in NS:
        for p in PS:
            successes = rng.binomial(n, p, size=args.draws)
            row = []
            for method in methods:
                # An interval depends on the count alone: build it once per count 0..n.
                lo, hi = RATE_INTERVALS[method](np.arange(n + 1), n, LEVEL)
                row.append(coverage(lo[successes], hi[successes], p))
            row.append(coverage(*bootstrap_interval(successes, n, args.resamples, rng), p))
            print(f"{n:>5} {p:>6.2f}" + "".join(f"{c:>{width}.3f}" for c in row))


if __name__ == "__main__":
    main()
