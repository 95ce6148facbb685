"""The policy a trainer trains, its frozen reference, and the saved result."""

from __future__ import annotations

from pathlib import Path

import torch

from alignlab.models.loading import load_causal_lm
from alignlab.trainers.config import PolicyTrainConfig
from alignlab.trainers.rundir import merged, save_model_dir, save_weights


def load_policy(config: PolicyTrainConfig, device: torch.device) -> torch.nn.Module:
    """The starting ``model`` in train mode, with LoRA adapters when ``config.lora`` is set."""
    model = load_causal_lm(
        config.model,
        dtype=config.dtype,
        device=device,
        trust_remote_code=config.trust_remote_code,
        lora=config.lora,
    )
    model.train()
    return model


def load_reference(config: PolicyTrainConfig, device: torch.device) -> torch.nn.Module:
    """The frozen reference policy: ``reference``, or else the starting ``model``."""
    model = load_causal_lm(
        config.reference or config.model,
        dtype=config.dtype,
        device=device,
        trust_remote_code=config.trust_remote_code,
    )
    model.requires_grad_(False)
    return model


def save_policy(model: torch.nn.Module, tokenizer, path: Path, *, merge_lora: bool = False) -> Path:
    """Write the trained policy and its tokenizer as an HF model directory: a LoRA policy
    as its adapter (:mod:`~alignlab.models.adapters`), or merged into full weights with
    ``merge_lora``."""
    model = merged(model) if merge_lora else model

    def save(directory: Path) -> None:
        save_weights(model, directory)
        tokenizer.save_pretrained(directory)

    save_model_dir(save, path)
    return path
