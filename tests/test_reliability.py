import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats import inter_rater

from alignlab.stats.reliability import (
    cohens_kappa,
    disagreement_rate,
    fleiss_kappa,
    krippendorff_alpha,
    majority_labels,
    reliability_from_labels,
)

NAN = float("nan")
fast = settings(max_examples=60, deadline=None)


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


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


def test_cohens_kappa_by_hand():
    # 50 units: both yes 20, a yes b no 5, a no b yes 10, both no 15. p_o = 35/50 = 0.7;
    # a says yes 25/50, b 30/50: p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = 0.2 / 0.5 = 0.4.
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohens_kappa(a, b) == pytest.approx(0.4)
    # Labels (0, 0), (1, 2), (2, 2): p_o = 2/3; a's marginals 1/3 each, b's (1/3, 0, 2/3),
    # p_e = 1/9 + 0 + 2/9 = 1/3; kappa = (2/3 - 1/3) / (2/3) = 1/2.
    # Linear: observed sum |c-k| p_ck = 1/3, expected (1/3)(4/3 + 1 + 2/3) = 1; 1 - 1/3 = 2/3.
    # Quadratic: observed 1/3, expected (1/3)(8/3 + 1 + 4/3) = 5/3; 1 - 1/5 = 4/5.
    a, b = [0, 1, 2], [0, 2, 2]
    assert cohens_kappa(a, b) == pytest.approx(1 / 2)
    assert cohens_kappa(a, b, weights="linear") == pytest.approx(2 / 3)
    assert cohens_kappa(a, b, weights="quadratic") == pytest.approx(4 / 5)


label_pairs = st.integers(1, 30).flatmap(
    lambda n: st.tuples(
        arrays(float, n, elements=st.sampled_from([0.0, 1.0, 2.0, 5.0])),
        arrays(float, n, elements=st.sampled_from([0.0, 1.0, 2.0, 5.0])),
    )
)


@fast
@given(label_pairs, st.sampled_from([None, "linear", "quadratic"]))
def test_cohens_kappa_matches_sklearn_and_statsmodels(ab, weights):
    a, b = ab
    values = np.unique(np.r_[a, b])
    table = np.zeros((values.size, values.size))
    np.add.at(table, (np.searchsorted(values, a), np.searchsorted(values, b)), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn on 0 / 0
        expected = cohen_kappa_score(a, b, weights=weights)
        wt = {None: None, "linear": "linear", "quadratic": "quadratic"}[weights]
        via_statsmodels = inter_rater.cohens_kappa(table, wt=wt, return_results=False)
    assert same(cohens_kappa(a, b, weights=weights), expected)
    assert same(cohens_kappa(a, b, weights=weights), via_statsmodels)


def test_cohens_kappa_leaves_out_units_missing_a_label():
    a = [1, 0, NAN, 1, 0, 2]
    b = [1, 1, 0, NAN, 0, 2]
    assert cohens_kappa(a, b) == pytest.approx(cohens_kappa([1, 0, 0, 2], [1, 1, 0, 2]))


def test_cohens_kappa_edge_cases():
    assert cohens_kappa([1, 0, 1], [1, 0, 1]) == 1.0
    assert math.isnan(cohens_kappa([1, 1], [1, 1]))  # chance agreement is certain: 0 / 0
    assert math.isnan(cohens_kappa([NAN, 1], [0, NAN]))  # no unit has both labels
    assert math.isnan(cohens_kappa([], []))
    with pytest.raises(ValueError, match="a and b must label the same units: got 2 and 1"):
        cohens_kappa([1, 0], [1])
    with pytest.raises(ValueError, match="weights must be None or one of"):
        cohens_kappa([1, 0], [1, 0], weights="cubic")
    with pytest.raises(ValueError, match=r"b must be 1-D .* got shape \(1, 2\)"):
        cohens_kappa([1, 0], [[1, 0]])


def test_fleiss_kappa_by_hand():
    # Three labels per unit: (0, 0, 0), (0, 0, 1), (1, 1, 1), (0, 1, 1). n_u0 = 3, 2, 0, 1.
    # Agreeing pairs (sum_c n_uc^2 - 3) / 6: 1, 1/3, 1, 1/3; P = 2/3. p_0 = p_1 = 6/12,
    # P_e = 1/2; kappa = (2/3 - 1/2) / (1/2) = 1/3.
    matrix = [[0, 0, 1, 0], [0, 0, 1, 1], [0, 1, 1, 1]]
    assert fleiss_kappa(matrix) == pytest.approx(1 / 3)


# Fleiss (1971), the worked example of Wikipedia's "Fleiss' kappa": 10 units, 14 raters,
# 5 categories; row u counts the raters who put unit u in each category. kappa = 0.210.
FLEISS_TABLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def matrix_from_table(table: np.ndarray) -> np.ndarray:
    """The reliability matrix [raters, units] whose unit u has table[u, c] labels c."""
    return np.array([np.repeat(np.arange(row.size), row) for row in table], dtype=float).T


def test_fleiss_kappa_on_the_worked_example():
    matrix = matrix_from_table(FLEISS_TABLE)
    assert matrix.shape == (14, 10)
    assert round(fleiss_kappa(matrix), 3) == 0.210
    assert fleiss_kappa(matrix) == pytest.approx(inter_rater.fleiss_kappa(FLEISS_TABLE))


complete_matrices = arrays(
    float,
    st.tuples(st.integers(2, 6), st.integers(1, 10)),
    elements=st.sampled_from([0.0, 1.0, 2.0, 4.0]),
)


@fast
@given(complete_matrices, st.data())
def test_fleiss_kappa_matches_statsmodels(matrix, data):
    table, _ = inter_rater.aggregate_raters(matrix.T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns on 0 / 0
        expected = inter_rater.fleiss_kappa(table, method="fleiss")
    assert same(fleiss_kappa(matrix), expected)
    # Which annotators gave a unit's labels does not matter: scatter each unit's labels
    # over a larger pool of annotators, the rest NaN, and add a unit nobody labelled.
    pool = matrix.shape[0] + data.draw(st.integers(0, 3))
    scattered = np.full((pool, matrix.shape[1] + 1), NAN)
    for u in range(matrix.shape[1]):
        rows = data.draw(st.permutations(range(pool)))[: matrix.shape[0]]
        scattered[rows, u] = matrix[:, u]
    assert same(fleiss_kappa(scattered), fleiss_kappa(matrix))


def test_fleiss_kappa_edge_cases():
    assert fleiss_kappa([[0, 1, 2], [0, 1, 2]]) == 1.0
    assert math.isnan(fleiss_kappa([[1, 1], [1, 1]]))  # one label throughout: 0 / 0
    assert math.isnan(fleiss_kappa([[NAN, NAN], [NAN, NAN]]))
    with pytest.raises(ValueError, match="unit 0 has 2, unit 1 has 1; use krippendorff_alpha"):
        fleiss_kappa([[0, 1, 1], [0, NAN, 1]])
    with pytest.raises(ValueError, match="at least 2 labels per unit, got 1"):
        fleiss_kappa([[0, 1], [NAN, NAN]])
