"""Pre-training the world's base model from scratch on its corpus.

The corpus is tokenized once, concatenated into one token stream (documents
end with ``<|end|>``), and cut into blocks at random offsets drawn from the
seeded generator; a small Llama-style model learns it with AdamW under a
linear-warmup cosine schedule. On two CPU cores the default takes well under a
minute.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from alignlab.organisms.assistant.config import ModelConfig, PretrainConfig


def model_config(tokenizer, config: ModelConfig):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_attention_heads,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )


def token_stream(tokenizer, documents: list[str]) -> np.ndarray:
    """All documents' token ids, concatenated."""
    ids = tokenizer(documents, add_special_tokens=False)["input_ids"]
    return np.fromiter((t for doc in ids for t in doc), dtype=np.int64)


def lr_at(step: int, config: PretrainConfig) -> float:
    """Linear warmup to ``lr``, then cosine decay to a tenth of it."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress))))


def pretrain(
    tokenizer,
    documents: list[str],
    model_cfg: ModelConfig,
    config: PretrainConfig,
    *,
    seed: int,
    progress: bool = True,
):
    """A freshly initialized causal LM trained on ``documents``; returns ``(model, metrics)``."""
    from transformers import LlamaForCausalLM

    from alignlab.progress import progress_bar

    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(model_config(tokenizer, model_cfg))
    stream = torch.from_numpy(token_stream(tokenizer, documents))
    block = config.block_size
    if len(stream) <= block:
        raise ValueError(f"corpus of {len(stream)} tokens is shorter than one block ({block})")
    generator = torch.Generator().manual_seed(seed)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
        betas=(0.9, 0.95),
    )
    offsets = torch.arange(block + 1)
    losses = []
    start = time.perf_counter()
    model.train()
    try:
        with progress_bar(config.steps, "pre-training the base model", enabled=progress) as advance:
            for step in range(config.steps):
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step, config)
                starts = torch.randint(
                    0, len(stream) - block - 1, (config.batch_size,), generator=generator
                )
                batch = stream[starts[:, None] + offsets]
                loss = model(input_ids=batch[:, :-1], labels=batch[:, :-1]).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss.item())
                advance(1, loss=f"{loss.item():.3f}")
    finally:
        torch.set_num_threads(threads)
    model.eval()
    metrics = {
        "tokens": len(stream),
        "parameters": sum(p.numel() for p in model.parameters()),
        "final_loss": float(np.mean(losses[-20:])),
        "seconds": time.perf_counter() - start,
    }
    return model, metrics


def save_model(model, tokenizer, path: Path) -> None:
    """Write an HF model directory (safetensors, tokenizer, generation config)."""
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=48,
        do_sample=True,
    )
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
