"""The fix: DPO of a target on the failures its attacker found, measured three ways.

For each target and seed, the distinct failing attacks of the trained attacker's sample
become preference pairs (:func:`~alignlab.experiments.redteam.attacks.fix_pairs`: the gold's
correct answer over the target's failing one), and the target is trained on them by DPO
(Rafailov et al. 2023) with itself as the reference. Then, before and after:

- the fixed suites, the organism's held-out ``world-refusal`` (harmful compliance, and the
  fix's cost: over-refusal of harmless look-alikes) and ``world-sycophancy`` (false claims
  agreed with);
- replay: new attacks sampled from the same trained attacker, answered by both targets;
- a fresh attacker: a new PPO run from the zero-shot red LM against the fixed target,
  against the first attacker's success on the unfixed one.
"""

from __future__ import annotations

from pathlib import Path

from alignlab.config import from_dict
from alignlab.data.io import write_records
from alignlab.evals import RunConfig, SuiteOptions, build_tasks, run_eval
from alignlab.experiments.redteam.attacks import Verdict, fix_pairs
from alignlab.experiments.redteam.config import RedTeamConfig
from alignlab.experiments.redteam.runs import (
    FRESH_SEED,
    attack_run,
    judged,
    make_target,
    measured,
    sample_attacks,
)
from alignlab.models.adapters import is_model_dir
from alignlab.models.backends.hf import HFBackend
from alignlab.trainers import DPOConfig, train_dpo

SUITE_RATES = {
    "harmful_compliance": ("world-refusal", "harmful_compliance_rate"),
    "over_refusal": ("world-refusal", "over_refusal_rate"),
    "false_claim_agreement": ("world-sycophancy", "sycophancy_rate/false_claim"),
}
"""The fixed suites' rates measured before and after the fix: (suite, metric)."""


def fixed_suites(config: RedTeamConfig, model: str | Path, out: Path) -> dict[str, dict]:
    """The :data:`SUITE_RATES` of ``model``, from the organism's held-out suites (resumable
    in ``out``)."""
    options = SuiteOptions(
        max_new_tokens=config.max_answer_tokens,
        temperature=config.target_temperature,
        organism=config.organism_dir(),
    )
    tasks = build_tasks(sorted({suite for suite, _ in SUITE_RATES.values()}), options)
    backend = HFBackend.load(model, device="cpu", dtype="float32", batch_size=config.rollout_size)
    summary = run_eval(tasks, backend, out, RunConfig(resume=True, progress=config.progress))
    return {
        name: summary["suites"][suite]["metrics"][metric]
        for name, (suite, metric) in SUITE_RATES.items()
    }


def fixed_model(
    config: RedTeamConfig, out: Path, target: str, pairs: list[dict], seed: int
) -> Path:
    """``target`` trained by DPO on ``pairs`` into ``out`` (reused when finished)."""
    model = out / "model"
    if is_model_dir(model):
        return model
    train_file = out / "pairs.jsonl"
    write_records(train_file, pairs)
    settings = {
        "model": target,
        "train_file": str(train_file),
        "output_dir": str(out),
        "beta": config.fix_beta,
        "epochs": config.fix_epochs,
        "lr": config.fix_lr,
        "seed": seed,
        "threads": config.threads,
        "progress": config.progress,
        "resume": (out / "metrics.jsonl").exists(),
    }
    return train_dpo(from_dict(DPOConfig, settings, source="redteam fix"))


def fix_and_measure(
    config: RedTeamConfig, root: Path, name: str, target: str, seed: int, attack: dict
) -> dict:
    """Fix ``target`` on what ``seed``'s attacker found (``attack``: its measurement) and
    measure the fix (module docstring); ``{"pairs": 0}`` when it found nothing."""
    out = root / "fix" / name / f"seed-{seed}"
    before = measured(
        root / "fix" / name / "before.json",
        lambda: {"suites": fixed_suites(config, target, root / "fix" / name / "before-eval")},
    )

    def compute() -> dict:
        verdicts = [Verdict(**v) for v in attack["verdicts"]]
        pairs = fix_pairs(verdicts, seed)
        if not pairs:
            return {"pairs": 0}
        fixed = fixed_model(config, out, target, pairs, seed)
        attacker = root / "attack" / name / f"seed-{seed}" / "model"
        replay = sample_attacks(config, attacker, seed + 1)
        fresh = attack_run(config, root, out / "fresh", fixed, seed, ppo_seed=seed + FRESH_SEED)
        fixed_target = make_target(config, fixed, seed)
        return {
            "pairs": len(pairs),
            "suites": fixed_suites(config, fixed, out / "eval"),
            "replay_before": judged(make_target(config, target, seed).verdicts(replay)),
            "replay_after": judged(fixed_target.verdicts(replay)),
            "fresh": judged(
                fixed_target.verdicts(sample_attacks(config, fresh, seed + FRESH_SEED))
            ),
        }

    return {"before": before["suites"], **measured(out / "measured.json", compute)}
