"""Supervised fine-tuning: imitate demonstrations, token by token, on the response only."""

from __future__ import annotations

from torch import Tensor

from alignlab.objectives.logprobs import masked_mean, token_logps


def sft_loss(
    logits: Tensor, input_ids: Tensor, response_mask: Tensor
) -> tuple[Tensor, dict[str, Tensor]]:
    """Mean negative log-likelihood of the response tokens (Ouyang et al. 2022, SFT stage).

    ``loss = -(1 / N) sum_{b, t} m[b, t] log p(input_ids[b, t + 1] | input_ids[b, :t + 1])``
    with ``m = response_mask[:, 1:]`` and ``N = sum m``: every response token in the batch
    weighs the same, and the prompt is context, not a target.

    Metrics: ``loss``, ``tokens`` (N), ``ppl`` (``exp(loss)``, the response perplexity).
    """
    if response_mask.shape != input_ids.shape:
        raise ValueError(
            f"response_mask shape {tuple(response_mask.shape)} does not match "
            f"input_ids shape {tuple(input_ids.shape)}"
        )
    target_mask = response_mask[:, 1:].bool()
    loss = -masked_mean(token_logps(logits, input_ids), target_mask)
    metrics = {
        "loss": loss.detach(),
        "tokens": target_mask.sum().float(),
        "ppl": loss.detach().exp(),
    }
    return loss, metrics
