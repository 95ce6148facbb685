"""The assistant organism and its SFT policy, made ready for an experiment that needs them.

Every lab that starts from the organism (the Goodhart forms, the oversight protocols) gets
them here: the organism is built where it is missing (seed 0, the default world), and the
SFT policy is trained on its demonstrations into the experiment's directory, resuming an
interrupted run and reusing a finished one. :func:`organism_key` names an organism by what
it was built from, so runs keyed by it are never reused for an organism rebuilt otherwise
at the same path. :func:`ladder_models` finds the demo ladder's stage models in a demo's
directory, for the labs that measure each stage.
"""

from __future__ import annotations

import json
from pathlib import Path

from alignlab.config import fingerprint, from_dict
from alignlab.models.adapters import is_model_dir
from alignlab.organisms.assistant.build import build
from alignlab.organisms.assistant.config import WorldConfig
from alignlab.trainers import SFTConfig, train_sft

LADDER = {
    "base": "organism/base",
    "SFT": "runs/sft/model",
    "PPO": "runs/ppo-proxy/model",
    "PPO-oracle": "runs/ppo-oracle/model",
    "DPO": "runs/dpo/model",
    "CAI": "runs/cai/sl_cai/model",
}
"""The demo ladder's stage models, by stage, under the demo's directory."""


def ladder_models(
    demo_dir: str | Path | None, extra: dict[str, str], stages: list[str] | None = None
) -> dict[str, str]:
    """The models to measure, by stage name: the demo ladder's that exist under ``demo_dir``
    (only ``stages``, when given), then ``extra`` (a name of a stage replaces its model).
    Raises ``ValueError`` when there are none, or a stage asked for is not a ladder stage."""
    unknown = sorted(set(stages or ()) - set(LADDER))
    if unknown:
        raise ValueError(f"stages: unknown {unknown}; the ladder's: {', '.join(LADDER)}")
    found = {}
    if demo_dir is not None:
        for stage, relative in LADDER.items():
            path = Path(demo_dir) / relative
            if (stages is None or stage in stages) and is_model_dir(path):
                found[stage] = str(path)
    found |= extra
    if not found:
        raise ValueError(
            f"models: none to measure (no stage model under demo_dir {str(demo_dir)!r}, "
            "and models is empty)"
        )
    return found


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
