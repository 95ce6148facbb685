"""The Gaussian-noise control of design section 7: no hump from independent noise, a hump
from error the optimizer can push."""

import numpy as np
import pytest

from alignlab.goodhart.control import best_of_n_means, gaussian_world, length_world

NS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


@pytest.mark.parametrize("noise", [0.25, 1.0, 4.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_gaussian_noise_never_lowers_expected_gold(noise, seed):
    proxy, gold = best_of_n_means(*gaussian_world(2000, 256, noise=noise, seed=seed), NS)
    assert np.all(np.diff(proxy) > 0)
    assert np.all(np.diff(gold) > -0.01)  # never falls beyond Monte Carlo error
    assert gold[-1] > gold[0] + 0.3
    # E[gold | proxy] = proxy / (1 + noise^2) for unit Gaussians: the exact expectation.
    np.testing.assert_allclose(gold, proxy / (1 + noise**2), atol=0.05)


@pytest.mark.parametrize("seed", [0, 1])
def test_length_correlated_error_makes_a_hump(seed):
    proxy, gold = best_of_n_means(*length_world(2000, 256, seed=seed), NS)
    assert np.all(np.diff(proxy) > 0)
    top = int(np.argmax(gold))
    assert 0 < top < len(NS) - 1
    assert gold[top] > gold[0] + 0.2
    assert gold[-1] < gold[top] - 1.0
    assert gold[-1] < gold[0]


def test_best_of_n_means_picks_the_proxy_best_of_each_group():
    proxy = np.array([[1.0, 3.0, 2.0, 0.0]])
    gold = np.array([[10.0, 30.0, 20.0, 0.0]])
    p, g = best_of_n_means(proxy, gold, [1, 2, 4])
    # n=2: groups (1, 3) -> 3 and (2, 0) -> 2; n=4: the 3.
    assert p.tolist() == [1.5, 2.5, 3.0]
    assert g.tolist() == [15.0, 25.0, 30.0]


def test_best_of_n_means_rejects_an_n_that_does_not_divide():
    with pytest.raises(ValueError, match="divide"):
        best_of_n_means(np.zeros((2, 6)), np.zeros((2, 6)), [4])
    with pytest.raises(ValueError, match="trials, n_max"):
        best_of_n_means(np.zeros(6), np.zeros(6), [2])
