import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from alignlab.stats.agreement import (
    comparison_accuracy,
    discordant_pairs,
    kendall_tau_b,
    ordering,
    pair_counts,
    pairwise_agreement,
    ranks,
    spearman_rho,
)

NAN = float("nan")
fast = settings(max_examples=60, deadline=None)

# Small integer utilities, so ties are common and the transforms below stay exact.
utility = st.integers(-6, 6).map(float)
paired_utilities = (
    st.integers(0, 25)
    .flatmap(
        lambda n: st.tuples(
            st.lists(utility, min_size=n, max_size=n), st.lists(utility, min_size=n, max_size=n)
        )
    )
    .map(lambda uv: (np.array(uv[0]), np.array(uv[1])))
)
strict_utilities = st.lists(utility, min_size=2, max_size=13, unique=True).map(np.array)

MONOTONE = [np.exp, lambda x: x**3 + 2 * x, lambda x: 2.5 * x + 1.0]
METRICS = [
    kendall_tau_b,
    spearman_rho,
    pairwise_agreement,
    lambda u, v: pairwise_agreement(u, v, ties="drop"),
    discordant_pairs,
]


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


def brute_force_counts(u, v):
    """Classify each pair i < j by the signs of its differences under u and v."""
    i, j = np.triu_indices(u.size, 1)
    su, sv = np.sign(u[i] - u[j]), np.sign(v[i] - v[j])
    return (
        i.size,
        int((su * sv > 0).sum()),
        int((su * sv < 0).sum()),
        int(((su == 0) & (sv != 0)).sum()),
        int(((su != 0) & (sv == 0)).sum()),
        int(((su == 0) & (sv == 0)).sum()),
    )


def test_ordering_is_best_first_and_stable_on_ties():
    assert ordering([0.2, 0.9, 0.5, 0.9]).tolist() == [1, 3, 2, 0]


@fast
@given(paired_utilities)
def test_ranks_match_scipy(uv):
    assert np.array_equal(ranks(uv[0]), stats.rankdata(uv[0]))


@fast
@given(paired_utilities)
def test_tau_and_rho_match_scipy(uv):
    u, v = uv
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on constant input
        tau = stats.kendalltau(u, v).statistic
        rho = stats.spearmanr(u, v).statistic if u.size > 1 else NAN
    assert same(kendall_tau_b(u, v), tau)
    assert same(spearman_rho(u, v), rho)


@fast
@given(paired_utilities)
def test_pair_counts_match_brute_force(uv):
    assert tuple(pair_counts(*uv)) == brute_force_counts(*uv)


@fast
@given(paired_utilities)
def test_metrics_invariant_to_strictly_monotone_transforms(uv):
    u, v = uv
    for metric in METRICS:
        for f in MONOTONE:
            assert same(metric(f(u), v), metric(u, v))
            assert same(metric(u, f(v)), metric(u, v))


@fast
@given(paired_utilities)
def test_metrics_symmetric_in_u_and_v(uv):
    u, v = uv
    for metric in METRICS:
        assert same(metric(u, v), metric(v, u))


@fast
@given(strict_utilities)
def test_pairwise_agreement_extremes(u):
    assert pairwise_agreement(u, u) == 1.0
    assert pairwise_agreement(u, -u) == 0.0
    assert kendall_tau_b(u, u) == spearman_rho(u, u) == 1.0
    assert kendall_tau_b(u, -u) == spearman_rho(u, -u) == -1.0
    assert discordant_pairs(u, -u) == u.size * (u.size - 1) // 2


def test_pairwise_agreement_tie_rule():
    # Pairs (0,1): tied under u only; (0,2) and (1,2): concordant.
    u, v = [1, 1, 2], [1, 2, 3]
    assert pairwise_agreement(u, v) == pytest.approx(2.5 / 3)
    assert pairwise_agreement(u, v, ties="drop") == 1.0
    # Pair (0,1) tied under both agrees; (0,2) and (1,2) are discordant.
    assert pairwise_agreement([1, 1, 2], [5, 5, 0]) == pytest.approx(1 / 3)


def test_degenerate_inputs_give_nan():
    assert math.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman_rho([1, 2, 3], [4, 4, 4]))
    assert math.isnan(pairwise_agreement([1], [2]))
    assert math.isnan(pairwise_agreement([1, 1], [1, 2], ties="drop"))


def test_large_input_matches_scipy():
    rng = np.random.default_rng(0)
    u = rng.integers(0, 50, size=20_000).astype(float)
    v = u + rng.normal(0, 20, size=u.size)
    assert kendall_tau_b(u, v) == pytest.approx(stats.kendalltau(u, v).statistic, abs=1e-12)
    assert spearman_rho(u, v) == pytest.approx(stats.spearmanr(u, v).statistic, abs=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: kendall_tau_b([1, 2], [1, 2, 3]),
            "u and v must score the same actions: got 2 and 3",
        ),
        (lambda: ranks([1.0, NAN]), "utilities contains NaN at index 1"),
        (lambda: ordering([[1, 2]]), r"must be 1-D .* got shape \(1, 2\)"),
        (lambda: pairwise_agreement([1], [1], ties="coin"), "ties must be 'half' or 'drop'"),
    ],
)
def test_bad_utilities_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_comparison_accuracy_hard_and_soft_labels():
    chosen, rejected = [2.0, 1.0, 3.0, 0.5], [1.0, 2.0, 3.0, 0.0]
    # Agreements 1, 0, tie, 1.
    assert comparison_accuracy(chosen, rejected).value == pytest.approx(2.5 / 4)
    dropped = comparison_accuracy(chosen, rejected, ties="drop")
    assert (dropped.value, dropped.n) == (pytest.approx(2 / 3), 3)
    # Soft labels: 0.9 [win] + 0.3 [loss: 1 - 0.7] + 0.5 [tie] + 0.6 [win] over 4.
    soft = comparison_accuracy(chosen, rejected, labels=[0.9, 0.7, 0.2, 0.6])
    assert soft.value == pytest.approx((0.9 + 0.3 + 0.5 + 0.6) / 4)
    assert soft.n == 4 and soft.lo <= soft.value <= soft.hi


def test_comparison_accuracy_rejects_bad_labels():
    with pytest.raises(ValueError, match=r"labels must be probabilities in \[0, 1\]"):
        comparison_accuracy([1, 2], [0, 0], labels=[0.5, 1.5])
    with pytest.raises(ValueError, match="labels has 1 values for 2 comparisons"):
        comparison_accuracy([1, 2], [0, 0], labels=[0.5])
    with pytest.raises(ValueError, match="chosen_scores and rejected_scores must score the same"):
        comparison_accuracy([1, 2], [0])


def test_ranking_auc_by_hand_and_against_scikit_learn():
    from sklearn.metrics import roc_auc_score

    from alignlab.stats import ranking_auc

    # right items score 0.9 and 0.4, wrong ones 0.4 and 0.1: pairs (0.9 > 0.4), (0.9 > 0.1),
    # (0.4 = 0.4, a half), (0.4 > 0.1): 3.5 of 4
    assert ranking_auc([0.9, 0.4, 0.4, 0.1], [1, 1, 0, 0]) == pytest.approx(0.875)
    assert ranking_auc([0.2, 0.3], [1, 1]) is None
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.normal(labels, 1.0), 1)  # rounded: ties
    assert ranking_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
