import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from alignlab.stats.agreement import (
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


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers x 12 units, nominal values 1..5, missing values as NaN.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)


@pytest.mark.parametrize(
    ("level", "alpha"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_on_krippendorffs_worked_example(level, alpha):
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, level), 3) == alpha


def test_alpha_by_hand():
    # Two coders, three units: (1, 1), (2, 3), (3, 3); every unit has m_u = 2.
    # Coincidences o_11 = 2, o_23 = o_32 = 1, o_33 = 2; n_1 = 2, n_2 = 1, n_3 = 3, n = 6.
    # Nominal: ((n-1) sum o_cc - sum n_c (n_c - 1)) / (n (n-1) - sum n_c (n_c - 1))
    #          = (5 * 4 - 8) / (30 - 8) = 6/11.
    # Interval: observed sum o_ck (c-k)^2 = 2; expected sum n_c n_k (c-k)^2
    #          = 2 (2*1*1 + 2*3*4 + 1*3*1) = 58; alpha = 1 - 5 * 2 / 58 = 24/29.
    # Ordinal: d_12 = (3 - 1.5)^2 = 2.25, d_13 = (6 - 2.5)^2 = 12.25, d_23 = (4 - 2)^2 = 4;
    #          observed 2 * 4 = 8; expected 2 (2*1*2.25 + 2*3*12.25 + 1*3*4) = 180;
    #          alpha = 1 - 5 * 8 / 180 = 7/9.
    matrix = [[1, 2, 3], [1, 3, 3]]
    assert krippendorff_alpha(matrix, "nominal") == pytest.approx(6 / 11)
    assert krippendorff_alpha(matrix, "interval") == pytest.approx(24 / 29)
    assert krippendorff_alpha(matrix, "ordinal") == pytest.approx(7 / 9)
    # Binary labels (0, 0), (0, 1), (1, 1): o = [[2, 1], [1, 2]], n_0 = n_1 = 3;
    # (5 * 4 - 12) / (30 - 12) = 4/9.
    assert krippendorff_alpha([[0, 0, 1], [0, 1, 1]]) == pytest.approx(4 / 9)


def reference_alpha(matrix, level):
    """Krippendorff's alpha from the definition, one unit and one coder pair at a time."""
    values = np.unique(matrix[~np.isnan(matrix)])
    index = {x: i for i, x in enumerate(values)}
    o = np.zeros((values.size, values.size))
    for column in matrix.T:
        labels = column[~np.isnan(column)]
        if labels.size < 2:
            continue
        for a in range(labels.size):
            for b in range(labels.size):
                if a != b:
                    o[index[labels[a]], index[labels[b]]] += 1 / (labels.size - 1)
    n_c = o.sum(axis=1)
    d = np.zeros_like(o)
    for c in range(values.size):
        for k in range(values.size):
            x, y = values[c], values[k]
            if level == "nominal":
                d[c, k] = float(c != k)
            elif level == "ordinal":
                lo, hi = min(c, k), max(c, k)
                d[c, k] = (n_c[lo : hi + 1].sum() - (n_c[c] + n_c[k]) / 2) ** 2
            elif level == "interval":
                d[c, k] = (x - y) ** 2
            else:
                d[c, k] = ((x - y) / (x + y)) ** 2 if x + y else 0.0
    expected = sum(
        n_c[c] * n_c[k] * d[c, k] for c in range(values.size) for k in range(values.size)
    )
    return 1 - (n_c.sum() - 1) * (o * d).sum() / expected if expected else NAN


reliability_matrices = arrays(
    float,
    st.tuples(st.integers(2, 5), st.integers(1, 8)),
    elements=st.sampled_from([NAN, 0.0, 1.0, 2.0, 4.0]),
)


@fast
@given(reliability_matrices, st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_alpha_matches_definition(matrix, level):
    assert same(krippendorff_alpha(matrix, level), reference_alpha(matrix, level))


@fast
@given(reliability_matrices, st.data())
def test_alpha_and_disagreement_invariant_to_permuting_annotators_and_units(matrix, data):
    annotators = data.draw(st.permutations(range(matrix.shape[0])))
    units = data.draw(st.permutations(range(matrix.shape[1])))
    shuffled = matrix[np.array(annotators)][:, np.array(units)]
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert same(krippendorff_alpha(shuffled, level), krippendorff_alpha(matrix, level))
    assert same(disagreement_rate(shuffled), disagreement_rate(matrix))


def test_alpha_edge_cases():
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3]], "interval") == 1.0
    assert math.isnan(krippendorff_alpha([[1, NAN], [NAN, 2]]))  # no unit has two labels
    assert math.isnan(krippendorff_alpha([[1, 1], [1, 1]]))  # no variation: 0 / 0
    with pytest.raises(ValueError, match="level must be one of"):
        krippendorff_alpha([[1, 2], [1, 2]], level="binary")
    with pytest.raises(ValueError, match="ratio level needs non-negative labels"):
        krippendorff_alpha([[-1, 2], [1, 2]], level="ratio")
    with pytest.raises(
        ValueError, match=r"must be 2-D \[n_annotators, n_units\], got shape \(3,\)"
    ):
        krippendorff_alpha([1, 2, 3])


def test_disagreement_rate_by_hand():
    # Unit 1: labels 0, 0, 0 (3 pairs, none differ); unit 2: 0, 1, 1 (3 pairs, 2 differ);
    # unit 3: 1, 1 (1 pair, none differ); unit 4 has one label and no pair. 2 / 7.
    matrix = [[0, 0, 1, NAN], [0, 1, NAN, 1], [0, 1, 1, NAN]]
    assert disagreement_rate(matrix) == pytest.approx(2 / 7)
    assert math.isnan(disagreement_rate([[0, NAN], [NAN, 1]]))


def test_majority_labels():
    matrix = [[1, 2, NAN, 3], [1, 1, NAN, NAN], [2, 2, NAN, NAN], [1, 3, NAN, NAN]]
    # Unit 1: 1 beats 2; unit 2: 2 beats 1 and 3; unit 3: no labels; unit 4: one label.
    assert np.array_equal(majority_labels(matrix), [1, 2, NAN, 3], equal_nan=True)
    assert np.isnan(majority_labels([[0, 1], [1, 1]])[0])  # a tie has no majority


def test_reliability_from_labels():
    labels = [
        (("p", "a", "b"), "ann1", 1),
        (("p", "c", "d"), "ann2", 0),
        (("p", "a", "b"), "ann2", 0),
        (("p", "a", "b"), "ann1", 0),  # a repeat keeps the last label
    ]
    matrix, annotators, units = reliability_from_labels(labels)
    assert annotators == ["ann1", "ann2"]
    assert units == [("p", "a", "b"), ("p", "c", "d")]
    assert np.array_equal(matrix, [[0, NAN], [0, 0]], equal_nan=True)
    assert reliability_from_labels([])[0].shape == (0, 0)
    with pytest.raises(
        ValueError, match="label 'yes' of unit 'u' by annotator 'a' is not a number"
    ):
        reliability_from_labels([("u", "a", "yes")])
