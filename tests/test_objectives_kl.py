import math

import pytest
import torch

from alignlab.objectives import best_of_n_kl, kl_estimate, kl_k1, kl_k2, kl_k3

LN2 = math.log(2.0)


def test_estimators_by_hand():
    # Policy gives the sampled token 1/2, the reference 1/4: log r = ln(1/4) - ln(1/2) = -ln 2.
    # k1 = ln 2; k2 = (ln 2)^2 / 2; k3 = r - 1 - log r = 1/2 - 1 + ln 2.
    # Second token: both models agree, every estimator is 0.
    logps = torch.tensor([math.log(0.5), math.log(0.3)])
    ref_logps = torch.tensor([math.log(0.25), math.log(0.3)])
    torch.testing.assert_close(kl_k1(logps, ref_logps), torch.tensor([LN2, 0.0]))
    torch.testing.assert_close(kl_k2(logps, ref_logps), torch.tensor([LN2**2 / 2, 0.0]))
    torch.testing.assert_close(kl_k3(logps, ref_logps), torch.tensor([LN2 - 0.5, 0.0]))
    for kind, estimator in [("k1", kl_k1), ("k2", kl_k2), ("k3", kl_k3)]:
        torch.testing.assert_close(kl_estimate(logps, ref_logps, kind), estimator(logps, ref_logps))


def test_k3_stays_accurate_when_models_nearly_agree():
    # log r = -3e-4: k3 = r - 1 - log r ~ (log r)^2 / 2 = 4.5e-8. In float32, exp(x) - 1 - x
    # comes out near 6.9e-8, a 50% error; the estimator must be within 1%.
    logps, ref_logps = torch.tensor([0.0]), torch.tensor([-3e-4])
    torch.testing.assert_close(kl_k3(logps, ref_logps), torch.tensor([4.5e-8]), rtol=1e-2, atol=0)


def test_k1_and_k3_are_unbiased_on_samples_from_the_policy():
    policy = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    ref = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    # Exact KL(policy || ref) = 0.5 ln(5/2) + 0.3 ln 1 + 0.2 ln(2/5) = 0.3 ln(5/2).
    exact = 0.3 * math.log(2.5)
    generator = torch.Generator().manual_seed(0)
    n = 200_000
    tokens = torch.multinomial(policy, n, replacement=True, generator=generator)
    logps, ref_logps = policy.log()[tokens], ref.log()[tokens]
    for kind in ("k1", "k3"):
        estimates = kl_estimate(logps, ref_logps, kind)
        standard_error = estimates.std().item() / math.sqrt(n)
        assert abs(estimates.mean().item() - exact) < 4 * standard_error, kind
    # k2 estimates a different divergence: its mean is off by far more than its noise here.
    k2 = kl_estimate(logps, ref_logps, "k2")
    assert abs(k2.mean().item() - exact) > 10 * k2.std().item() / math.sqrt(n)


def test_kl_estimate_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown KL estimator 'k4'; known: k1, k2, k3"):
        kl_estimate(torch.zeros(2), torch.zeros(2), "k4")
    with pytest.raises(ValueError, match="ref_logps shape"):
        kl_k1(torch.zeros(2), torch.zeros(3))


def test_best_of_n_kl_by_hand():
    assert best_of_n_kl(1) == 0.0
    assert best_of_n_kl(2) == pytest.approx(LN2 - 1 / 2)
    assert best_of_n_kl(4) == pytest.approx(math.log(4) - 3 / 4)
    assert best_of_n_kl(1000) == pytest.approx(math.log(1000) - 0.999)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_best_of_n_kl_rejects_bad_n(n):
    with pytest.raises(ValueError, match="positive integer"):
        best_of_n_kl(n)
