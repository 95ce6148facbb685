"""Reward models fitted to pairwise preferences, alone or as a bootstrap ensemble.

``train_reward(RewardConfig(...))`` starts a :class:`~alignlab.models.reward.RewardModel`
from a causal LM (fresh scalar head), minimizes
:func:`~alignlab.objectives.bradley_terry_loss` with each comparison's ``weight`` as the
soft label, and measures held-out pairwise accuracy (with its bootstrap interval) at every
evaluation and in ``eval.json``.

With ``ensemble = K > 1`` it trains K members, member k with seed ``seed + k`` on a
bootstrap resample of the comparisons (as many draws, with replacement), each in
``output_dir/member_<k>/`` (metrics.jsonl, checkpoints/), and saves them as
``model/member_<k>/``, loadable with :meth:`~alignlab.models.reward.RewardEnsemble.load`.
``eval.json`` then holds each member's accuracy and the ensemble's under the mean, the
worst case and the mean minus one standard deviation (Coste et al. 2023).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from accelerate import PartialState

from alignlab.data.io import read_records
from alignlab.data.records import Comparison
from alignlab.models.loading import load_tokenizer, wrap_lora
from alignlab.models.reward import RewardEnsemble, RewardModel
from alignlab.objectives import bradley_terry_loss
from alignlab.stats import Estimate, comparison_accuracy
from alignlab.trainers.config import TrainConfig
from alignlab.trainers.loop import TrainingTask, run_loop
from alignlab.trainers.preferences import collate_comparisons, encode_comparisons
from alignlab.trainers.processes import make_accelerator
from alignlab.trainers.rundir import merged, prepare_run_dir, save_model_dir


@dataclass
class RewardConfig(TrainConfig):
    """Bradley-Terry reward modelling on comparisons."""

    REQUIRED = (*TrainConfig.REQUIRED, "train_file")

    train_file: str | None = None
    """Comparisons (prompt/chosen/rejected, optional weight): JSONL, Parquet or datasets.
    Required."""
    eval_file: str | None = None
    """Held-out comparisons for pairwise accuracy; unset: no evaluation."""
    output_dir: str = "runs/reward"
    """Where the run writes config.toml, metrics.jsonl, checkpoints/, model/ and eval.json."""
    ensemble: int = 1
    """Members to train, each on its own bootstrap resample of the data."""
    label_smoothing: float = 0.0
    """Pull every target probability this far towards 1/2 (assumed label noise)."""
    eval_batch_size: int = 32
    """Pairs per batch when scoring the held-out comparisons."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ensemble < 1 or self.eval_batch_size < 1:
            raise ValueError("ensemble and eval_batch_size: must be >= 1")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ValueError(f"label_smoothing: must lie in [0, 0.5), got {self.label_smoothing}")


class HeldOutAccuracy:
    """Pairwise accuracy of a reward model on held-out comparisons, with its interval."""

    def __init__(self, comparisons: list[Comparison], batch_size: int):
        self.comparisons = comparisons
        self.batch_size = batch_size
        self.labels = np.array([c.weight for c in comparisons])

    def scores(self, model: RewardModel) -> tuple[np.ndarray, np.ndarray]:
        """Rewards of the chosen and of the rejected responses."""
        prompts = [c.prompt for c in self.comparisons]
        chosen = [c.chosen for c in self.comparisons]
        rejected = [c.rejected for c in self.comparisons]
        return (
            model.score(prompts, chosen, batch_size=self.batch_size).numpy(),
            model.score(prompts, rejected, batch_size=self.batch_size).numpy(),
        )

    def accuracy(self, chosen: np.ndarray, rejected: np.ndarray) -> Estimate:
        return comparison_accuracy(chosen, rejected, labels=self.labels)

    def __call__(self, model: RewardModel) -> dict[str, float]:
        acc = self.accuracy(*self.scores(model))
        return {
            "eval/accuracy": acc.value,
            "eval/accuracy_lo": acc.lo,
            "eval/accuracy_hi": acc.hi,
            "eval/n": float(acc.n),
        }


def _bt_step(label_smoothing: float):
    def step(model, batch):
        rewards = model(batch)
        chosen, rejected = rewards.float().chunk(2)
        return bradley_terry_loss(
            chosen, rejected, labels=batch["labels"], label_smoothing=label_smoothing
        )

    return step


def fit_scalar_head(
    config: TrainConfig,
    name: str,
    examples,
    collate,
    loss,
    evaluate,
    run_dir: Path,
    model_dir: Path,
    *,
    head_only: bool = False,
) -> RewardModel:
    """A :class:`RewardModel` started from ``config.model`` (a fresh scalar head; LoRA when
    ``config.lora`` is set; the head alone, the backbone frozen, with ``head_only``),
    trained by the shared loop on ``examples`` batched by
    ``collate(examples, pad_id)`` with ``loss``, and saved merged into ``model_dir`` by the
    main process; returns the trained model."""
    accelerator = make_accelerator(config)
    reward_model = RewardModel.from_causal_lm(
        config.model,
        dtype=config.dtype,
        device=accelerator.device,
        trust_remote_code=config.trust_remote_code,
        seed=config.seed,
    )
    if config.lora is not None:
        reward_model.model = wrap_lora(reward_model.model, config.lora, task_type="SEQ_CLS")
    if head_only:
        reward_model.model.base_model.requires_grad_(False)
    reward_model.train()
    pad_id = reward_model.tokenizer.pad_token_id
    task = TrainingTask(
        name=name,
        model=reward_model,
        examples=examples,
        collate=lambda batch: collate(batch, pad_id),
        loss=loss,
        evaluate=evaluate,
    )
    trained = run_loop(config, task, run_dir, accelerator)
    if accelerator.is_main_process:
        # Saved merged whatever merge_lora says (RewardModel.save).
        trained.model = merged(trained.model)
        save_model_dir(trained.save, model_dir)
    accelerator.wait_for_everyone()
    return trained


def _train_member(
    config: RewardConfig,
    examples: list,
    evaluate: HeldOutAccuracy | None,
    run_dir: Path,
    model_dir: Path,
) -> None:
    fit_scalar_head(
        config,
        f"reward {run_dir.name}" if run_dir.name.startswith("member_") else "reward",
        examples,
        collate_comparisons,
        _bt_step(config.label_smoothing),
        evaluate,
        run_dir,
        model_dir,
    )


def _train_ensemble(config: RewardConfig, examples, evaluate, run_dir: Path, model_dir: Path):
    """Member k: seed ``seed + k``, a bootstrap resample drawn from ``(seed, k)``."""
    for k in range(config.ensemble):
        member_dir = model_dir / f"member_{k}"
        if config.resume and (member_dir / "config.json").exists():
            continue  # finished before the run was interrupted
        resample = np.random.default_rng([config.seed, k]).integers(0, len(examples), len(examples))
        member = replace(config, seed=config.seed + k)
        member_examples = [examples[i] for i in resample]
        _train_member(member, member_examples, evaluate, run_dir / f"member_{k}", member_dir)


def _ensemble_eval(model_dir: Path, evaluate: HeldOutAccuracy, device) -> dict:
    ensemble = RewardEnsemble.load(model_dir, device=device)
    members, chosen, rejected = [], [], []
    for member in ensemble.members:
        c, r = evaluate.scores(member)
        members.append(evaluate.accuracy(c, r).to_dict())
        chosen.append(c)
        rejected.append(r)
    chosen, rejected = np.stack(chosen), np.stack(rejected)
    conservative = [s.mean(0) - s.std(0, ddof=1) for s in (chosen, rejected)]
    return {
        "members": members,
        "mean": evaluate.accuracy(chosen.mean(0), rejected.mean(0)).to_dict(),
        "min": evaluate.accuracy(chosen.min(0), rejected.min(0)).to_dict(),
        "mean-1.0std": evaluate.accuracy(*conservative).to_dict(),
    }


def train_reward(config: RewardConfig) -> Path:
    """Fit a reward model (or ensemble) to ``config.train_file``; return the model directory."""
    run_dir = Path(config.output_dir)
    prepare_run_dir(run_dir, config, resume=config.resume)
    comparisons = read_records(config.train_file, "comparison")
    evaluate = None
    if config.eval_file is not None:
        held_out = read_records(config.eval_file, "comparison")
        evaluate = HeldOutAccuracy(held_out, config.eval_batch_size)
    tokenizer = load_tokenizer(
        config.model,
        trust_remote_code=config.trust_remote_code,
        chat_template=config.chat_template,
    )
    examples = encode_comparisons(tokenizer, comparisons, config.max_length)
    model_dir = run_dir / "model"
    if config.ensemble == 1:
        _train_member(config, examples, evaluate, run_dir, model_dir)
    else:
        _train_ensemble(config, examples, evaluate, run_dir, model_dir)
    if evaluate is not None and PartialState().is_main_process:
        device = "cpu" if config.cpu else None
        if config.ensemble == 1:
            model = RewardModel.load(model_dir, device=device)
            summary = {"accuracy": evaluate.accuracy(*evaluate.scores(model)).to_dict()}
        else:
            summary = _ensemble_eval(model_dir, evaluate, device)
        summary = {"eval_file": config.eval_file, **summary}
        (run_dir / "eval.json").write_text(json.dumps(summary, indent=2) + "\n")
    return model_dir
