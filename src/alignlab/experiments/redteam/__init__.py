"""The automated red team (Perez et al. 2022) on the assistant world: an attacker trained
with PPO to make each of the demo ladder's policies fail, and the fix on what it found.

:func:`run_redteam` trains, per target and seed, the attacker from its zero-shot start (the
organism's base model taught to write world requests, :mod:`.attacks`) against the target's
gold-judged failures with a diversity term (:mod:`.target`), measures both attackers'
found-failure rate and diversity, and publishes the ``redteam.attack`` panel
(:mod:`.panel`). :func:`fix_redteam` does the same first (reusing finished runs), then fixes
each target by DPO on its attacker's failures and publishes ``redteam.fix`` (:mod:`.fix`).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from alignlab.experiments.redteam.config import RedTeamConfig
from alignlab.experiments.redteam.fix import fix_and_measure
from alignlab.experiments.redteam.panel import attack_panel, fix_panel
from alignlab.experiments.redteam.runs import attack_and_measure, run_root
from alignlab.progress import progress_bar
from alignlab.report import publish_panel

TITLE = "alignlab: red teaming"
"""The title of a results.json the red team starts."""


def _attacks(config: RedTeamConfig, root: Path) -> dict[str, list[dict]]:
    targets = config.target_models()
    results: dict[str, list[dict]] = {name: [] for name in targets}
    total = len(targets) * config.seeds
    with progress_bar(total, "red team", enabled=config.progress, unit="attacker") as advance:
        for name, target in targets.items():
            for seed in config.seed_list:
                results[name].append(attack_and_measure(config, root, name, target, seed))
                advance(1, target=name)
    return results


def _publish(config: RedTeamConfig, name: str, panel: dict) -> Path:
    directories = (config.output_dir, config.report_dir)
    return publish_panel(directories, "redteam", name, panel, title=TITLE)


def run_redteam(config: RedTeamConfig) -> tuple[dict, Path]:
    """Attack every target under every seed; publish the ``attack`` panel."""
    start = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    root = run_root(config)
    results = _attacks(config, root)
    panel = attack_panel(config, results)
    panel["wall_s"] = time.perf_counter() - start
    return panel, _publish(config, "attack", panel)


def fix_redteam(config: RedTeamConfig) -> tuple[dict, Path]:
    """Attack (reusing finished runs), fix every target on what was found, measure the
    fix; publish both panels and return the ``fix`` panel."""
    start = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    root = run_root(config)
    attacks = _attacks(config, root)
    _publish(config, "attack", attack_panel(config, attacks))
    targets = config.target_models()
    fixes: dict[str, list[dict]] = {name: [] for name in targets}
    with progress_bar(len(targets) * config.seeds, "fix", enabled=config.progress) as advance:
        for name, target in targets.items():
            for seed, attack in zip(config.seed_list, attacks[name], strict=True):
                fixes[name].append(fix_and_measure(config, root, name, target, seed, attack))
                advance(1, target=name)
    panel = fix_panel(config, fixes, attacks)
    panel["wall_s"] = time.perf_counter() - start
    return panel, _publish(config, "fix", panel)


__all__ = ["TITLE", "RedTeamConfig", "fix_redteam", "run_redteam"]
