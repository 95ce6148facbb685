"""DPO sweeps: one DPO run per beta, each trained policy measured by sampling.

Run ``dpo`` has one point per beta at pressure ``1 / beta`` (smaller beta, further from
the start), each from a DPO run in ``output_dir/dpo/beta=<b>/``, and the starting policy
itself at pressure 0. Every point samples ``samples_per_prompt`` responses per prompt and
estimates KL from them (:func:`~alignlab.experiments.sweep.sampling.measure_policy`).
With ``oracle`` the same betas train on the same pairs relabelled by the gold reward
(``output_dir/dpo/gold_prefs.jsonl``: the higher-gold response chosen, ties dropped) as
run ``oracle/dpo``.

A finished DPO run (its ``model/``) is reused; an interrupted one resumes from its last
checkpoint; points already in ``points.jsonl`` are never measured again.
"""

from __future__ import annotations

from pathlib import Path

from alignlab.config import from_dict
from alignlab.data.records import Comparison
from alignlab.experiments.sweep.best_of_n import read_prompts
from alignlab.experiments.sweep.config import SweepConfig
from alignlab.experiments.sweep.sampling import measure_policy
from alignlab.goodhart.points import PointStore
from alignlab.goodhart.scoring import Scorers
from alignlab.models.adapters import is_model_dir


def gold_labelled(train_file: str, gold, out: Path) -> Path:
    """``train_file``'s pairs with the response ``gold`` scores higher as chosen; pairs
    gold ties are dropped. Written once to ``out``."""
    from alignlab.data.io import read_records, write_records

    if out.exists():
        return out
    pairs = read_records(train_file, "comparison")
    prompts = [c.prompt for c in pairs]
    chosen = gold(prompts, [c.chosen for c in pairs])
    rejected = gold(prompts, [c.rejected for c in pairs])
    relabelled = [
        Comparison(c.prompt, *((c.chosen, c.rejected) if a > b else (c.rejected, c.chosen)))
        for c, a, b in zip(pairs, chosen, rejected, strict=True)
        if a != b
    ]
    write_records(out, relabelled)
    return out


def train_beta(config: SweepConfig, beta: float, train_file: str, run_dir: Path) -> Path:
    """The model of a DPO run at ``beta`` (trained, resumed, or found finished)."""
    from alignlab.trainers.dpo import DPOConfig, train_dpo

    model = run_dir / "model"
    if is_model_dir(model):
        return model
    settings = {
        **config.dpo.settings,
        "model": config.policy,
        "train_file": train_file,
        "beta": beta,
        "output_dir": str(run_dir),
        "seed": config.seed,
        "threads": config.threads,
        "resume": (run_dir / "metrics.jsonl").exists(),
    }
    return train_dpo(from_dict(DPOConfig, settings, source=f"dpo run {run_dir.name}"))


def sweep_dpo(config: SweepConfig, store: PointStore, scorers: Scorers) -> None:
    """Measure the starting policy and every beta's DPO policy that still lacks points."""
    from alignlab.models.loading import load_causal_lm, load_tokenizer

    runs = {"dpo": config.dpo.train_file}
    root = Path(config.output_dir) / "dpo"
    if config.dpo.oracle:
        if scorers.gold is None:
            raise ValueError("dpo.oracle: relabels pairs by the gold reward, so gold must be set")
        root.mkdir(parents=True, exist_ok=True)
        runs["oracle/dpo"] = str(
            gold_labelled(config.dpo.train_file, scorers.gold, root / "gold_prefs.jsonl")
        )
    prompts = {s: read_prompts(f, config.max_prompts) for s, f in config.splits.items()}
    tokenizer = load_tokenizer(config.policy)
    reference = load_causal_lm(config.policy, device=config.device)
    reference.requires_grad_(False)
    settings = [(0.0, None, None)] + [(1.0 / b, b, f"beta={b:g}") for b in config.dpo.betas]
    for run, train_file in runs.items():
        for pressure, beta, name in settings:
            splits = [s for s in prompts if not store.has(run, s, pressure)]
            if not splits:
                continue
            if beta is None:
                policy = reference
            else:
                model_dir = train_beta(
                    config, beta, train_file, root / run.replace("/", "-") / name
                )
                policy = load_causal_lm(model_dir, device=config.device)
            for split in splits:
                store.add(
                    measure_policy(
                        policy,
                        reference,
                        tokenizer,
                        prompts[split],
                        scorers,
                        run=run,
                        split=split,
                        pressure=pressure,
                        settings={"beta": beta},
                        samples_per_prompt=config.dpo.samples_per_prompt,
                        max_new_tokens=config.max_new_tokens,
                        batch_size=config.batch_size,
                        seed=config.seed,
                    )
                )
