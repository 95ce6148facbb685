"""Agreement between utility functions, and between a scorer and labelled comparisons.

A utility function maps each action (a response) to a score; two agents are
aligned when they order all actions the same way. This module measures how
far two orderings agree (pairwise agreement, Kendall's tau-b, Spearman's
rho), how often a scorer sides with labelled comparisons, and how well a score ranks
right items above wrong ones (the area under the ROC curve). How reliably a
pool of annotators labels the same units (Krippendorff's alpha, Cohen's and
Fleiss' kappa) is :mod:`alignlab.stats.reliability`.

Ranking functions take 1-D utilities (NaN is an error) and run in
O(n log^2 n) time and O(n) memory, so a million actions take seconds.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np

from alignlab.stats.intervals import Estimate, mean

Ties = Literal["half", "drop"]


def ordering(utilities) -> np.ndarray:
    """Indices of the actions from best (highest utility) to worst; ties keep input order."""
    return np.argsort(-_as_utilities(utilities, "utilities"), kind="stable")


def ranks(utilities) -> np.ndarray:
    """Ranks 1..n from lowest to highest utility, tied actions sharing their average rank."""
    u = _as_utilities(utilities, "utilities")
    order = np.argsort(u, kind="stable")
    sorted_u = u[order]
    first = np.r_[True, sorted_u[1:] != sorted_u[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], u.size]  # a tie group fills sorted positions [start, end)
    group = np.cumsum(first) - 1
    result = np.empty(u.size)
    result[order] = (starts[group] + ends[group] + 1) / 2.0
    return result


class PairCounts(NamedTuple):
    """How the n(n-1)/2 pairs of actions fall under two utility functions u and v."""

    n_pairs: int
    concordant: int  # strictly ordered the same way by both
    discordant: int  # strictly ordered opposite ways
    tied_u_only: int  # tied under u, strictly ordered by v
    tied_v_only: int
    tied_both: int


def pair_counts(u, v) -> PairCounts:
    """Classify every pair of actions, in O(n log^2 n) without listing the pairs.

    Ties come from group sizes; discordant pairs are the inversions of v once
    the actions are sorted by (u, v) (Knight 1966, "A computer method for
    calculating Kendall's tau with ungrouped data"), counted by a merge sort.
    """
    u, v = _as_pair(u, v)
    n = u.size
    u_code = np.unique(u, return_inverse=True)[1]
    v_code = np.unique(v, return_inverse=True)[1]
    tied_u = _tied_pairs(u_code)
    tied_v = _tied_pairs(v_code)
    tied_both = _tied_pairs(u_code * n + v_code)
    n_pairs = n * (n - 1) // 2
    discordant = _inversions(v_code[np.lexsort((v_code, u_code))])
    untied = n_pairs - tied_u - tied_v + tied_both
    return PairCounts(
        n_pairs=n_pairs,
        concordant=untied - discordant,
        discordant=discordant,
        tied_u_only=tied_u - tied_both,
        tied_v_only=tied_v - tied_both,
        tied_both=tied_both,
    )


def discordant_pairs(u, v) -> int:
    """Number of action pairs that u and v strictly order opposite ways."""
    return pair_counts(u, v).discordant


def pairwise_agreement(u, v, *, ties: Ties = "half") -> float:
    """Fraction of action pairs i < j that u and v order the same way.

    A pair strictly ordered alike by both agrees; a pair tied under both
    agrees; a pair tied under one and strictly ordered by the other counts
    1/2 with ``ties="half"`` (a coin flip would break the tie) and is left
    out with ``ties="drop"``. NaN when no pair counts (fewer than 2 actions).
    """
    _check_ties(ties)
    c = pair_counts(u, v)
    one_sided = c.tied_u_only + c.tied_v_only
    agree = c.concordant + c.tied_both
    if ties == "half":
        total, agree = c.n_pairs, agree + 0.5 * one_sided
    else:
        total = c.n_pairs - one_sided
    return agree / total if total else float("nan")


def kendall_tau_b(u, v) -> float:
    """Kendall's tau-b: (C - D) / sqrt((P - T_u) (P - T_v)).

    C and D count concordant and discordant pairs, P all pairs, T_u and T_v
    the pairs tied under u and under v (Kendall 1945, "The treatment of ties
    in ranking problems"). NaN when u or v is constant.
    """
    c = pair_counts(u, v)
    tied_u = c.tied_u_only + c.tied_both
    tied_v = c.tied_v_only + c.tied_both
    # One square root of the exact integer product, so identical orderings give exactly 1.
    denominator = math.sqrt((c.n_pairs - tied_u) * (c.n_pairs - tied_v))
    if denominator == 0:
        return float("nan")
    return float(np.clip((c.concordant - c.discordant) / denominator, -1.0, 1.0))


def spearman_rho(u, v) -> float:
    """Spearman's rho: Pearson's correlation of the average ranks (Spearman 1904).

    NaN when u or v is constant.
    """
    u, v = _as_pair(u, v)
    ru = ranks(u) - (u.size + 1) / 2.0
    rv = ranks(v) - (v.size + 1) / 2.0
    denominator = math.sqrt((ru @ ru) * (rv @ rv))
    if denominator == 0:
        return float("nan")
    return float(np.clip(ru @ rv / denominator, -1.0, 1.0))


def comparison_accuracy(
    chosen_scores,
    rejected_scores,
    *,
    labels=None,
    ties: Ties = "half",
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """How often a scorer prefers the response the labels prefer, with a bootstrap interval.

    Per comparison the agreement is ``p [s_c > s_r] + (1 - p) [s_c < s_r]``,
    where ``p`` is the labelled probability that ``chosen`` is preferred
    (``labels``; 1 for every comparison when ``labels`` is None), so soft
    labels give the expected agreement with a labeller who picks ``chosen``
    with probability p. A tied score counts 1/2 with ``ties="half"`` and
    drops the comparison with ``ties="drop"``.
    """
    _check_ties(ties)
    chosen, rejected = _as_pair(chosen_scores, rejected_scores, "chosen_scores", "rejected_scores")
    if labels is None:
        p = np.ones(chosen.size)
    else:
        p = _as_utilities(labels, "labels")
        if p.size != chosen.size:
            raise ValueError(f"labels has {p.size} values for {chosen.size} comparisons")
        if ((p < 0) | (p > 1)).any():
            raise ValueError("labels must be probabilities in [0, 1]")
    agreement = p * (chosen > rejected) + (1 - p) * (chosen < rejected)
    tied = chosen == rejected
    agreement = np.where(tied, 0.5, agreement) if ties == "half" else agreement[~tied]
    return mean(agreement, level=level, seed=seed)


def ranking_auc(scores, labels) -> float | None:
    """How well a reward model ranks right above wrong: the chance that a random right
    item outscores a random wrong one, ties counting half (the area under the ROC curve, by
    Mann & Whitney's rank sum: ``(R_right - n_r (n_r + 1) / 2) / (n_r n_w)``, R_right the sum
    of the right items' ranks among all). ``None`` without both classes."""
    scores = np.asarray(scores, dtype=float)
    right = np.asarray(labels, dtype=bool)
    n_right, n_wrong = int(right.sum()), int((~right).sum())
    if not n_right or not n_wrong:
        return None
    rank_sum = ranks(scores)[right].sum()
    return float((rank_sum - n_right * (n_right + 1) / 2) / (n_right * n_wrong))


def _tied_pairs(codes: np.ndarray) -> int:
    sizes = np.unique(codes, return_counts=True)[1].astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def _inversions(x: np.ndarray) -> int:
    """Pairs i < j with x[i] > x[j], by a bottom-up merge sort.

    At each pass every block of 2w items merges two sorted halves; a right
    half's item moves left past exactly the left half's items greater than
    it, and a left half's item moves right past the smaller ones, so the
    pass's cross inversions are half the total distance the items move.
    """
    n = x.size
    position = np.arange(n)
    x = x.astype(np.int64)
    total = 0
    width = 1
    while width < n:
        # x < n, so sorting block * n + x merges within blocks; "stable" keeps equal
        # values in place (no inversion) and lets the sort exploit the sorted halves.
        order = np.argsort((position // (2 * width)) * n + x, kind="stable")
        total += int(np.abs(order - position).sum()) // 2
        x = x[order]
        width *= 2
    return total


def _check_ties(ties: str) -> None:
    if ties not in ("half", "drop"):
        raise ValueError(f"ties must be 'half' or 'drop', got {ties!r}")


def _as_utilities(values, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one score per action), got shape {values.shape}")
    missing = np.isnan(values)
    if missing.any():
        raise ValueError(f"{name} contains NaN at index {int(np.flatnonzero(missing)[0])}")
    return values


def _as_pair(u, v, u_name: str = "u", v_name: str = "v") -> tuple[np.ndarray, np.ndarray]:
    u, v = _as_utilities(u, u_name), _as_utilities(v, v_name)
    if u.size != v.size:
        raise ValueError(
            f"{u_name} and {v_name} must score the same actions: got {u.size} and {v.size} scores"
        )
    return u, v
