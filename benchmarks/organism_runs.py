"""What the organism benchmarks start from: the organism as it was built, and the default
SFT policy and reward model on it, each trained once under a runs directory and reused
after (a run cut short resumes).

    organism/               alignlab organism build (an existing one is kept as built)
    runs/sft/model          alignlab train sft, from organism/base
    runs/reward/model       alignlab train reward, from the SFT policy, on organism's prefs
"""

from __future__ import annotations

import json
from pathlib import Path

from alignlab.config import from_dict


def organism(path: Path) -> Path:
    """Build the organism at ``path``, or reuse it with the seed and config it was built
    with (its config may differ from today's defaults)."""
    from alignlab.organisms.assistant import WorldConfig, build

    world = path / "world.json"
    if world.exists():
        saved = json.loads(world.read_text())
        build(path, seed=saved["seed"], config=from_dict(WorldConfig, saved["config"]))
    else:
        build(path)
    return path


def trained(train, config_cls, settings: dict) -> Path:
    """The model directory of the run ``settings`` describe, trained when missing."""
    from alignlab.trainers import train_or_reuse

    return train_or_reuse(train, from_dict(config_cls, settings))


def sft_policy(org: Path, runs: Path, **common) -> Path:
    """The default SFT run on the organism's demonstrations, from its base model."""
    from alignlab.trainers import SFTConfig, train_sft

    data = org / "data"
    settings = {
        "model": str(org / "base"),
        "train_file": str(data / "sft.jsonl"),
        "output_dir": str(runs / "sft"),
    }
    return trained(train_sft, SFTConfig, {**common, **settings})


def reward_model(org: Path, policy: Path, runs: Path, **common) -> Path:
    """The default reward model on the organism's preference pairs, from ``policy``."""
    from alignlab.trainers import RewardConfig, train_reward

    data = org / "data"
    settings = {
        "model": str(policy),
        "train_file": str(data / "prefs.jsonl"),
        "eval_file": str(data / "prefs_heldout.jsonl"),
        "output_dir": str(runs / "reward"),
    }
    return trained(train_reward, RewardConfig, {**common, **settings})
