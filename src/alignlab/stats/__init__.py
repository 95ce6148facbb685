"""Alignment as numbers: agreement of orderings and labels, with n and an interval.

Imports numpy and scipy only, so measuring never loads a deep-learning stack.
"""

from alignlab.stats.agreement import (
    PairCounts,
    comparison_accuracy,
    disagreement_rate,
    discordant_pairs,
    kendall_tau_b,
    krippendorff_alpha,
    majority_labels,
    ordering,
    pair_counts,
    pairwise_agreement,
    ranks,
    reliability_from_labels,
    spearman_rho,
)
from alignlab.stats.intervals import Estimate, bootstrap_ci, mean, paired_difference, rate

__all__ = [
    "Estimate",
    "PairCounts",
    "bootstrap_ci",
    "comparison_accuracy",
    "disagreement_rate",
    "discordant_pairs",
    "kendall_tau_b",
    "krippendorff_alpha",
    "majority_labels",
    "mean",
    "ordering",
    "pair_counts",
    "paired_difference",
    "pairwise_agreement",
    "ranks",
    "rate",
    "reliability_from_labels",
    "spearman_rho",
]
