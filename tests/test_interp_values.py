"""The basic-values statistics (alignlab.stats.values: the pure functions sit in stats, below
evals, so that the values suite's metrics can use them) against values worked by hand."""

import math

import numpy as np
import pytest

from alignlab.stats.values import (
    HELD,
    HELD_THRESHOLD,
    NOT_HELD,
    OPPOSITES,
    UNMEASURED,
    VALUES,
    ValueRating,
    administrations,
    centred,
    circular_correlation,
    circumplex,
    item_scores,
    order_gap,
    stability,
    value_profile,
    verdict,
)

COS = np.cos(2 * np.pi * np.arange(10) / 10)
"""A profile that rises and falls once around the circle."""


def rows_for(profile, *, paraphrase=0, order="ascending", offset=0.0, items=1):
    """One rating per value and item: ``offset + profile[value]``."""
    return [
        ValueRating(v, i, paraphrase, order, offset + float(profile[k]))
        for k, v in enumerate(VALUES)
        for i in range(items)
    ]


def test_the_circle_is_schwartz_order_and_opposites_are_five_apart():
    assert VALUES[0] == "self-direction" and VALUES[-1] == "universalism"
    opposite = {VALUES[k]: VALUES[(k + OPPOSITES) % 10] for k in range(5)}
    assert opposite == {
        "self-direction": "security",
        "stimulation": "conformity",
        "hedonism": "tradition",
        "achievement": "benevolence",
        "power": "universalism",
    }


def test_centring_subtracts_the_mean_rating():
    assert centred([1, 2, 3, 6]).tolist() == [-2.0, -1.0, 0.0, 3.0]
    assert centred([]).size == 0


def test_item_scores_average_paraphrases_after_centring_on_all_ratings():
    rows = [
        ValueRating("self-direction", 0, 0, "ascending", 2.0),
        ValueRating("self-direction", 0, 1, "ascending", 4.0),
        ValueRating("self-direction", 1, 0, "ascending", 5.0),
        ValueRating("stimulation", 0, 0, "ascending", 1.0),
        ValueRating("stimulation", 0, 1, "descending", 3.0),
    ]
    # mean rating 3: centred -1, 1, 2, -2, 0
    assert item_scores(rows) == {"self-direction": [0.0, 2.0], "stimulation": [-1.0]}
    profile = value_profile(rows)
    assert profile[:2].tolist() == [1.0, -1.0]
    assert np.isnan(profile[2:]).all()


def test_a_respondent_who_rates_everything_higher_has_the_same_profile():
    low = value_profile(rows_for(COS))
    high = value_profile(rows_for(COS, offset=2.0))
    np.testing.assert_allclose(low, high)
    np.testing.assert_allclose(low, COS - COS.mean(), atol=1e-12)


def test_administrations_split_by_paraphrase_and_order():
    rows = rows_for(COS, paraphrase=1) + rows_for(COS, paraphrase=0, order="descending")
    groups = administrations(rows)
    assert list(groups) == [(0, "descending"), (1, "ascending")]
    assert list(administrations(rows, ("order",))) == [("ascending",), ("descending",)]


def test_stability_is_spearman_between_group_profiles():
    base = np.arange(10.0)
    swapped = base.copy()
    swapped[[3, 4]] = swapped[[4, 3]]
    rows = rows_for(base, paraphrase=0) + rows_for(base, paraphrase=1, offset=1.0)
    rows += rows_for(swapped, paraphrase=2)
    adjacent = 1 - 6 * 2 / (10 * 99)  # one swap of neighbours: sum d^2 = 2
    assert stability(rows, "paraphrase") == pytest.approx((1 + 2 * adjacent) / 3)
    reversed_ = rows_for(base) + rows_for(base[::-1], order="descending")
    assert stability(reversed_, "order") == pytest.approx(-1.0)


def test_stability_needs_two_complete_groups():
    assert math.isnan(stability(rows_for(COS), "order"))
    partial = rows_for(COS) + rows_for(COS, order="descending")[:9]
    assert math.isnan(stability(partial, "order"))


def test_circular_correlation_of_one_wave_is_the_cosine_of_the_lag():
    assert circular_correlation([COS], 1) == pytest.approx((1 + math.sqrt(5)) / 4)
    assert circular_correlation([COS], 5) == pytest.approx(-1.0)
    alternating = np.array([1.0, -1.0] * 5)
    assert circular_correlation([alternating], 1) == pytest.approx(-1.0)


def test_circular_correlation_pools_profiles_weighted_by_their_variance():
    one_hot = np.eye(10)[0]  # centred: products sum to -0.1 at lag 1, squares to 0.9
    pooled = (-0.1 + 5 * math.cos(math.pi / 5)) / (0.9 + 5)
    assert circular_correlation([one_hot, COS], 1) == pytest.approx(pooled)
    assert circular_correlation([one_hot], 1) == pytest.approx(-1 / 9)
    assert math.isnan(circular_correlation([np.ones(10)], 1))


def test_circumplex_reads_each_administration_after_its_own_centring():
    rows = rows_for(COS, offset=1.0) + rows_for(COS, paraphrase=1, order="descending")
    assert circumplex(rows, 1) == pytest.approx(math.cos(math.pi / 5))
    assert circumplex(rows, OPPOSITES) == pytest.approx(-1.0)


def test_verdict_needs_both_stabilities_at_the_threshold():
    assert HELD_THRESHOLD == 0.7
    assert verdict(0.7, 0.95) == HELD
    assert verdict(0.9, 0.69) == NOT_HELD
    assert verdict(-0.2, 0.9) == NOT_HELD
    assert verdict(float("nan"), 0.9) == UNMEASURED
    assert verdict(0.9, None) == UNMEASURED
    assert verdict(0.5, 0.5, threshold=0.4) == HELD


def test_order_gap_is_the_reversed_orders_mean_minus_the_first_orders():
    rows = rows_for(COS, offset=1.0) + rows_for(COS, order="descending", offset=5.5)
    assert order_gap(rows) == pytest.approx(4.5)
    assert math.isnan(order_gap(rows_for(COS)))
