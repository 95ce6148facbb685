"""Gao, Schulman and Hilton (2022)'s functional forms of gold reward against optimization.

With ``d = sqrt(KL(pi || pi_ref))`` and the gold reward measured relative to the starting
policy (``R(0) = 0``), over-optimization of a proxy follows (Gao et al. 2022, eq. 1-2)

    best-of-n:  R(d) = d (alpha - beta d),        peak at d* = alpha / (2 beta)
    RL:         R(d) = d (alpha - beta log d),    peak at d* = exp(alpha / beta - 1)

Both are linear in ``(alpha, beta)``, so each is fitted by ordinary least squares with no
intercept on the columns ``[d, -d^2]`` or ``[d, -d log d]`` (``d log d = 0`` at ``d = 0``).
``R^2 = 1 - SS_res / SS_tot`` with ``SS_tot`` about the mean gain. A fit with ``beta <= 0``
has no interior maximum (gold still rising at the largest ``d``): its ``d_star`` is None.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

Form = Literal["best_of_n", "rl"]
FORMS: tuple[Form, ...] = ("best_of_n", "rl")


def _d_log_d(d: np.ndarray) -> np.ndarray:
    safe = np.where(d > 0, d, 1.0)
    return np.where(d > 0, d * np.log(safe), 0.0)


def _columns(form: Form, d: np.ndarray) -> np.ndarray:
    if form == "best_of_n":
        return np.stack([d, -(d**2)], axis=1)
    if form == "rl":
        return np.stack([d, -_d_log_d(d)], axis=1)
    raise ValueError(f"unknown form {form!r}; known: {', '.join(FORMS)}")


@dataclass(frozen=True)
class Fit:
    """One functional form fitted to gold gains ``R`` at distances ``d``."""

    form: Form
    alpha: float
    beta: float
    r2: float
    n: int
    """Points fitted."""
    d_star: float | None
    """The predicted peak of gold; None when the fit has no interior maximum."""

    def predict(self, d) -> np.ndarray:
        """``R(d)`` under the fitted coefficients."""
        d = np.asarray(d, dtype=float)
        return _columns(self.form, np.atleast_1d(d)) @ np.array([self.alpha, self.beta])

    @property
    def kl_star(self) -> float | None:
        """The predicted peak as a KL, ``d*^2``."""
        return None if self.d_star is None else self.d_star**2

    def to_dict(self) -> dict:
        return {**asdict(self), "kl_star": self.kl_star}


def peak(form: Form, alpha: float, beta: float) -> float | None:
    """Where ``R(d)`` of ``form`` is largest for ``d >= 0``; None if it never turns down."""
    if beta <= 0:
        return None
    if form == "best_of_n":
        return max(0.0, alpha / (2.0 * beta))
    return float(np.exp(alpha / beta - 1.0))


def fit_form(form: Form, d, gain) -> Fit:
    """Least-squares fit of ``form`` to gold ``gain`` (relative to ``d = 0``) at ``d``."""
    d = np.asarray(d, dtype=float)
    gain = np.asarray(gain, dtype=float)
    if d.shape != gain.shape or d.ndim != 1:
        raise ValueError(f"d and gain must be 1-D of one length, got {d.shape} and {gain.shape}")
    if (d < 0).any() or not np.isfinite(d).all() or not np.isfinite(gain).all():
        raise ValueError("d must be finite and >= 0, and gains finite")
    columns = _columns(form, d)
    if d.size < 2 or np.linalg.matrix_rank(columns) < 2:
        raise ValueError(f"a {form} fit needs at least two distinct d > 0, got {d.tolist()}")
    (alpha, beta), *_ = np.linalg.lstsq(columns, gain, rcond=None)
    residual = gain - columns @ np.array([alpha, beta])
    total = float(((gain - gain.mean()) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / total if total > 0 else float("nan")
    alpha, beta = float(alpha), float(beta)
    return Fit(form, alpha, beta, r2, int(d.size), peak(form, alpha, beta))


def fit_best_of_n(d, gain) -> Fit:
    """``R(d) = d (alpha - beta d)`` (see the module docstring)."""
    return fit_form("best_of_n", d, gain)


def fit_rl(d, gain) -> Fit:
    """``R(d) = d (alpha - beta log d)`` (see the module docstring)."""
    return fit_form("rl", d, gain)


def grid_position(d_grid, d) -> float:
    """Where ``d`` falls on an ascending grid, in grid steps (0 = the first point); linear
    between neighbours and beyond either end by the nearest step."""
    grid = np.asarray(d_grid, dtype=float)
    if grid.size < 2 or (np.diff(grid) <= 0).any():
        raise ValueError("the grid must hold at least two strictly ascending values")
    if d <= grid[0]:
        return float((d - grid[0]) / (grid[1] - grid[0]))
    if d >= grid[-1]:
        return float(grid.size - 1 + (d - grid[-1]) / (grid[-1] - grid[-2]))
    return float(np.interp(d, grid, np.arange(grid.size)))
