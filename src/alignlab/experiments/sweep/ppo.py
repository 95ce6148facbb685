"""PPO sweeps: one PPO run per KL coefficient, every step a point.

Run ``ppo/kl_coef=<c>`` trains in ``output_dir/ppo/kl_coef=<c>/`` (a run directory of
:mod:`alignlab.trainers.ppo`, checkpointed every ``measure_every`` steps). Its train-split
points are its own rollouts: the rollout of step ``s`` samples the policy after ``s - 1``
updates, so it is the point at pressure ``s - 1``, measured on ``rollout_size`` responses.
Their KL comes from the rollout's own log-probs: per response, the sum over its tokens of
the ``k3`` estimator (Schulman 2020), unbiased for the sequence-level KL like the plain
log-ratio, but never negative and typically less noisy. Its held-out points are sampled
from the policy on the held-out prompts
(:func:`~alignlab.experiments.sweep.sampling.measure_policy`) at pressure 0, every
``measure_every`` updates, and after the last one. With ``oracle`` the same runs are
repeated on the gold reward as ``oracle/ppo/kl_coef=<c>``.

An interrupted sweep skips runs whose points are all in ``points.jsonl`` and resumes the
others from their last checkpoint; steps redone after it keep the points already stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alignlab.config import from_dict
from alignlab.experiments.sweep.best_of_n import read_prompts
from alignlab.experiments.sweep.config import SweepConfig
from alignlab.experiments.sweep.sampling import measure_policy
from alignlab.goodhart.points import PointStore
from alignlab.goodhart.scoring import Scorers, point, reshape
from alignlab.stats.intervals import mean


def heldout_pressures(steps: int, every: int) -> list[int]:
    """The updates after which the held-out split is measured: 0, every, 2 every, ..., steps."""
    return sorted({*range(0, steps, every), steps})


def ppo_runs(config: SweepConfig) -> list[tuple[str, str, float]]:
    """``(run, reward spec, kl_coef)`` of every PPO run the sweep makes."""
    runs = [(f"ppo/kl_coef={c:g}", config.reward, c) for c in config.ppo.kl_coefs]
    if config.ppo.oracle:
        if config.gold is None:
            raise ValueError("ppo.oracle: runs PPO on the gold reward, so gold must be set")
        runs += [(f"oracle/{run}", config.gold, c) for run, _, c in runs]
    return runs


def sequence_kl_k3(logps, ref_logps, mask) -> np.ndarray:
    """Per response ``[B]``: the sum over its tokens (``mask``) of the ``k3`` estimate of
    ``KL(pi || pi_ref)`` from the sampling policy's and the reference's log-probs."""
    import torch

    from alignlab.objectives import kl_estimate

    per_token = torch.where(mask, kl_estimate(logps, ref_logps, "k3"), 0.0)
    return per_token.sum(dim=1).numpy().astype(float)


def _missing(config: SweepConfig, store: PointStore, run: str) -> bool:
    steps = config.ppo.steps
    wanted = [("train", s) for s in range(steps)]
    if "heldout" in config.splits:
        wanted += [("heldout", s) for s in heldout_pressures(steps, config.ppo.measure_every)]
    return any(not store.has(run, split, s) for split, s in wanted)


def _ppo_config(config: SweepConfig, run: str, reward: str, kl_coef: float, run_dir: Path):
    from alignlab.trainers.ppo import PPOConfig

    every = config.ppo.measure_every
    settings = {
        "save_every": every,
        "eval_every": 0,
        **config.ppo.settings,
        "model": config.policy,
        "prompts": config.prompts,
        "eval_prompts": config.heldout_prompts or config.prompts,
        "reward": reward,
        "kl_coef": kl_coef,
        "max_steps": config.ppo.steps,
        "output_dir": str(run_dir),
        "seed": config.seed,
        "threads": config.threads,
        "resume": (run_dir / "metrics.jsonl").exists(),
    }
    return from_dict(PPOConfig, settings, source=f"ppo run {run}")


def run_ppo(config: SweepConfig, store: PointStore, scorers: Scorers, run, reward, kl_coef):
    """Train (or resume) one PPO run, adding its points to ``store`` as they come."""
    from alignlab.trainers.ppo import PPOTrainer

    run_dir = Path(config.output_dir) / run
    trainer = PPOTrainer(_ppo_config(config, run, reward, kl_coef, run_dir))
    heldout = None
    if "heldout" in config.splits:
        heldout = read_prompts(config.splits["heldout"], config.max_prompts)
    measured = set(heldout_pressures(config.ppo.steps, config.ppo.measure_every))
    optimized = not run.startswith("oracle/")

    def measure_heldout(pressure: int) -> None:
        if heldout is None or store.has(run, "heldout", pressure):
            return
        store.add(
            measure_policy(
                trainer.policy,
                trainer.reference,
                trainer.tokenizer,
                heldout,
                scorers,
                run=run,
                split="heldout",
                pressure=pressure,
                settings={"kl_coef": kl_coef, "step": pressure},
                max_new_tokens=config.max_new_tokens,
                batch_size=config.batch_size,
                seed=config.seed,
            )
        )

    inner = trainer.rollout

    def rollout(step: int):
        found, metrics = inner(step)
        pressure = step - 1
        if not store.has(run, "train", pressure):
            proxy = found.proxy.numpy() if optimized else None
            columns = scorers.score(found.prompts, found.texts, proxy=proxy)
            kl = sequence_kl_k3(found.logps, found.ref_logps, found.mask)
            store.add(
                point(
                    reshape(columns, len(found.prompts)),
                    run=run,
                    split="train",
                    pressure=pressure,
                    settings={"kl_coef": kl_coef, "step": pressure},
                    kl=mean(kl, seed=config.seed),
                    seed=config.seed,
                )
            )
        if pressure in measured:
            measure_heldout(pressure)
        return found, metrics

    trainer.rollout = rollout
    trained = trainer.train()
    measure_heldout(config.ppo.steps)
    if trainer.accelerator.is_main_process:
        trained.save(trainer.tokenizer, run_dir / "model", merge_lora=trainer.config.merge_lora)


def sweep_ppo(config: SweepConfig, store: PointStore, scorers: Scorers) -> None:
    """Run every PPO run (and oracle run) that still lacks points."""
    for run, reward, kl_coef in ppo_runs(config):
        if _missing(config, store, run):
            run_ppo(config, store, scorers, run, reward, kl_coef)
