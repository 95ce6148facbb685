"""The assistant organism and its SFT policy, made ready for an experiment that needs them.

Every lab that starts from the organism (the Goodhart forms, the oversight protocols) gets
them here: the organism is built where it is missing (seed 0, the default world), and the
SFT policy is trained on its demonstrations into the experiment's directory, resuming an
interrupted run and reusing a finished one. :func:`organism_key` names an organism by what
it was built from, so runs keyed by it are never reused for an organism rebuilt otherwise
at the same path.
"""

from __future__ import annotations

import json
from pathlib import Path

from alignlab.config import fingerprint, from_dict
from alignlab.models.adapters import is_model_dir
from alignlab.organisms.assistant.build import build
from alignlab.organisms.assistant.config import WorldConfig
from alignlab.trainers import SFTConfig, train_sft


def ready_organism(path: str | Path):
    """The organism at ``path`` (built there when missing) and its ``WorldConfig``."""
    organism = Path(path)
    world_file = organism / "world.json"
    if not world_file.exists():
        build(organism, seed=0, config=WorldConfig())
    world = json.loads(world_file.read_text(encoding="utf-8"))
    return organism, from_dict(WorldConfig, world["config"], source=str(world_file))


def organism_key(organism: Path) -> str:
    """A short hash of the seed and world config the organism at ``organism`` was built from."""
    world = json.loads((organism / "world.json").read_text(encoding="utf-8"))
    return fingerprint(world["seed"], world["config"])


def sft_policy(organism: Path, out: Path, threads: int, seed: int = 0) -> str:
    """The organism's base model fine-tuned on its demonstrations, in
    ``out/<organism_key>/model``."""
    out = out / organism_key(organism)
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
