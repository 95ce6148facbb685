import math

import pytest
import torch

from alignlab.objectives import classification_loss, confidence_loss


def _bce(z: float, y: float) -> float:
    p = 1 / (1 + math.exp(-z))
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_classification_loss_is_binary_cross_entropy_by_hand():
    logits = torch.tensor([2.0, -1.0, 0.0])
    labels = torch.tensor([1.0, 0.25, 0.0])
    loss, metrics = classification_loss(logits, labels)
    expected = (_bce(2.0, 1.0) + _bce(-1.0, 0.25) + _bce(0.0, 0.0)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # predicted classes: 1, 0, 0 (z = 0 is not positive); label classes: 1, 0, 0
    assert metrics["accuracy"].item() == 1.0


def test_confidence_loss_mixes_labels_with_hardened_predictions():
    # p = sigmoid(z): 0.88, 0.27, 0.62, 0.05; labels' share of positives is 1/2, so the
    # threshold is the median of p and the two largest are hardened to 1.
    logits = torch.tensor([2.0, -1.0, 0.5, -3.0])
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0])
    hardened = [1.0, 0.0, 1.0, 0.0]
    alpha = 0.5
    loss, metrics = confidence_loss(logits, labels, alpha)
    targets = [(1 - alpha) * y + alpha * h for y, h in zip(labels.tolist(), hardened, strict=True)]
    expected = sum(_bce(z, t) for z, t in zip(logits.tolist(), targets, strict=True)) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert metrics["hardened_positive"].item() == 0.5


def test_confidence_loss_without_weight_is_the_plain_loss_and_has_label_gradients_only():
    logits = torch.tensor([1.5, -0.5, 0.2], requires_grad=True)
    labels = torch.tensor([1.0, 0.0, 1.0])
    plain, _ = classification_loss(logits, labels)
    same, _ = confidence_loss(logits, labels, 0.0)
    assert same.item() == pytest.approx(plain.item())
    same.backward()
    expected = (torch.sigmoid(logits.detach()) - labels) / 3
    assert torch.allclose(logits.grad, expected, atol=1e-6)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="logits must be"):
        classification_loss(torch.zeros(2, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="labels must be probabilities"):
        classification_loss(torch.zeros(2), torch.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match="aux_weight"):
        confidence_loss(torch.zeros(2), torch.zeros(2), 1.5)
