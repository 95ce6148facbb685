import math

import pytest

from alignlab.trainers.kl_control import (
    AdaptiveKLController,
    FixedKLController,
    kl_controller,
)


def test_fixed_coefficient_never_moves():
    controller = FixedKLController(0.05)
    for kl in (0.0, 0.5, 100.0):
        assert controller.update(kl, n_samples=64) == 0.05
    assert controller.kl_coef == 0.05


@pytest.mark.parametrize(
    ("kl", "expected"),
    [
        (6.6, 0.1 * (1 + 0.1 * 64 / 1000)),  # 10% above target: +10% of n / horizon
        (60.0, 0.1 * (1 + 0.2 * 64 / 1000)),  # far above: the error is clipped to +20%
        (6.0, 0.1),  # on target: unchanged
        (5.4, 0.1 * (1 - 0.1 * 64 / 1000)),  # 10% below: lowered as much
        (0.0, 0.1 * (1 - 0.2 * 64 / 1000)),  # far below: clipped to -20%
    ],
)
def test_adaptive_step_follows_the_proportional_rule(kl, expected):
    controller = AdaptiveKLController(0.1, target=6.0, horizon=1000)
    assert controller.update(kl, n_samples=64) == pytest.approx(expected, rel=1e-12)
    assert controller.kl_coef == pytest.approx(expected, rel=1e-12)


def test_adaptive_coefficient_brings_kl_to_its_target():
    # A policy whose KL falls as the penalty rises: KL = 0.3 / kl_coef.
    controller = AdaptiveKLController(0.01, target=3.0, horizon=100)
    kls = []
    for _ in range(400):
        kls.append(0.3 / controller.kl_coef)
        controller.update(kls[-1], n_samples=16)
    assert kls[0] == pytest.approx(30.0)
    assert kls[-1] == pytest.approx(3.0, rel=0.01)
    assert controller.kl_coef == pytest.approx(0.1, rel=0.01)


def test_clipping_bounds_the_change_per_horizon():
    controller = AdaptiveKLController(1.0, target=1.0, horizon=640)
    for _ in range(10):  # 10 steps of 64 responses: one horizon
        controller.update(1e6, n_samples=64)
    assert controller.kl_coef == pytest.approx((1 + 0.2 / 10) ** 10)
    assert controller.kl_coef < math.exp(0.2)


def test_the_default_horizon_moves_beta_by_about_a_factor_1_9_in_100_steps():
    controller = kl_controller(1.0, target=0.5)
    assert controller.horizon == 2000
    for _ in range(100):  # 100 steps of 64 responses, far below target: -0.2 * 64 / 2000
        controller.update(0.0, n_samples=64)
    assert controller.kl_coef == pytest.approx((1 - 0.0064) ** 100)
    assert 1 / 1.91 < controller.kl_coef < 1 / 1.89


def test_state_round_trips():
    controller = AdaptiveKLController(0.1, target=2.0, horizon=100)
    controller.update(5.0, n_samples=10)
    again = AdaptiveKLController(0.1, target=2.0, horizon=100)
    again.load_state_dict(controller.state_dict())
    assert again.kl_coef == controller.kl_coef != 0.1


def test_factory_and_errors():
    assert type(kl_controller(0.1)) is FixedKLController
    adaptive = kl_controller(0.1, target=4.0, horizon=50)
    assert isinstance(adaptive, AdaptiveKLController) and adaptive.horizon == 50
    with pytest.raises(ValueError, match="kl_coef"):
        FixedKLController(-0.1)
    with pytest.raises(ValueError, match="must be > 0"):
        AdaptiveKLController(0.0, target=1.0, horizon=10)
    with pytest.raises(ValueError, match="kl_target"):
        AdaptiveKLController(0.1, target=0.0, horizon=10)
    with pytest.raises(ValueError, match="measured KL is nan"):
        AdaptiveKLController(0.1, target=1.0, horizon=10).update(float("nan"), 8)
