"""Bradley-Terry reward modelling: fit scalar rewards to pairwise preferences."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _check_pairs(chosen_rewards: Tensor, rejected_rewards: Tensor) -> None:
    if chosen_rewards.dim() != 1:
        raise ValueError(
            "chosen_rewards must be [B] (one scalar per pair), "
            f"got shape {tuple(chosen_rewards.shape)}"
        )
    if rejected_rewards.shape != chosen_rewards.shape:
        raise ValueError(
            f"rejected_rewards shape {tuple(rejected_rewards.shape)} does not match "
            f"chosen_rewards shape {tuple(chosen_rewards.shape)}"
        )


def check_preference_labels(labels: Tensor, batch_shape: torch.Size) -> None:
    """Raise unless ``labels`` are probabilities, one per pair."""
    if labels.shape != batch_shape:
        raise ValueError(
            f"labels shape {tuple(labels.shape)} does not match "
            f"the pairs' shape {tuple(batch_shape)}"
        )
    if not labels.dtype.is_floating_point:
        raise ValueError(f"labels must be probabilities (a float tensor), got dtype {labels.dtype}")
    if labels.numel() and (labels.min() < 0 or labels.max() > 1):
        raise ValueError(
            "labels must be probabilities in [0, 1] that chosen is preferred, got values in "
            f"[{float(labels.min())}, {float(labels.max())}]"
        )


def check_label_smoothing(label_smoothing: float) -> None:
    """Raise unless ``label_smoothing`` lies in [0, 0.5); at 0.5 every label is a coin flip."""
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must lie in [0, 0.5), got {label_smoothing}")


def preference_targets(labels: Tensor | None, label_smoothing: float, like: Tensor) -> Tensor:
    """Probability that chosen is preferred, smoothed: ``p (1 - eps) + (1 - p) eps``.

    ``p`` is ``labels`` (soft labels, e.g. AI feedback) or 1 when there are none.
    """
    p = torch.ones_like(like) if labels is None else labels.to(like.dtype)
    return p * (1 - label_smoothing) + (1 - p) * label_smoothing


def preference_cross_entropy(d: Tensor, p: Tensor) -> Tensor:
    """Per-pair Bradley-Terry cross-entropy ``-[p log sigmoid(d) + (1 - p) log sigmoid(-d)]``.

    ``d`` is the pair's preference logit, ``p`` the target probability that chosen wins.
    """
    return -(p * F.logsigmoid(d) + (1 - p) * F.logsigmoid(-d))


def bradley_terry_loss(
    chosen_rewards: Tensor,
    rejected_rewards: Tensor,
    *,
    labels: Tensor | None = None,
    margin: Tensor | float | None = None,
    label_smoothing: float = 0.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Cross-entropy of the Bradley-Terry preference model, averaged over pairs.

    ``P(chosen > rejected) = sigmoid(d)`` with ``d = r_c - r_r - margin`` (Bradley & Terry 1952;
    the reward-model loss of Ouyang et al. 2022; the per-pair margin of Touvron et al. 2023).
    With target ``p`` (``labels``, or 1) smoothed to ``p' = p (1 - eps) + (1 - p) eps``::

        loss = mean_pairs -[p' log sigmoid(d) + (1 - p') log sigmoid(-d)]

    Metrics describe the rewards themselves, without the margin: ``accuracy`` (fraction of
    pairs with ``r_c > r_r``), ``margin`` (mean ``r_c - r_r``), ``rewards/chosen``,
    ``rewards/rejected`` (means).
    """
    _check_pairs(chosen_rewards, rejected_rewards)
    check_label_smoothing(label_smoothing)
    if labels is not None:
        check_preference_labels(labels, chosen_rewards.shape)
    if isinstance(margin, Tensor) and margin.shape not in (torch.Size(), chosen_rewards.shape):
        raise ValueError(
            f"margin must be a scalar or [B] = {tuple(chosen_rewards.shape)}, "
            f"got shape {tuple(margin.shape)}"
        )

    reward_gap = chosen_rewards - rejected_rewards
    d = reward_gap if margin is None else reward_gap - margin
    p = preference_targets(labels, label_smoothing, like=d)
    loss = preference_cross_entropy(d, p).mean()

    reward_gap = reward_gap.detach()
    metrics = {
        "accuracy": (reward_gap > 0).float().mean(),
        "margin": reward_gap.mean(),
        "rewards/chosen": chosen_rewards.detach().mean(),
        "rewards/rejected": rejected_rewards.detach().mean(),
    }
    return loss, metrics
