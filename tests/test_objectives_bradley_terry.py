import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from alignlab.objectives import bradley_terry_loss


def log1pexp(x: float) -> float:
    """-log sigmoid(-x) = log(1 + e^x)."""
    return math.log(1 + math.exp(x))


CHOSEN = torch.tensor([1.0, 0.0, 2.0])
REJECTED = torch.tensor([0.0, 0.0, 3.0])  # d = r_c - r_r = [1, 0, -1]


def test_bradley_terry_loss_by_hand():
    # -log sigmoid(d) = log(1 + e^-d): mean of log(1 + e^-1), log 2, log(1 + e).
    loss, metrics = bradley_terry_loss(CHOSEN, REJECTED)
    expected = (log1pexp(-1) + math.log(2) + log1pexp(1)) / 3
    torch.testing.assert_close(loss, torch.tensor(expected))
    torch.testing.assert_close(metrics["accuracy"], torch.tensor(1 / 3))
    torch.testing.assert_close(metrics["margin"], torch.tensor(0.0))
    torch.testing.assert_close(metrics["rewards/chosen"], torch.tensor(1.0))
    torch.testing.assert_close(metrics["rewards/rejected"], torch.tensor(1.0))


def test_bradley_terry_margin_shifts_d_but_not_the_metrics():
    # Per-pair margin [1, 0, 0]: d = [0, 0, -1]; loss = (log 2 + log 2 + log(1 + e)) / 3.
    loss, metrics = bradley_terry_loss(CHOSEN, REJECTED, margin=torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(loss, torch.tensor((2 * math.log(2) + log1pexp(1)) / 3))
    torch.testing.assert_close(metrics["accuracy"], torch.tensor(1 / 3))
    # A float margin 1: d = [0, -1, -2].
    loss, _ = bradley_terry_loss(CHOSEN, REJECTED, margin=1.0)
    torch.testing.assert_close(loss, torch.tensor((math.log(2) + log1pexp(1) + log1pexp(2)) / 3))


def test_bradley_terry_soft_labels_and_label_smoothing_by_hand():
    chosen, rejected = torch.tensor([1.0]), torch.tensor([0.0])  # d = 1
    # p = 0.25: -(0.25 log sigmoid(1) + 0.75 log sigmoid(-1))
    #        = 0.25 log(1 + e^-1) + 0.75 log(1 + e).
    loss, _ = bradley_terry_loss(chosen, rejected, labels=torch.tensor([0.25]))
    torch.testing.assert_close(loss, torch.tensor(0.25 * log1pexp(-1) + 0.75 * log1pexp(1)))
    # eps = 0.1 with p = 1: p' = 0.9.
    loss, _ = bradley_terry_loss(chosen, rejected, label_smoothing=0.1)
    torch.testing.assert_close(loss, torch.tensor(0.9 * log1pexp(-1) + 0.1 * log1pexp(1)))
    # eps = 0.1 with p = 0.25: p' = 0.25 * 0.9 + 0.75 * 0.1 = 0.3.
    loss, _ = bradley_terry_loss(chosen, rejected, labels=torch.tensor([0.25]), label_smoothing=0.1)
    torch.testing.assert_close(loss, torch.tensor(0.3 * log1pexp(-1) + 0.7 * log1pexp(1)))


def test_bradley_terry_gradient_is_sigmoid_minus_target():
    # d loss / d r_c = (sigmoid(d) - p') / B: sigmoid(0) - 1 = -1/2 and sigmoid(ln 3) - 1/2 = 1/4.
    chosen = torch.tensor([0.0, math.log(3)], requires_grad=True)
    rejected = torch.tensor([0.0, 0.0], requires_grad=True)
    loss, _ = bradley_terry_loss(chosen, rejected, labels=torch.tensor([1.0, 0.5]))
    loss.backward()
    torch.testing.assert_close(chosen.grad, torch.tensor([-0.25, 0.125]))
    torch.testing.assert_close(rejected.grad, -chosen.grad)


def test_bradley_terry_is_stable_for_large_gaps():
    loss, _ = bradley_terry_loss(torch.tensor([0.0]), torch.tensor([1000.0]))
    torch.testing.assert_close(loss, torch.tensor(1000.0))


@settings(max_examples=50, deadline=None)
@given(
    chosen=st.floats(-20, 20),
    rejected=st.floats(-20, 20),
    p=st.floats(0, 1),
    eps=st.floats(0, 0.49),
)
def test_bradley_terry_swapping_the_pair_flips_the_label(chosen, rejected, p, eps):
    c, r = (
        torch.tensor([chosen], dtype=torch.float64),
        torch.tensor([rejected], dtype=torch.float64),
    )
    p_ = torch.tensor([p], dtype=torch.float64)
    forward, _ = bradley_terry_loss(c, r, labels=p_, label_smoothing=eps)
    swapped, _ = bradley_terry_loss(r, c, labels=1 - p_, label_smoothing=eps)
    torch.testing.assert_close(forward, swapped)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chosen_rewards": torch.zeros(2, 1), "rejected_rewards": torch.zeros(2, 1)}, r"\[B\]"),
        ({"rejected_rewards": torch.zeros(3)}, "rejected_rewards shape"),
        ({"labels": torch.tensor([0.5, 1.5])}, r"\[0, 1\]"),
        ({"labels": torch.tensor([1, 0])}, "float tensor"),
        ({"labels": torch.tensor([0.5])}, "labels shape"),
        ({"label_smoothing": 0.5}, "label_smoothing"),
        ({"margin": torch.zeros(3)}, "margin"),
    ],
)
def test_bradley_terry_rejects_bad_input(kwargs, message):
    args = {"chosen_rewards": torch.zeros(2), "rejected_rewards": torch.zeros(2)} | kwargs
    chosen, rejected = args.pop("chosen_rewards"), args.pop("rejected_rewards")
    with pytest.raises(ValueError, match=message):
        bradley_terry_loss(chosen, rejected, **args)
