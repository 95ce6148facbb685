"""Alignment as numbers: agreement of orderings and labels, with n and an interval.

``intervals``: :class:`Estimate` (value, n, interval); binomial intervals for rates
(Clopper-Pearson, Wilson), the percentile bootstrap for other statistics. ``agreement``:
how two orderings agree (Kendall's tau-b, Spearman's rho) and how a scorer agrees with
labelled comparisons. ``reliability``: how annotators agree (Krippendorff's alpha, Cohen's
and Fleiss' kappa). Imports numpy, scipy and statsmodels only, so measuring never loads a
deep-learning stack.
"""

from alignlab.stats.agreement import (
    PairCounts,
    comparison_accuracy,
    discordant_pairs,
    kendall_tau_b,
    ordering,
    pair_counts,
    pairwise_agreement,
    ranking_auc,
    ranks,
    spearman_rho,
)
from alignlab.stats.intervals import (
    DEFAULT_RATE_INTERVAL,
    RATE_INTERVALS,
    Estimate,
    bootstrap_ci,
    clopper_pearson,
    expected_rate,
    mean,
    over_seeds,
    paired_difference,
    rate,
    register_rate_interval,
    wilson,
)
from alignlab.stats.reliability import (
    cohens_kappa,
    disagreement_rate,
    fleiss_kappa,
    krippendorff_alpha,
    majority_labels,
    reliability_from_labels,
)

__all__ = [
    "DEFAULT_RATE_INTERVAL",
    "RATE_INTERVALS",
    "Estimate",
    "PairCounts",
    "bootstrap_ci",
    "clopper_pearson",
    "cohens_kappa",
    "comparison_accuracy",
    "disagreement_rate",
    "discordant_pairs",
    "expected_rate",
    "fleiss_kappa",
    "kendall_tau_b",
    "krippendorff_alpha",
    "majority_labels",
    "mean",
    "ordering",
    "over_seeds",
    "pair_counts",
    "paired_difference",
    "pairwise_agreement",
    "ranking_auc",
    "ranks",
    "rate",
    "register_rate_interval",
    "reliability_from_labels",
    "spearman_rho",
    "wilson",
]
