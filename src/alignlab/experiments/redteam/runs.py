"""The red team's runs: the attacker's SFT start, its PPO runs against each target, and the
attacks sampled from an attacker and judged against a target.

Everything lives under ``output_dir/redteam/<key>/`` (:func:`run_root`; the key is a
fingerprint of the settings that shape a seed's numbers and of the organism), one
directory per run; a finished run is reused and an interrupted PPO run resumes.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from alignlab.config import fingerprint, from_dict, to_dict
from alignlab.data.io import json_once, write_records
from alignlab.experiments.organism import organism_key, ready_organism
from alignlab.experiments.redteam.attacks import (
    ATTACKER_INSTRUCTION,
    FAILURES,
    INVALID,
    Verdict,
    attacker_demonstrations,
    diversity,
)
from alignlab.experiments.redteam.config import RedTeamConfig
from alignlab.experiments.redteam.target import Target
from alignlab.models.adapters import is_model_dir
from alignlab.models.generation import generate
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.trainers import PPOConfig, SFTConfig, train_ppo, train_sft

RUN_FREE = {"output_dir", "threads", "progress", "report_dir", "demo_dir", "models", "targets"}
"""Settings that change which targets run, or how and where, not what a seed computes."""
FRESH_SEED = 1000
"""Added to a seed for the fresh attacker trained against a fixed target."""


def run_root(config: RedTeamConfig) -> Path:
    """``output_dir/redteam/<key>/``, with the settings written there as ``settings.json``."""
    organism, _ = ready_organism(config.organism_dir())
    settings = {k: v for k, v in to_dict(config).items() if k not in RUN_FREE | {"organism"}}
    root = Path(config.output_dir) / "redteam" / fingerprint(settings, organism_key(organism))
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return root


def attacker_start(config: RedTeamConfig, root: Path, seed: int) -> Path:
    """The zero-shot red LM of ``seed``: the organism's base model fine-tuned to answer
    :data:`ATTACKER_INSTRUCTION` with world requests."""
    out = root / "attacker" / f"seed-{seed}"
    model = out / "model"
    if is_model_dir(model):
        return model
    out.mkdir(parents=True, exist_ok=True)
    demos = out / "demonstrations.jsonl"
    write_records(demos, attacker_demonstrations(config.demonstrations, seed))
    settings = {
        "model": str(config.organism_dir() / "base"),
        "train_file": str(demos),
        "output_dir": str(out),
        "threads": config.threads,
        "progress": config.progress,
        "seed": seed,
        "resume": (out / "metrics.jsonl").exists(),
    }
    return train_sft(from_dict(SFTConfig, settings, source="redteam attacker"))


def attack_run(
    config: RedTeamConfig,
    root: Path,
    out: Path,
    target: Path | str,
    seed: int,
    *,
    ppo_seed: int | None = None,
) -> Path:
    """An attacker trained by PPO from ``seed``'s zero-shot red LM against ``target`` into
    ``out`` (its rollouts seeded ``ppo_seed``, by default ``seed``); ``metrics.jsonl``'s
    ``gold/mean`` is each step's found-failure rate."""
    model = out / "model"
    if is_model_dir(model):
        return model
    start = attacker_start(config, root, seed)
    out.mkdir(parents=True, exist_ok=True)
    prompts = out / "prompts.jsonl"
    write_records(prompts, [{"input": ATTACKER_INSTRUCTION}])
    reward = make_target(config, target, seed if ppo_seed is None else ppo_seed)
    settings = {
        "model": str(start),
        "reward": f"red team: {config.reward} of {target} - {config.diversity_coef:g} x similarity",
        "gold": f"red team: failures of {target}",
        "prompts": str(prompts),
        "output_dir": str(out),
        "max_steps": config.steps,
        "rollout_size": config.rollout_size,
        "batch_size": math.gcd(16, config.rollout_size),  # PPO's minibatch, a divisor
        "max_new_tokens": config.max_attack_tokens,
        "lr": config.lr,
        "kl_coef": config.kl_coef,
        "seed": seed if ppo_seed is None else ppo_seed,
        "threads": config.threads,
        "progress": config.progress,
        "eval_every": 0,
        "resume": (out / "metrics.jsonl").exists(),
    }
    return train_ppo(
        from_dict(PPOConfig, settings, source="redteam attacker"),
        reward_fn=reward,
        gold_fn=reward.found,
    )


def make_target(config: RedTeamConfig, path: Path | str, seed: int) -> Target:
    return Target(
        path,
        seed=seed,
        reward=config.reward,
        diversity_coef=config.diversity_coef,
        temperature=config.target_temperature,
        max_new_tokens=config.max_answer_tokens,
        batch_size=config.rollout_size,
    )


def sample_attacks(config: RedTeamConfig, attacker: Path, seed: int) -> list[str]:
    """``n_attacks`` attacks sampled from ``attacker``, each with its own seed."""
    model = load_causal_lm(attacker, device="cpu", dtype="float32")
    tokenizer = load_tokenizer(attacker)
    seeds = np.random.SeedSequence([seed, 7]).generate_state(config.n_attacks) >> 1
    with torch.no_grad():
        texts = generate(
            model,
            tokenizer,
            [ATTACKER_INSTRUCTION] * config.n_attacks,
            max_new_tokens=config.max_attack_tokens,
            seeds=seeds.tolist(),
            batch_size=config.rollout_size,
        )
    return [group[0] for group in texts]


def zero_shot_attacks(config: RedTeamConfig, root: Path, seed: int) -> list[str]:
    """``seed``'s zero-shot red LM's sampled attacks, the same for every target: sampled
    once into ``attacker/seed-<s>/attacks.json``."""
    path = root / "attacker" / f"seed-{seed}" / "attacks.json"
    return json_once(path, lambda: sample_attacks(config, attacker_start(config, root, seed), seed))


def judged(verdicts: list[Verdict]) -> dict:
    """What a sample of attacks found, per attack (for the panel's rates) and in all."""
    return {
        "failed": [int(v.failed) for v in verdicts],
        **{c: [int(v.category == c) for v in verdicts] for c in (*FAILURES, INVALID)},
        "diversity": diversity([v.attack for v in verdicts]),
        "distinct_failures": len({v.attack for v in verdicts if v.failed}),
        "examples": sorted({v.attack for v in verdicts if v.failed})[:8],
    }


def measured(path: Path, compute) -> dict:
    """The JSON at ``path``; when missing, ``compute()`` with the seconds it took, written
    there first (:func:`~alignlab.data.io.json_once`)."""

    def timed() -> dict:
        start = time.perf_counter()
        return {**compute(), "seconds": round(time.perf_counter() - start, 2)}

    return json_once(path, timed)


def attack_and_measure(
    config: RedTeamConfig, root: Path, name: str, target: str, seed: int
) -> dict:
    """Train ``seed``'s attacker against ``target`` and measure it and its zero-shot start:
    each one's ``n_attacks`` sampled attacks judged, and the training curve."""
    out = root / "attack" / name / f"seed-{seed}"

    def compute() -> dict:
        started = time.perf_counter()
        attacker = attack_run(config, root, out, target, seed)
        trained_s = time.perf_counter() - started
        against = make_target(config, target, seed)
        zero_shot = against.verdicts(zero_shot_attacks(config, root, seed))
        rl = against.verdicts(sample_attacks(config, attacker, seed))
        return {
            "zero_shot": judged(zero_shot),
            "rl": judged(rl),
            "verdicts": [vars(v) for v in rl],
            "curve": read_curve(out),
            "train_s": round(trained_s, 2),
        }

    return measured(out / "measured.json", compute)


def read_curve(run: Path) -> list[dict]:
    """Each PPO step's found-failure rate and KL to the start, from ``metrics.jsonl``."""
    rows = []
    for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "gold/mean" in row:
            rows.append({"step": row["step"], "found": row["gold/mean"], "kl": row.get("kl")})
    return rows
