"""The assistant organism and its SFT policy, made ready for an experiment that needs them.

Every lab that starts from the organism (the Goodhart forms, the oversight protocols) gets
them here: the organism is built where it is missing (seed 0, the default world), and the
SFT policy is trained on its demonstrations into the experiment's directory, resuming an
interrupted run and reusing a finished one.
"""

from __future__ import annotations

import json
from pathlib import Path

from alignlab.config import from_dict
from alignlab.models.adapters import is_model_dir


def ready_organism(path: str | Path):
    """The organism at ``path`` (built there when missing) and its ``WorldConfig``."""
    from alignlab.organisms.assistant import WorldConfig
    from alignlab.organisms.assistant.build import build

    organism = Path(path)
    world_file = organism / "world.json"
    if not world_file.exists():
        build(organism, seed=0, config=WorldConfig())
    world = json.loads(world_file.read_text(encoding="utf-8"))
    return organism, from_dict(WorldConfig, world["config"], source=str(world_file))


def sft_policy(organism: Path, out: Path, threads: int, seed: int = 0) -> str:
    """The organism's base model fine-tuned on its demonstrations, in ``out/model``."""
    from alignlab.trainers import SFTConfig, train_sft

    model = out / "model"
    if not is_model_dir(model):
        settings = {
            "model": str(organism / "base"),
            "train_file": str(organism / "data" / "sft.jsonl"),
            "output_dir": str(out),
            "threads": threads,
            "seed": seed,
            "resume": (out / "metrics.jsonl").exists(),
        }
        train_sft(from_dict(SFTConfig, settings, source="sft"))
    return str(model)
