"""PPO for language models: advantages, clipped policy and value losses, entropy bonus.

Tensors are ``[B, T]`` per response token; ``mask`` marks the valid steps, a contiguous
run in each row that may start after left padding and end before right padding. Every
mean is a masked mean over the valid tokens of the whole batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from alignlab.objectives.logprobs import entropy_from_logits, masked_mean


def _check_steps(mask: Tensor, **tensors: Tensor) -> Tensor:
    if mask.dim() != 2:
        raise ValueError(f"mask must be [B, T], got shape {tuple(mask.shape)}")
    for name, value in tensors.items():
        if value.shape != mask.shape:
            raise ValueError(
                f"{name} shape {tuple(value.shape)} does not match mask shape {tuple(mask.shape)}"
            )
    return mask.bool()


def gae(
    rewards: Tensor, values: Tensor, mask: Tensor, *, gamma: float = 1.0, lam: float = 0.95
) -> tuple[Tensor, Tensor]:
    """Generalized advantage estimation (Schulman et al. 2016), per row of ``[B, T]``.

    ``delta_t = r_t + gamma V_{t+1} - V_t`` and ``A_t = delta_t + gamma lam A_{t+1}``, with
    the episode ending after the last valid step (``V`` and ``A`` beyond it are 0).
    Returns ``(advantages, returns = advantages + values)``, both 0 off the mask and
    detached: they are regression and policy-gradient targets, not functions to train.
    """
    mask = _check_steps(mask, rewards=rewards, values=values)
    runs_started = mask[:, :1].sum(1) + (mask[:, 1:] & ~mask[:, :-1]).sum(1)
    if (runs_started > 1).any():
        raise ValueError("mask must mark one contiguous run of valid steps per row")
    rewards, values = rewards.detach(), values.detach()

    # Whether step t + 1 continues the episode; the last valid step is terminal.
    continues = torch.zeros_like(mask)
    continues[:, :-1] = mask[:, 1:]
    next_values = torch.zeros_like(values)
    next_values[:, :-1] = values[:, 1:]
    next_values = torch.where(continues, next_values, 0.0)
    deltas = rewards + gamma * next_values - values

    advantages = torch.zeros_like(values)
    running = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        running = deltas[:, t] + gamma * lam * torch.where(continues[:, t], running, 0.0)
        advantages[:, t] = running
    advantages = torch.where(mask, advantages, 0.0)
    returns = torch.where(mask, advantages + values, 0.0)
    return advantages, returns


def policy_loss(
    logps: Tensor,
    old_logps: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip_range: float = 0.2,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Clipped surrogate objective of PPO (Schulman et al. 2017), as a loss.

    ``ratio = exp(logps - old_logps)``;
    ``loss = mean_t max(-A_t ratio_t, -A_t clip(ratio_t, 1 - eps, 1 + eps))``.

    Metrics: ``clipfrac`` (fraction of tokens where the clipped term wins, so the token
    gives no gradient), ``approx_kl`` (``mean (ratio - 1) - log ratio``, the k3 estimate of
    ``KL(old || new)`` on tokens sampled from the old policy), ``ratio/mean``.
    """
    mask = _check_steps(mask, logps=logps, old_logps=old_logps, advantages=advantages)
    if clip_range <= 0:
        raise ValueError(f"clip_range must be positive, got {clip_range}")
    log_ratio = logps - old_logps.detach()
    ratio = torch.exp(log_ratio)
    advantages = advantages.detach()
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)

    ratio, log_ratio = ratio.detach(), log_ratio.detach()
    metrics = {
        "clipfrac": masked_mean((clipped > unclipped).float().detach(), mask),
        "approx_kl": masked_mean(torch.expm1(log_ratio) - log_ratio, mask),
        "ratio/mean": masked_mean(ratio, mask),
    }
    return loss, metrics


def value_loss(
    values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    mask: Tensor,
    *,
    clip_range_value: float = 0.2,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Clipped value loss of PPO (Schulman et al. 2017, as in its reference implementation).

    ``V_clip = old_V + clip(V - old_V, -eps, eps)``;
    ``loss = 0.5 mean_t max((V_t - R_t)^2, (V_clip_t - R_t)^2)``: the value head may not
    move more than eps from its rollout estimate in one update, like the policy.

    Metrics: ``value_clipfrac`` (fraction of tokens where the clipped error is larger).
    """
    mask = _check_steps(mask, values=values, old_values=old_values, returns=returns)
    if clip_range_value <= 0:
        raise ValueError(f"clip_range_value must be positive, got {clip_range_value}")
    old_values, returns = old_values.detach(), returns.detach()
    step = torch.clamp(values - old_values, -clip_range_value, clip_range_value)
    values_clipped = old_values + step
    unclipped_error = (values - returns) ** 2
    clipped_error = (values_clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(unclipped_error, clipped_error), mask)
    metrics = {
        "value_clipfrac": masked_mean((clipped_error > unclipped_error).float().detach(), mask),
    }
    return loss, metrics


def entropy_bonus(logits: Tensor, mask: Tensor) -> Tensor:
    """Masked mean entropy of the next-token distributions, ``mean_t H(softmax(logits_t))``.

    ``logits`` is ``[B, T, V]`` and ``mask`` ``[B, T]`` on the same positions: to score the
    response, pass ``logits[:, :-1]`` with ``response_mask[:, 1:]``. Subtract
    ``entropy_coef * entropy_bonus(...)`` from the loss to reward exploration.
    """
    if logits.dim() != 3 or mask.shape != logits.shape[:2]:
        raise ValueError(
            "logits must be [B, T, V] and mask [B, T] on the same positions, got shapes "
            f"{tuple(logits.shape)} and {tuple(mask.shape)}"
        )
    return masked_mean(entropy_from_logits(logits), mask)
