"""What every Goodhart benchmark starts from: the organism, the SFT policy and the default
reward model, each built or trained once under ``--root`` and reused after.

    root/organism/          alignlab organism build
    root/runs/sft/model     alignlab train sft (the starting policy)
    root/runs/reward/model  alignlab train reward (the proxy), on the organism's prefs
"""

from __future__ import annotations

import argparse
from pathlib import Path


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="where organism/ and runs/ live"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    return parser


def pipeline(root: Path, threads: int) -> dict[str, str]:
    """Paths of the organism, SFT policy and default reward model, made if missing."""
    import torch
    from organism_runs import reward_model

    from alignlab.experiments.forms.base import ExperimentConfig, prepare

    torch.set_num_threads(threads)
    organism = root / "organism"
    runs = root / "runs"
    policy = runs / "sft" / "model"
    setup = prepare(
        ExperimentConfig(
            organism=str(organism),
            policy=str(policy) if (policy / "config.json").exists() else None,
            output_dir=str(runs),
            threads=threads,
        ),
        claim=False,
    )
    reward = reward_model(organism, Path(setup.policy), runs, threads=threads)
    return {
        "organism": str(organism),
        "policy": setup.policy,
        "reward": str(reward),
        "prompts": str(organism / "data" / "prompts_train.jsonl"),
        "heldout_prompts": str(organism / "data" / "prompts_heldout.jsonl"),
    }


def shown(estimate: dict | None) -> str:
    if estimate is None:
        return "-"
    return f"{estimate['value']:.3f} [{estimate['lo']:.2f}, {estimate['hi']:.2f}]"
