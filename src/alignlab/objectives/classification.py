"""Classifiers of correctness: verifiers, outcome and process reward models, and students
supervised by a weaker model.

A classifier's output is a logit ``z`` per example, ``p = sigmoid(z)`` the probability that
the example is correct, and its target ``y`` in [0, 1] (a gold 0/1, or a supervisor's soft
label).

- :func:`classification_loss`: binary cross-entropy,
  ``-(y log sigmoid(z) + (1 - y) log sigmoid(-z))``, averaged over the batch.
- :func:`confidence_loss`: Burns et al. 2023's auxiliary confidence loss for weak-to-strong
  generalization: the target is mixed with the student's own hardened predictions,
  ``y' = (1 - alpha) y + alpha 1[p > t]``, where the threshold ``t`` is the batch's
  ``(1 - mean y)``-quantile of ``p``, so the hardened predictions keep the supervisor's
  share of positives; then binary cross-entropy against ``y'`` (the hardened predictions
  are no gradient path). With ``alpha = 0`` it is :func:`classification_loss`. It lets a
  strong student overrule a weak supervisor where the student is confident.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _check(logits: Tensor, labels: Tensor) -> None:
    if logits.dim() != 1:
        raise ValueError(f"logits must be [B], got shape {tuple(logits.shape)}")
    if labels.shape != logits.shape:
        raise ValueError(
            f"labels shape {tuple(labels.shape)} does not match logits {tuple(logits.shape)}"
        )
    if not labels.dtype.is_floating_point:
        raise ValueError(f"labels must be probabilities (a float tensor), got {labels.dtype}")
    if labels.numel() and (labels.min() < 0 or labels.max() > 1):
        raise ValueError("labels must be probabilities in [0, 1]")


def _metrics(loss: Tensor, logits: Tensor, labels: Tensor) -> dict[str, Tensor]:
    agree = ((logits > 0) == (labels > 0.5)).float().mean()
    return {"loss": loss.detach(), "accuracy": agree.detach()}


def classification_loss(logits: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Binary cross-entropy of logits ``[B]`` against probabilities ``labels`` ``[B]``.

    ``metrics["accuracy"]`` is the share of examples whose predicted class (``z > 0``)
    matches the label's (``y > 0.5``).
    """
    _check(logits, labels)
    loss = F.binary_cross_entropy_with_logits(logits.float(), labels.float())
    return loss, _metrics(loss, logits, labels)


def confidence_loss(
    logits: Tensor, labels: Tensor, aux_weight: float
) -> tuple[Tensor, dict[str, Tensor]]:
    """Burns et al. 2023's auxiliary confidence loss (module docstring), weight ``aux_weight``."""
    _check(logits, labels)
    if not 0.0 <= aux_weight <= 1.0:
        raise ValueError(f"aux_weight must lie in [0, 1], got {aux_weight}")
    logits, labels = logits.float(), labels.float()
    with torch.no_grad():
        probs = torch.sigmoid(logits)
        threshold = torch.quantile(probs, 1.0 - labels.mean()) if probs.numel() > 1 else 0.5
        hardened = (probs > threshold).float()
    targets = (1.0 - aux_weight) * labels + aux_weight * hardened
    loss = F.binary_cross_entropy_with_logits(logits, targets)
    metrics = _metrics(loss, logits, labels)
    metrics["hardened_positive"] = hardened.mean()
    return loss, metrics
