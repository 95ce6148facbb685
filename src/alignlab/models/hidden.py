"""Hidden states of a causal LM: every layer's residual stream at one token position per text.

:func:`hidden_states` runs texts through a model in batches (sorted by length, right-padded,
``output_hidden_states=True``, no gradients) and keeps, for each text and each layer, the
hidden state at one position, chosen by name from :data:`POSITIONS`:

- ``last``: the text's last token, ``h[l, i] = H_l[i, T_i - 1]`` (``T_i`` its length), the
  position where a causal model has read the whole statement (Azaria & Mitchell 2023 read
  the last token; Marks & Tegmark 2023 the statement's end);
- ``mean``: the mean over its tokens, ``h[l, i] = (1 / T_i) sum_t H_l[i, t]``.

The result is a float32 array ``[layers + 1, n, d]``: index 0 the embeddings, index ``l``
the output of block ``l``, as the model returns them (HF's ``hidden_states``; in most
architectures the last one is taken after the final norm). Texts are raw text, not chat:
the tokenizer adds its own special tokens (Gemma's ``<bos>``; the organism adds none).
Only the decoder runs (``model.base_model``), not the output head, which in a model with a
large vocabulary costs more than the blocks.

:func:`collect_hidden_states` loads any HF causal LM directory (a LoRA adapter directory
loads as its base with the adapter merged, through :func:`~alignlab.models.loading.load_causal_lm`)
on the CPU in float32 and caches its result as ``<cache_dir>/<key>.npy``, the key a
fingerprint of the model (its path and its weight files' sizes and times) and of the texts
and position, so a rerun reads the file instead of the model.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from alignlab.config import fingerprint
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.progress import progress_bar

Pooler = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(hidden [B, T, D], attention_mask [B, T]) -> [B, D]``: one vector per text."""


def last_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``H[b, T_b - 1]``: each text's last real token (right padding)."""
    last = mask.sum(dim=1) - 1
    return hidden[torch.arange(hidden.shape[0]), last]


def mean_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(1 / T_b) sum_t H[b, t]`` over each text's real tokens."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1)


POSITIONS: dict[str, Pooler] = {"last": last_token, "mean": mean_token}
"""Where in a text its hidden state is read, by name."""


def _pooler(position: str) -> Pooler:
    if position not in POSITIONS:
        raise ValueError(f"position: unknown {position!r}; known: {', '.join(POSITIONS)}")
    return POSITIONS[position]


def hidden_states(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    position: str = "last",
    batch_size: int = 8,
    progress: bool = False,
) -> np.ndarray:
    """Every layer's hidden state of each text at ``position``: float32 ``[layers + 1, n, d]``."""
    pool = _pooler(position)
    if batch_size < 1:
        raise ValueError(f"batch_size: must be at least 1, got {batch_size}")
    texts = list(texts)
    if not texts:
        raise ValueError("texts: need at least one text")
    ids = tokenizer(texts, add_special_tokens=True)["input_ids"]
    for i, row in enumerate(ids):
        if not row:
            raise ValueError(f"texts[{i}]: {texts[i]!r} encodes to no tokens")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    decoder = getattr(model, "base_model", model)
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
    out: np.ndarray | None = None
    with (
        progress_bar(len(texts), "hidden states", enabled=progress, unit="text") as advance,
        torch.inference_mode(),
    ):
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(ids[i]) for i in chunk)
            input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                mask[row, : len(ids[i])] = 1
            output = decoder(
                input_ids=input_ids.to(device),
                attention_mask=mask.to(device),
                output_hidden_states=True,
                use_cache=False,
            )
            layers = [
                pool(h.float(), mask.to(h.device)).cpu().numpy() for h in output.hidden_states
            ]
            if out is None:
                out = np.empty((len(layers), len(texts), layers[0].shape[-1]), dtype=np.float32)
            for layer, values in enumerate(layers):
                out[layer, chunk] = values
            advance(len(chunk))
    assert out is not None
    return out


def model_identity(model: str | Path) -> dict:
    """What names a model for a cache: its resolved path and each weight file's size and
    modification time (a hub id: the id itself), so a retrained model never hits the cache."""
    path = Path(model).expanduser()
    if not path.is_dir():
        return {"model": str(model)}
    weights = sorted(path.glob("*.safetensors"))
    identity = {
        "model": str(path.resolve()),
        "weights": [[w.name, w.stat().st_size, w.stat().st_mtime_ns] for w in weights],
    }
    adapter = path / "adapter_config.json"
    if adapter.is_file():
        base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path")
        if base:
            identity["base"] = model_identity(base)
    return identity


def collect_hidden_states(
    model: str | Path,
    texts: Sequence[str],
    *,
    position: str = "last",
    batch_size: int = 8,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> np.ndarray:
    """:func:`hidden_states` of the model directory (or hub id) ``model``, on the CPU in
    float32; read from ``cache_dir/<key>.npy`` when there, written there when computed."""
    _pooler(position)
    texts = list(texts)
    cached = None
    if cache_dir is not None:
        key = fingerprint(model_identity(model), texts, position)
        cached = Path(cache_dir) / f"{key}.npy"
        if cached.is_file():
            return np.load(cached)
    network = load_causal_lm(model, dtype="float32", device="cpu")
    with warnings.catch_warnings():
        # Raw text, never a chat: a base model's missing chat template does not matter here.
        warnings.filterwarnings("ignore", message=".*has no chat template.*")
        tokenizer = load_tokenizer(model, padding_side="right")
    states = hidden_states(
        network, tokenizer, texts, position=position, batch_size=batch_size, progress=progress
    )
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_name(f".{cached.stem}.tmp.npy")
        np.save(temporary, states)
        temporary.replace(cached)
    return states
