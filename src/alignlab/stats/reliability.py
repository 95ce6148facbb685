"""How reliably annotators label the same units: Krippendorff's alpha, Cohen's and Fleiss' kappa.

Before labels train or judge anything, they should agree with each other more than chance
would have them agree. Every statistic here has the form ``1 - observed disagreement /
disagreement expected by chance``, so 1 is perfect agreement and 0 is chance:

- :func:`krippendorff_alpha`: any number of annotators, missing labels allowed, nominal to
  ratio labels (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").
- :func:`cohens_kappa`: two annotators, optionally weighted for ordered labels (Cohen 1960,
  "A coefficient of agreement for nominal scales"; Cohen 1968, "Weighted kappa").
- :func:`fleiss_kappa`: the same number of labels on every unit, nominal labels (Fleiss
  1971, "Measuring nominal scale agreement among many raters").

Matrix functions take a reliability matrix ``[n_annotators, n_units]`` with NaN where an
annotator did not label a unit (:func:`reliability_from_labels` builds one from triples).
Imports numpy and scipy only.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Literal

import numpy as np
from scipy import sparse

Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["linear", "quadratic"]

LEVELS = ("nominal", "ordinal", "interval", "ratio")
WEIGHTS = ("linear", "quadratic")


def reliability_from_labels(
    labels: Iterable[tuple[Hashable, Hashable, float]],
) -> tuple[np.ndarray, list[Hashable], list[Hashable]]:
    """Build the reliability matrix from ``(unit_key, annotator_id, label)`` triples.

    Returns ``(matrix, annotator_ids, unit_keys)``: ``matrix[a, u]`` is the
    label annotator ``annotator_ids[a]`` gave unit ``unit_keys[u]``, NaN if
    none. Annotators and units keep the order of their first appearance; an
    annotator who labelled a unit twice keeps the last label.
    """
    units: dict[Hashable, int] = {}
    annotators: dict[Hashable, int] = {}
    cells: dict[tuple[int, int], float] = {}
    for unit, annotator, label in labels:
        key = (
            annotators.setdefault(annotator, len(annotators)),
            units.setdefault(unit, len(units)),
        )
        try:
            cells[key] = float(label)
        except (TypeError, ValueError):
            raise ValueError(
                f"label {label!r} of unit {unit!r} by annotator {annotator!r} is not a number"
            ) from None
    matrix = np.full((len(annotators), len(units)), np.nan)
    if cells:
        rows, cols = np.array(list(cells), dtype=np.int64).T
        matrix[rows, cols] = np.fromiter(cells.values(), dtype=float, count=len(cells))
    return matrix, list(annotators), list(units)


def disagreement_rate(matrix) -> float:
    """Fraction of pairs of annotators' labels on the same unit that differ.

    Pooled over units: sum of disagreeing pairs / sum of m_u (m_u - 1) / 2,
    where m_u annotators labelled unit u. NaN when no unit has two labels.
    """
    _, counts, m = _unit_value_counts(matrix, min_labels=2)
    pairs = float((m * (m - 1)).sum()) / 2.0
    if pairs == 0:
        return float("nan")
    agreeing = float((counts.data * (counts.data - 1)).sum()) / 2.0
    return 1.0 - agreeing / pairs


def krippendorff_alpha(matrix, level: Level = "nominal") -> float:
    """Krippendorff's alpha of a reliability matrix, missing labels allowed.

    ``alpha = 1 - (n - 1) sum_ck o_ck d_ck / sum_ck n_c n_k d_ck``, where the
    coincidence matrix ``o_ck = sum_u (pairs of values c, k in unit u) / (m_u - 1)``
    runs over units with m_u >= 2 labels, ``n_c = sum_k o_ck``, ``n = sum_c n_c``
    and d is the squared difference function of the ``level`` (Krippendorff
    2011, "Computing Krippendorff's Alpha-Reliability"). 1 is perfect
    agreement, 0 is agreement at chance; NaN when no unit has two labels or
    all labels are equal. Memory grows with the square of the number of
    distinct labels, so round continuous ratings to a few thousand values.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    values, counts, m = _unit_value_counts(matrix, min_labels=2)
    if values.size == 0:
        return float("nan")
    if level == "ratio" and values[0] < 0:
        raise ValueError(f"ratio level needs non-negative labels, got {values[0]}")
    weighted = sparse.csr_array(counts.multiply(1.0 / (m - 1.0)[:, None]))
    coincidences = (counts.T @ weighted).toarray() - np.diag(weighted.sum(axis=0))
    n_c = coincidences.sum(axis=1)
    n = n_c.sum()
    delta = _squared_difference(values, n_c, level)
    expected = n_c @ delta @ n_c
    if expected == 0:
        return float("nan")
    return float(1.0 - (n - 1.0) * (coincidences * delta).sum() / expected)


def majority_labels(matrix) -> np.ndarray:
    """Each unit's most frequent label; NaN for a unit with no labels or a tie for the most."""
    values, counts, _ = _unit_value_counts(matrix, min_labels=0)
    n_units = counts.shape[0]
    rows = np.repeat(np.arange(n_units), np.diff(counts.indptr))
    top = np.zeros(n_units)
    np.maximum.at(top, rows, counts.data)
    is_top = counts.data == top[rows]
    winners = np.full(n_units, np.nan)
    winners[rows[is_top]] = values[counts.indices[is_top]]
    winners[np.bincount(rows[is_top], minlength=n_units) != 1] = np.nan
    return winners


def cohens_kappa(a, b, *, weights: Weights | None = None) -> float:
    """Cohen's kappa of two annotators' labels ``a`` and ``b`` of the same units.

    ``kappa = (p_o - p_e) / (1 - p_e)``: ``p_o = sum_c p_cc`` is the fraction of units
    labelled alike, ``p_e = sum_c p_c. p_.c`` the fraction expected if each labelled at
    random at their own label frequencies (Cohen 1960, "A coefficient of agreement for
    nominal scales", *Educational and Psychological Measurement* 20(1)). Weighted kappa
    (Cohen 1968, "Weighted kappa", *Psychological Bulletin* 70(4)) credits near misses on
    ordered labels: ``kappa_w = 1 - sum_ck w_ck p_ck / sum_ck w_ck p_c. p_.k`` with
    ``w_ck = |c - k|`` (``"linear"``) or ``(c - k)^2`` (``"quadratic"``), c and k the
    positions of the labels among the sorted distinct labels, as in scikit-learn's
    ``cohen_kappa_score``; ``w_ck = [c != k]`` gives the unweighted kappa. A unit either
    annotator left unlabelled (NaN) is left out. NaN when no unit has both labels or
    chance agreement is certain (both gave one and the same label throughout).
    """
    if weights is not None and weights not in WEIGHTS:
        raise ValueError(f"weights must be None or one of {WEIGHTS}, got {weights!r}")
    a, b = _as_labels(a, "a"), _as_labels(b, "b")
    if a.size != b.size:
        raise ValueError(f"a and b must label the same units: got {a.size} and {b.size} labels")
    both = ~(np.isnan(a) | np.isnan(b))
    n = int(both.sum())
    if n == 0:
        return float("nan")
    values, codes = np.unique(np.r_[a[both], b[both]], return_inverse=True)
    k = values.size
    observed = np.bincount(codes[:n] * k + codes[n:], minlength=k * k).reshape(k, k) / n
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    c, d = np.indices((k, k))
    if weights is None:
        w = (c != d).astype(float)
    else:
        w = np.abs(c - d).astype(float) ** (1 if weights == "linear" else 2)
    chance = float((w * expected).sum())
    if chance == 0:
        return float("nan")
    return float(1.0 - (w * observed).sum() / chance)


def fleiss_kappa(matrix) -> float:
    """Fleiss' kappa of a reliability matrix in which every unit has the same m >= 2 labels.

    ``kappa = (P - P_e) / (1 - P_e)``: ``P = (1/N) sum_u (sum_c n_uc^2 - m) / (m (m - 1))``
    is the fraction of pairs of a unit's labels that agree, averaged over the N units, with
    n_uc the number of unit u's labels equal to c; ``P_e = sum_c p_c^2``, with ``p_c = sum_u
    n_uc / (N m)`` the share of all labels that are c, is that fraction by chance (Fleiss
    1971, "Measuring nominal scale agreement among many raters", *Psychological Bulletin*
    76(5)). A unit's m labels may come from any m annotators; units with no label are left
    out. Labels are nominal. NaN when no unit is labelled or all labels are equal. For units
    with different numbers of labels, use :func:`krippendorff_alpha`.
    """
    _, counts, m = _unit_value_counts(matrix, min_labels=1)
    if m.size == 0:
        return float("nan")
    if (m != m[0]).any():
        labelled = (~np.isnan(np.asarray(matrix, dtype=float))).sum(axis=0)
        first = int(np.flatnonzero(labelled == m[0])[0])
        other = int(np.flatnonzero((labelled != m[0]) & (labelled > 0))[0])
        raise ValueError(
            "Fleiss' kappa needs the same number of labels on every unit: unit "
            f"{first} has {int(m[0])}, unit {other} has {labelled[other]}; "
            "use krippendorff_alpha for uneven labels"
        )
    labels = m[0]
    if labels < 2:
        raise ValueError("Fleiss' kappa needs at least 2 labels per unit, got 1")
    n_units = m.size
    agreeing = (np.asarray(counts.power(2).sum(axis=1)) - labels) / (labels * (labels - 1))
    observed = agreeing.mean()
    shares = np.asarray(counts.sum(axis=0)) / (n_units * labels)
    chance = float((shares**2).sum())
    if chance == 1:
        return float("nan")
    return float((observed - chance) / (1.0 - chance))


def _squared_difference(values: np.ndarray, n_c: np.ndarray, level: Level) -> np.ndarray:
    """Krippendorff's metric differences d_ck for sorted distinct ``values``."""
    c, k = np.meshgrid(np.arange(values.size), np.arange(values.size), indexing="ij")
    if level == "nominal":
        return (c != k).astype(float)
    if level == "ordinal":
        # (sum of n_g for g from c to k, minus half of n_c and n_k) squared.
        cumulative = np.cumsum(n_c)
        low, high = np.minimum(c, k), np.maximum(c, k)
        between = cumulative[high] - cumulative[low] + n_c[low]
        return (between - (n_c[c] + n_c[k]) / 2.0) ** 2
    x, y = values[c], values[k]
    if level == "interval":
        return (x - y) ** 2
    total = x + y
    ratio = np.divide(x - y, total, out=np.zeros_like(total), where=total != 0)
    return ratio**2


def _unit_value_counts(
    matrix, *, min_labels: int
) -> tuple[np.ndarray, sparse.csr_array, np.ndarray]:
    """Sorted distinct labels, counts[unit, value] (sparse), and labels per unit.

    Only units with at least ``min_labels`` labels are kept.
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(
            f"reliability matrix must be 2-D [n_annotators, n_units], got shape {matrix.shape}"
        )
    if np.isinf(matrix).any():
        raise ValueError("reliability matrix contains an infinite label")
    labelled = ~np.isnan(matrix)
    m = labelled.sum(axis=0)
    keep = m >= min_labels
    labelled = labelled[:, keep]
    annotator, unit = np.nonzero(labelled)
    values, codes = np.unique(matrix[:, keep][annotator, unit], return_inverse=True)
    counts = sparse.csr_array(
        (np.ones(codes.size), (unit, codes)), shape=(labelled.shape[1], values.size)
    )
    counts.sum_duplicates()
    return values, counts, m[keep].astype(float)


def _as_labels(values, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per unit), got shape {values.shape}")
    if np.isinf(values).any():
        raise ValueError(f"{name} contains an infinite label")
    return values
