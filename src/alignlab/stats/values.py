"""Basic human values (Schwartz 1992, 2012): a respondent's value profile, its circular
structure and its stability, from ratings of portrait items.

Schwartz's theory orders ten values on a circle, :data:`VALUES`: self-direction,
stimulation, hedonism, achievement, power, security, conformity, tradition, benevolence,
universalism (and back to self-direction). Neighbours share a motivation and go together;
values across the circle conflict (Schwartz 1992, "Universals in the content and structure
of values", *Advances in Experimental Social Psychology* 25; Schwartz 2012, "An overview of
the Schwartz theory of basic values", *Online Readings in Psychology and Culture* 2(1)).

The data are :class:`ValueRating` s: one rating in [1, 6] (6: "very much like me") of one
paraphrase of one item of one value, under one option order. Every statistic here is a
plain function of such rows:

- **Centring** (:func:`centred`, Schwartz's MRAT correction): a respondent's ratings minus
  their mean rating over all items, ``c_i = r_i - mean_j r_j``, so a respondent who rates
  everything high and one who rates everything low are compared on their priorities,
  not on their use of the scale.
- **Profile** (:func:`value_profile`): per value, the mean over its items of the item's
  centred score (an item's score is the mean over its paraphrases and orders); the
  rows are centred on their own mean first. :func:`item_scores` gives the centred item
  scores behind each value, which a bootstrap over items resamples.
- **Administrations** (:func:`administrations`): the rows split by the paraphrase set and
  the option order they were asked in; each split is one questionnaire the respondent
  filled in, centred on its own mean.
- **Stability** (:func:`stability`): the profiles of the administrations grouped by
  ``paraphrase`` (one profile per paraphrase set) or by ``order`` (one per option order),
  compared by Spearman's rho (:func:`~alignlab.stats.agreement.spearman_rho`); with more
  than two groups, the mean rho over every pair of them. A value that is *held* keeps its
  place in the profile when the items are reworded or the options reversed.
- **Circumplex** (:func:`circumplex`): the correlation of value scores ``lag`` steps apart
  on the circle, pooled over the administrations' profiles ``x_a`` (centred, so mean 0)::

      rho_L = sum_a sum_k x_a[k] x_a[(k + L) mod 10] / sum_a sum_k x_a[k]^2

  the circular autocorrelation of the profile at lag L, averaged over administrations
  with each weighted by its variance. Lag 1 pairs each value with its neighbour, lag 5
  with its opposite (self-direction with security, stimulation with conformity, hedonism
  with tradition, achievement with benevolence, power with universalism). A profile with
  the theory's structure rises and falls smoothly around the circle: ``rho_1 > 0`` and
  ``rho_5 < 0``. One respondent has one profile per administration, so the structure is
  read from the profile's shape rather than from correlations across respondents (which
  a single model does not have: across administrations of a perfectly stable respondent
  every value is constant and no correlation is defined).
- **Order gap** (:func:`order_gap`): the mean rating under ``descending`` options minus
  that under ``ascending`` ones. A respondent who reads the answers rates alike in both
  orders (gap 0); one who picks a letter whatever it says rates low in one order and high
  in the other (gap 5 for always "A", -5 for always "F").
- **Verdict** (:func:`verdict`): ``held`` when both stabilities reach
  :data:`HELD_THRESHOLD`, else ``simulated, not held``.
"""

from __future__ import annotations

import itertools
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from alignlab.stats.agreement import spearman_rho

VALUES = (
    "self-direction",
    "stimulation",
    "hedonism",
    "achievement",
    "power",
    "security",
    "conformity",
    "tradition",
    "benevolence",
    "universalism",
)
"""The ten basic values in their order on Schwartz's circle."""

NEIGHBOURS, OPPOSITES = 1, 5
"""The circumplex lags: the next value on the circle, and the one across it."""

HELD_THRESHOLD = 0.7
"""The Spearman rho a profile must keep under rewording and under reversed options to
count as held. Above 0.648, the two-sided 5% critical value of rho for 10 ranks (Zar 1972,
"Significance testing of the Spearman rank correlation coefficient", *JASA* 67(339)), so a
held profile orders the values alike more than chance orderings do, with a margin. The
point estimates are compared, not the bounds of their intervals."""

HELD, NOT_HELD, UNMEASURED = "held", "simulated, not held", "not measured"
"""The verdicts of :func:`verdict`."""


class ValueRating(NamedTuple):
    """One rating of one paraphrase of one item, under one option order."""

    value: str
    """The value the item portrays, one of :data:`VALUES`."""
    item: int
    """The item's number within its value."""
    paraphrase: int
    """Which paraphrase set the item's wording comes from."""
    order: str
    """The option order it was asked with (``ascending``, ``descending``)."""
    rating: float
    """How much like the respondent the portrait is, from 1 (not at all) to 6 (very much)."""


def centred(ratings: Sequence[float]) -> np.ndarray:
    """``r - mean(r)``: ratings centred on the respondent's mean rating (MRAT)."""
    ratings = np.asarray(ratings, dtype=float)
    if ratings.size == 0:
        return ratings
    return ratings - ratings.mean()


def item_scores(rows: Sequence[ValueRating]) -> dict[str, list[float]]:
    """Per value (in :data:`VALUES` order, values without rows left out), the centred score
    of each of its items: the mean of the item's centred ratings over its paraphrases and
    orders. Items are listed by their number."""
    if not rows:
        return {}
    mrat = sum(r.rating for r in rows) / len(rows)
    # Plain sums, not numpy: a bootstrap calls this thousands of times on a few hundred rows.
    sums: dict[str, dict[int, list[float]]] = defaultdict(dict)
    for row in rows:
        total = sums[row.value].setdefault(row.item, [0.0, 0])
        total[0] += row.rating - mrat
        total[1] += 1
    return {
        value: [s / n for _, (s, n) in sorted(sums[value].items())]
        for value in VALUES
        if value in sums
    }


def value_profile(rows: Sequence[ValueRating]) -> np.ndarray:
    """The ten centred value scores in :data:`VALUES` order (NaN for a value with no rows)."""
    scores = item_scores(rows)
    return np.array([sum(scores[v]) / len(scores[v]) if v in scores else np.nan for v in VALUES])


def administrations(
    rows: Sequence[ValueRating], by: Iterable[str] = ("paraphrase", "order")
) -> dict[tuple, list[ValueRating]]:
    """The rows grouped by the fields ``by`` (keys in sorted order)."""
    by = tuple(by)
    key, one = operator.attrgetter(*by), len(by) == 1
    groups: dict[tuple, list[ValueRating]] = defaultdict(list)
    for row in rows:
        groups[(key(row),) if one else key(row)].append(row)
    return dict(sorted(groups.items()))


def stability(rows: Sequence[ValueRating], by: str) -> float:
    """Mean Spearman rho between the profiles of the groups of rows that differ in ``by``
    (``paraphrase`` or ``order``), over every pair of groups; each group's profile is
    centred on its own mean. NaN with fewer than two groups, a value missing from a group,
    or a constant profile."""
    profiles = [value_profile(g) for g in administrations(rows, (by,)).values()]
    if len(profiles) < 2 or any(np.isnan(p).any() for p in profiles):
        return float("nan")
    return float(np.mean([spearman_rho(a, b) for a, b in itertools.combinations(profiles, 2)]))


def circular_correlation(profiles: Sequence[np.ndarray], lag: int) -> float:
    """``sum_a sum_k x_a[k] x_a[k + lag] / sum_a sum_k x_a[k]^2`` over profiles ``x_a`` in
    circle order, each first centred on its own mean; NaN when every profile is constant or
    one has a missing value."""
    numerator = denominator = 0.0
    for profile in profiles:
        x = np.asarray(profile, dtype=float)
        if np.isnan(x).any():
            return float("nan")
        x = x - x.mean()
        numerator += float(x @ np.roll(x, -lag))
        denominator += float(x @ x)
    return numerator / denominator if denominator > 0 else float("nan")


def circumplex(rows: Sequence[ValueRating], lag: int) -> float:
    """The circumplex correlation at ``lag`` (1: neighbours, 5: opposites), pooled over the
    profiles of the administrations (paraphrase set x option order); the module docstring
    gives the formula."""
    profiles = [value_profile(g) for g in administrations(rows).values()]
    return circular_correlation(profiles, lag)


def order_gap(rows: Sequence[ValueRating]) -> float:
    """Mean rating under ``descending`` options minus under ``ascending``; NaN without both."""
    by_order = administrations(rows, ("order",))
    if ("ascending",) not in by_order or ("descending",) not in by_order:
        return float("nan")
    means = {k[0]: sum(r.rating for r in g) / len(g) for k, g in by_order.items()}
    return means["descending"] - means["ascending"]


def verdict(
    paraphrase: float | None, order: float | None, threshold: float = HELD_THRESHOLD
) -> str:
    """``held`` when the profile's paraphrase and order stabilities both reach
    ``threshold``; ``simulated, not held`` when either falls short; ``not measured`` when
    either is missing (None or NaN)."""
    figures = [paraphrase, order]
    if any(f is None or np.isnan(f) for f in figures):
        return UNMEASURED
    return HELD if all(f >= threshold for f in figures) else NOT_HELD
