import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from alignlab.objectives import DPO_LOSSES, dpo_loss, register_dpo_loss


def log1pexp(x: float) -> float:
    """-log sigmoid(-x) = log(1 + e^x)."""
    return math.log(1 + math.exp(x))


# Two pairs. Log-ratios to the reference: chosen [1, -1], rejected [-1, 0], so h = [2, -1];
# with beta = 0.5, beta h = [1, -0.5].
POLICY_CHOSEN = torch.tensor([-1.0, -3.0])
POLICY_REJECTED = torch.tensor([-3.0, -2.0])
REF_CHOSEN = torch.tensor([-2.0, -2.0])
REF_REJECTED = torch.tensor([-2.0, -2.0])
BETA = 0.5


def loss_of(loss_type: str, **kwargs) -> torch.Tensor:
    refs = () if loss_type == "simpo" else (REF_CHOSEN, REF_REJECTED)
    loss, _ = dpo_loss(
        POLICY_CHOSEN, POLICY_REJECTED, *refs, beta=BETA, loss_type=loss_type, **kwargs
    )
    return loss


@pytest.mark.parametrize(
    ("loss_type", "kwargs", "expected"),
    [
        # -log sigmoid(beta h) = log(1 + e^-beta h).
        ("sigmoid", {}, (log1pexp(-1) + log1pexp(0.5)) / 2),
        # (h - 1 / (2 beta))^2 = (h - 1)^2: 1 and 4.
        ("ipo", {}, (1.0 + 4.0) / 2),
        # relu(1 - beta h): 0 and 1.5.
        ("hinge", {}, (0.0 + 1.5) / 2),
        # eps = 0.1: 0.9 log(1 + e^-z) + 0.1 log(1 + e^z).
        (
            "cdpo",
            {"label_smoothing": 0.1},
            (0.9 * log1pexp(-1) + 0.1 * log1pexp(1) + 0.9 * log1pexp(0.5) + 0.1 * log1pexp(-0.5))
            / 2,
        ),
        # eps = 0.1: [0.9 log(1 + e^-z) - 0.1 log(1 + e^z)] / 0.8.
        (
            "robust",
            {"label_smoothing": 0.1},
            (
                (0.9 * log1pexp(-1) - 0.1 * log1pexp(1)) / 0.8
                + (0.9 * log1pexp(0.5) - 0.1 * log1pexp(-0.5)) / 0.8
            )
            / 2,
        ),
        # No reference: h = policy gap = [2, -1], beta h - gamma = [1 - 0.5, -0.5 - 0.5].
        ("simpo", {"simpo_gamma": 0.5}, (log1pexp(-0.5) + log1pexp(1.0)) / 2),
        # Soft labels p = [1, 0.25]: the second pair is 0.25 log(1 + e^0.5) + 0.75 log(1 + e^-0.5).
        (
            "sigmoid",
            {"labels": torch.tensor([1.0, 0.25])},
            (log1pexp(-1) + 0.25 * log1pexp(0.5) + 0.75 * log1pexp(-0.5)) / 2,
        ),
        # Soft IPO targets (p - 1/2) / beta = [1, -0.5]: (2 - 1)^2 = 1 and (-1 + 0.5)^2 = 0.25.
        ("ipo", {"labels": torch.tensor([1.0, 0.25])}, (1.0 + 0.25) / 2),
        # Soft SimPO, p = [1, 0.25]: the second pair is
        # 0.25 log(1 + e^(0.5 + 0.5)) + 0.75 log(1 + e^(-0.5 + 0.5)) = 0.25 log(1 + e) + 0.75 log 2.
        (
            "simpo",
            {"labels": torch.tensor([1.0, 0.25])},
            (log1pexp(-0.5) + 0.25 * log1pexp(1.0) + 0.75 * math.log(2)) / 2,
        ),
    ],
)
def test_dpo_losses_by_hand(loss_type, kwargs, expected):
    torch.testing.assert_close(loss_of(loss_type, **kwargs), torch.tensor(expected))


def test_cdpo_is_sigmoid_with_label_smoothing():
    torch.testing.assert_close(
        loss_of("cdpo", label_smoothing=0.2), loss_of("sigmoid", label_smoothing=0.2)
    )


def test_dpo_metrics_by_hand():
    _, metrics = dpo_loss(POLICY_CHOSEN, POLICY_REJECTED, REF_CHOSEN, REF_REJECTED, beta=BETA)
    # Rewards beta * log-ratio: chosen [0.5, -0.5], rejected [-0.5, 0]; margins [1, -0.5].
    expected = {
        "rewards/chosen": 0.0,
        "rewards/rejected": -0.25,
        "rewards/margins": 0.25,
        "rewards/accuracies": 0.5,
        "logps/chosen": -2.0,
        "logps/rejected": -2.5,
    }
    assert set(metrics) == set(expected)
    for name, value in expected.items():
        torch.testing.assert_close(metrics[name], torch.tensor(value), msg=name)
        assert metrics[name].dim() == 0 and not metrics[name].requires_grad


def test_simpo_rewards_are_beta_times_policy_logps():
    _, metrics = dpo_loss(POLICY_CHOSEN, POLICY_REJECTED, beta=BETA, loss_type="simpo")
    # beta * [-1, -3] and beta * [-3, -2]: means -1 and -1.25.
    torch.testing.assert_close(metrics["rewards/chosen"], torch.tensor(-1.0))
    torch.testing.assert_close(metrics["rewards/rejected"], torch.tensor(-1.25))
    torch.testing.assert_close(metrics["rewards/accuracies"], torch.tensor(0.5))


def test_dpo_gradient_at_h_zero_is_minus_beta_over_two():
    # d/d pi_c of -log sigmoid(beta h) at h = 0 is -beta sigmoid(0) = -beta / 2; one pair.
    policy_chosen = torch.tensor([-2.0], requires_grad=True)
    policy_rejected = torch.tensor([-2.0], requires_grad=True)
    ref = torch.tensor([-2.0])
    loss, _ = dpo_loss(policy_chosen, policy_rejected, ref, ref, beta=0.1)
    loss.backward()
    torch.testing.assert_close(policy_chosen.grad, torch.tensor([-0.05]))
    torch.testing.assert_close(policy_rejected.grad, torch.tensor([0.05]))


@settings(max_examples=50, deadline=None)
@given(h=st.floats(-30, 30), beta=st.floats(0.01, 2), eps=st.floats(0, 0.45))
def test_robust_loss_is_unbiased_under_label_flips(h, beta, eps):
    # Chowdhury et al. 2024: with labels flipped at rate eps, the expected robust loss
    # (1 - eps) l_rob(h) + eps l_rob(-h) equals the clean DPO loss l(h).
    def loss(loss_type: str, gap: float, label_smoothing: float = 0.0) -> torch.Tensor:
        chosen = torch.tensor([gap], dtype=torch.float64)
        zero = torch.zeros(1, dtype=torch.float64)
        value, _ = dpo_loss(
            chosen,
            zero,
            zero,
            zero,
            beta=beta,
            loss_type=loss_type,
            label_smoothing=label_smoothing,
        )
        return value

    noisy = (1 - eps) * loss("robust", h, eps) + eps * loss("robust", -h, eps)
    torch.testing.assert_close(noisy, loss("sigmoid", h))


@settings(max_examples=50, deadline=None)
@given(h=st.floats(-10, 10), beta=st.floats(0.05, 2), p=st.floats(0, 1))
def test_soft_ipo_gradient_is_the_expected_gradient_over_orderings(h, beta, p):
    # Azar et al. 2023: with P(chosen preferred) = p, the expected IPO loss over both orderings,
    # p (h - 1/(2 beta))^2 + (1 - p) (-h - 1/(2 beta))^2, has the gradient of the soft loss.
    def grad(labels: float | None, sign: float) -> torch.Tensor:
        gap = torch.tensor([sign * h], dtype=torch.float64, requires_grad=True)
        zero = torch.zeros(1, dtype=torch.float64)
        soft = None if labels is None else torch.tensor([labels], dtype=torch.float64)
        loss, _ = dpo_loss(gap, zero, zero, zero, beta=beta, loss_type="ipo", labels=soft)
        loss.backward()
        return sign * gap.grad

    expected = p * grad(None, 1.0) + (1 - p) * grad(None, -1.0)
    torch.testing.assert_close(grad(p, 1.0), expected)


def test_register_dpo_loss_adds_a_usable_variant():
    @register_dpo_loss("test-squared", labels=False)
    def squared(terms):
        return (terms.beta * terms.h - 1) ** 2

    try:
        # beta h = [1, -0.5]: (0^2 + 1.5^2) / 2 = 1.125.
        torch.testing.assert_close(loss_of("test-squared"), torch.tensor(1.125))
        with pytest.raises(ValueError, match="already registered"):
            register_dpo_loss("test-squared")(squared)
    finally:
        del DPO_LOSSES["test-squared"]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {"loss_type": "nope"}, "unknown DPO loss_type 'nope'; known: cdpo, hinge, ipo"),
        ((REF_CHOSEN,), {}, "pass both ref_chosen_logps and ref_rejected_logps"),
        ((REF_CHOSEN, REF_REJECTED), {"loss_type": "simpo"}, "reference-free"),
        (
            (REF_CHOSEN, REF_REJECTED),
            {"loss_type": "hinge", "labels": torch.ones(2)},
            "hard labels",
        ),
        (
            (REF_CHOSEN, REF_REJECTED),
            {"loss_type": "hinge", "label_smoothing": 0.1},
            "does not use",
        ),
        ((REF_CHOSEN, REF_REJECTED), {"label_smoothing": 0.5}, "label_smoothing"),
        ((REF_CHOSEN, REF_REJECTED), {"labels": torch.tensor([0.5, 2.0])}, r"\[0, 1\]"),
        ((REF_CHOSEN, REF_REJECTED), {"beta": 0.0}, "beta must be positive"),
        ((REF_CHOSEN, torch.zeros(3)), {}, "ref_rejected_logps shape"),
    ],
)
def test_dpo_loss_rejects_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        dpo_loss(POLICY_CHOSEN, POLICY_REJECTED, *args, **kwargs)


def test_dpo_loss_rejects_per_token_logps():
    with pytest.raises(ValueError, match=r"must be \[B\]"):
        dpo_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3))
