import math

import numpy as np
import pytest

from alignlab.goodhart.fits import fit_best_of_n, fit_form, fit_rl, grid_position, peak
from alignlab.objectives import best_of_n_kl

BON_D = np.sqrt([best_of_n_kl(2**k) for k in range(9)])
RL_D = np.linspace(0.0, 4.0, 25)


@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.5), (0.3, 0.2), (2.0, 0.1)])
def test_best_of_n_form_recovers_known_coefficients(alpha, beta):
    fit = fit_best_of_n(BON_D, BON_D * (alpha - beta * BON_D))
    assert fit.alpha == pytest.approx(alpha, abs=1e-10)
    assert fit.beta == pytest.approx(beta, abs=1e-10)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.d_star == pytest.approx(alpha / (2 * beta))
    assert fit.kl_star == pytest.approx((alpha / (2 * beta)) ** 2)
    assert fit.n == BON_D.size


@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.5), (0.5, 0.4), (0.2, 0.05)])
def test_rl_form_recovers_known_coefficients(alpha, beta):
    gain = np.where(RL_D > 0, RL_D * (alpha - beta * np.log(np.where(RL_D > 0, RL_D, 1))), 0)
    fit = fit_rl(RL_D, gain)
    assert fit.alpha == pytest.approx(alpha, abs=1e-10)
    assert fit.beta == pytest.approx(beta, abs=1e-10)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.d_star == pytest.approx(math.exp(alpha / beta - 1))
    # The predicted peak is where the fitted curve is highest.
    grid = np.linspace(0.01, 3 * fit.d_star, 20001)
    assert grid[np.argmax(fit.predict(grid))] == pytest.approx(fit.d_star, rel=1e-3)


def test_noisy_data_fit_close_with_r2_below_one():
    rng = np.random.default_rng(0)
    d = np.repeat(BON_D, 20)
    gain = d * (0.8 - 0.3 * d) + rng.normal(0, 0.02, d.size)
    fit = fit_best_of_n(d, gain)
    assert fit.alpha == pytest.approx(0.8, abs=0.02)
    assert fit.beta == pytest.approx(0.3, abs=0.02)
    assert 0.9 < fit.r2 < 1.0


def test_the_wrong_form_fits_worse():
    gain = BON_D * (1.0 - 0.5 * BON_D)
    assert fit_rl(BON_D, gain).r2 < fit_best_of_n(BON_D, gain).r2


def test_a_curve_that_never_turns_down_has_no_peak():
    fit = fit_best_of_n(BON_D, 0.3 * BON_D + 0.01 * BON_D**2)
    assert fit.beta < 0 and fit.d_star is None and fit.kl_star is None
    assert peak("rl", 1.0, -0.2) is None
    assert peak("best_of_n", -1.0, 0.5) == 0.0  # falls from the start


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="one length"):
        fit_best_of_n([0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match=">= 0"):
        fit_rl([-1.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="two distinct"):
        fit_best_of_n([0.0, 1.0], [0.0, 0.5])
    with pytest.raises(ValueError, match="unknown form"):
        fit_form("linear", [0.0, 1.0, 2.0], [0.0, 1.0, 2.0])


def test_r2_is_nan_for_a_flat_curve():
    assert math.isnan(fit_best_of_n(BON_D, np.zeros_like(BON_D)).r2)


def test_grid_position():
    grid = [0.0, 1.0, 3.0]
    assert grid_position(grid, 0.0) == 0.0
    assert grid_position(grid, 2.0) == pytest.approx(1.5)
    assert grid_position(grid, 5.0) == pytest.approx(3.0)  # one more step of 2 beyond the end
    assert grid_position(grid, -0.5) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="ascending"):
        grid_position([1.0, 1.0], 0.5)
