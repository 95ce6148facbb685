"""Per-token log-probabilities, entropies and masked statistics of token tensors.

Alignment (next-token): ``logits[:, t]`` predicts ``input_ids[:, t + 1]``, so a
sequence of ``T`` tokens has ``T - 1`` per-token log-probs, and the mask that
selects the response among them is ``response_mask[:, 1:]``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_logits(logits: Tensor, input_ids: Tensor) -> None:
    if logits.dim() != 3:
        raise ValueError(f"logits must be [B, T, V], got shape {tuple(logits.shape)}")
    if input_ids.shape != logits.shape[:2]:
        raise ValueError(
            f"input_ids must be [B, T] = {tuple(logits.shape[:2])} to match logits, "
            f"got shape {tuple(input_ids.shape)}"
        )
    if input_ids.dtype.is_floating_point or input_ids.dtype == torch.bool:
        raise ValueError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}")
    vocab_size = logits.shape[-1]
    if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= vocab_size):
        raise ValueError(
            f"input_ids must lie in [0, {vocab_size}) (the logits' vocabulary), "
            f"got values in [{int(input_ids.min())}, {int(input_ids.max())}]"
        )


def _check_mask(x: Tensor, mask: Tensor) -> Tensor:
    if mask.shape != x.shape:
        raise ValueError(
            f"mask shape {tuple(mask.shape)} does not match tensor shape {tuple(x.shape)}"
        )
    return mask.bool()


def token_logps(logits: Tensor, input_ids: Tensor) -> Tensor:
    """Log-probability of each next token, ``[B, T - 1]`` in float32.

    ``out[b, t] = logits[b, t, y] - logsumexp(logits[b, t])`` with ``y = input_ids[b, t + 1]``.
    Works one sequence at a time in float32, so the working copy is ``[T, V]``, never
    ``[B, T, V]``: a bf16 reference pass without gradients stays as small as its logits.
    """
    _check_logits(logits, input_ids)
    targets = input_ids[:, 1:].unsqueeze(-1)
    rows = []
    for row_logits, row_targets in zip(logits[:, :-1], targets, strict=True):
        row_logits = row_logits.float()
        picked = row_logits.gather(-1, row_targets).squeeze(-1)
        rows.append(picked - torch.logsumexp(row_logits, dim=-1))
    return torch.stack(rows)


def entropy_from_logits(logits: Tensor) -> Tensor:
    """Entropy of each position's next-token distribution, ``[B, T]`` in float32.

    ``H = -sum_v p_v log p_v`` with ``p = softmax(logits)``; logits of ``-inf`` (masked-out
    vocabulary) contribute 0 and keep gradients finite.
    """
    if logits.dim() != 3:
        raise ValueError(f"logits must be [B, T, V], got shape {tuple(logits.shape)}")
    rows = []
    for row_logits in logits:
        logp = torch.log_softmax(row_logits.float(), dim=-1)
        # Clamping -inf keeps 0 * log 0 at 0 instead of nan, in the value and in its gradient.
        logp_finite = logp.clamp(min=torch.finfo(logp.dtype).min)
        rows.append(-(logp.exp() * logp_finite).sum(-1))
    return torch.stack(rows)


def sequence_logps(token_logps: Tensor, mask: Tensor, average: bool = False) -> Tensor:
    """Log-probability of each sequence's masked tokens, ``[B]``.

    ``sum_t mask[b, t] * token_logps[b, t]``, or that sum divided by ``sum_t mask[b, t]``
    when ``average`` (the length-normalized log-prob SimPO uses). ``mask`` is aligned with
    ``token_logps``, i.e. ``response_mask[:, 1:]``.
    """
    if token_logps.dim() != 2:
        raise ValueError(f"token_logps must be [B, T - 1], got shape {tuple(token_logps.shape)}")
    mask = _check_mask(token_logps, mask)
    if average:
        return masked_mean(token_logps, mask, dim=1)
    return torch.where(mask, token_logps, 0.0).sum(dim=1)


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of ``x`` over the positions where ``mask`` is true (over all of them, or along ``dim``).

    Masked-out positions never enter the arithmetic, so ``-inf`` or ``nan`` there is harmless.
    """
    mask = _check_mask(x, mask)
    total = torch.where(mask, x, 0.0).sum(dim=dim)
    count = mask.sum(dim=dim)
    if (count == 0).any():
        where = "" if dim is None else f" in some slice along dim {dim}"
        raise ValueError(f"mask selects no elements{where}: the mean is undefined")
    return total / count


def masked_var(x: Tensor, mask: Tensor, unbiased: bool = True) -> Tensor:
    """Variance of ``x`` over the masked positions (Bessel-corrected when ``unbiased``)."""
    mask = _check_mask(x, mask)
    centered = x - masked_mean(x, mask)
    var = masked_mean(centered**2, mask)
    if unbiased:
        count = mask.sum()
        if count < 2:
            raise ValueError(
                "mask selects fewer than 2 elements: the unbiased variance is undefined"
            )
        var = var * count / (count - 1)
    return var


def masked_whiten(x: Tensor, mask: Tensor, shift_mean: bool = True, eps: float = 1e-8) -> Tensor:
    """Scale ``x`` to unit variance over the masked positions; 0 where ``mask`` is false.

    ``(x - mean) / sqrt(var + eps)``, plus ``mean`` again when not ``shift_mean``: advantages
    are centered, rewards keep their mean so their sign still says good or bad.
    """
    mask = _check_mask(x, mask)
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    whitened = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return torch.where(mask, whitened, 0.0)
