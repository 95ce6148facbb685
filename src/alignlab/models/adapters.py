"""LoRA adapter directories: what a LoRA run saves unless asked to merge.

An adapter directory is what ``peft`` writes (``adapter_config.json`` and
``adapter_model.safetensors``) plus the tokenizer, so the tokenizer loads from it like
from any model directory. Its ``base_model_name_or_path`` names the model the adapter
was trained on: an absolute path when that model was a local directory (so the adapter
still loads from another working directory), else a hub id. The base may itself be an
adapter directory (a LoRA DPO run on a LoRA SFT run's model); loading follows the chain.

:func:`~alignlab.models.loading.load_causal_lm` reads either kind of directory; this
module only recognizes, reads and writes adapter directories.
"""

from __future__ import annotations

import json
from pathlib import Path

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
MAX_CHAIN = 16
"""Most adapters stacked on one base (a longer chain is taken to be a cycle)."""


def is_adapter_dir(path: str | Path) -> bool:
    """Whether ``path`` is a local adapter directory (an adapter config, no config.json)."""
    path = Path(path).expanduser()
    return (path / ADAPTER_CONFIG).is_file() and not (path / "config.json").is_file()


def is_model_dir(path: str | Path) -> bool:
    """Whether ``path`` holds a saved model: a full one (config.json) or an adapter."""
    path = Path(path).expanduser()
    return (path / "config.json").is_file() or is_adapter_dir(path)


def adapter_base(path: str | Path) -> str:
    """The ``base_model_name_or_path`` of adapter directory ``path``; an error naming the
    file and the field when it is unreadable or unset, or the weights are not safetensors."""
    path = Path(path).expanduser()
    config_file = path / ADAPTER_CONFIG
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{config_file}: cannot read the adapter config: {error}") from None
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    if not isinstance(base, str) or not base:
        raise ValueError(
            f"{config_file}: base_model_name_or_path is not set, so the model the adapter "
            "was trained on is unknown; set it to that model's directory or hub id"
        )
    if not (path / ADAPTER_WEIGHTS).is_file():
        raise ValueError(
            f"{path}: no {ADAPTER_WEIGHTS} (alignlab loads *.safetensors only; "
            "save the adapter with save_pretrained(safe_serialization=True))"
        )
    return base


def save_adapter(model, directory: str | Path) -> None:
    """Write ``peft`` model ``model``'s adapters (safetensors) to ``directory``, its
    ``base_model_name_or_path`` made absolute when the base is a local directory."""
    for config in model.peft_config.values():
        base = config.base_model_name_or_path
        if base and Path(base).expanduser().exists():
            config.base_model_name_or_path = str(Path(base).expanduser().resolve())
    # alignlab never resizes the vocabulary (the pad token is an existing token), so the
    # base's embeddings need no copy, and peft need not ask the hub whether they changed.
    model.save_pretrained(str(directory), safe_serialization=True, save_embedding_layers=False)


def merge_adapter(model, directory: str | Path):
    """``model`` with the adapter of ``directory`` applied and merged into its weights; the
    result is named after ``directory``, so an adapter trained on it records it as base."""
    from peft import PeftModel  # here, so that reading an adapter config imports no torch

    try:
        peft_model = PeftModel.from_pretrained(model, str(directory))
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise ValueError(f"{directory}: cannot apply the adapter to its base: {error}") from error
    merged = peft_model.merge_and_unload()
    merged.name_or_path = str(directory)
    merged.config.name_or_path = str(directory)
    return merged
