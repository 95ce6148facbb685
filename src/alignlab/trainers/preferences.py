"""Comparisons as training examples: encoded once, batched chosen-then-rejected."""

from __future__ import annotations

from typing import NamedTuple

import torch

from alignlab.data.records import Comparison
from alignlab.models.sequences import EncodedPair, collate, encode_pairs


class PreferenceExample(NamedTuple):
    """One comparison, encoded; DPO adds the reference's log-probs of both responses."""

    chosen: EncodedPair
    rejected: EncodedPair
    weight: float
    ref_chosen_logps: float | None = None
    ref_rejected_logps: float | None = None


def encode_comparisons(
    tokenizer, comparisons: list[Comparison], max_length: int
) -> list[PreferenceExample]:
    """Each comparison's chosen and rejected pairs, encoded as models score them."""
    prompts = [c.prompt for c in comparisons]
    pairs = encode_pairs(
        tokenizer,
        prompts + prompts,
        [c.chosen for c in comparisons] + [c.rejected for c in comparisons],
        max_length=max_length,
    )
    n = len(comparisons)
    return [PreferenceExample(pairs[i], pairs[n + i], c.weight) for i, c in enumerate(comparisons)]


def collate_comparisons(examples: list[PreferenceExample], pad_id: int) -> dict[str, torch.Tensor]:
    """One right-padded batch of 2B pairs, the B chosen then the B rejected; ``labels`` [B]
    (each comparison's weight) and, when the examples carry them, the reference log-probs."""
    batch = collate([e.chosen for e in examples] + [e.rejected for e in examples], pad_id)
    batch["labels"] = torch.tensor([e.weight for e in examples], dtype=torch.float32)
    if examples[0].ref_chosen_logps is not None:
        batch["ref_chosen_logps"] = torch.tensor([e.ref_chosen_logps for e in examples])
        batch["ref_rejected_logps"] = torch.tensor([e.ref_rejected_logps for e in examples])
    return batch
