"""Direct preference optimization and its variants (the ``DPO_LOSSES`` registry).

``train_dpo(DPOConfig(...))`` trains the policy on comparisons with
:func:`~alignlab.objectives.dpo_loss` (Rafailov et al. 2023). The reference policy never
changes, so its log-probs of every chosen and rejected response are computed once, before
the first step, and kept in ``output_dir/reference_logps.safetensors`` (a resumed run
reads them back). Reference-free variants (``simpo``) skip the reference and score the
policy's length-normalized log-probs (Meng et al. 2024).

Each comparison's ``weight`` is its soft label when the loss reads labels; a loss that
takes hard labels only refuses data with soft ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from alignlab.data.io import read_records
from alignlab.models.loading import load_tokenizer
from alignlab.models.sequences import sequence_logps
from alignlab.objectives import DPO_LOSSES, dpo_loss
from alignlab.progress import progress_bar
from alignlab.trainers.config import PolicyTrainConfig, with_defaults
from alignlab.trainers.loop import TrainingTask, run_loop
from alignlab.trainers.policy import load_policy, load_reference, save_policy
from alignlab.trainers.preferences import (
    PreferenceExample,
    collate_comparisons,
    encode_comparisons,
)
from alignlab.trainers.processes import make_accelerator
from alignlab.trainers.rundir import prepare_run_dir
from alignlab.trainers.tracking import policy_evaluator

REFERENCE_LOGPS = "reference_logps.safetensors"


# A lower learning rate than SFT's: preference gradients push likelihoods down as well as
# up, and on the organism 1e-4 breaks the world's grammar as it goes.
@dataclass
@with_defaults(lr=3e-5)
class DPOConfig(PolicyTrainConfig):
    """Direct preference optimization of a policy on comparisons."""

    REQUIRED = (*PolicyTrainConfig.REQUIRED, "train_file")

    train_file: str | None = None
    """Comparisons (prompt/chosen/rejected, optional weight): JSONL, Parquet or datasets.
    Required."""
    output_dir: str = "runs/dpo"
    """Where the run writes config.toml, metrics.jsonl, checkpoints/ and model/."""
    loss_type: str = "sigmoid"
    """A loss of the DPO_LOSSES registry: sigmoid (DPO), cdpo, ipo, hinge, robust, simpo."""
    beta: float = 0.1
    """Inverse temperature: how tightly the policy is tied to the reference."""
    label_smoothing: float = 0.0
    """Label smoothing (cdpo) or the assumed label-flip rate (robust)."""
    simpo_gamma: float = 0.5
    """SimPO's target reward margin."""
    length_normalized: bool | None = None
    """Average log-probs over response tokens, not sum them; unset: for reference-free losses."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.loss_type not in DPO_LOSSES:
            raise ValueError(
                f"loss_type: unknown {self.loss_type!r}; known: {', '.join(sorted(DPO_LOSSES))}"
            )
        if self.beta <= 0:
            raise ValueError(f"beta: must be > 0, got {self.beta}")
        variant = DPO_LOSSES[self.loss_type]
        if self.label_smoothing and not variant.label_smoothing:
            raise ValueError(f"label_smoothing: loss_type {self.loss_type!r} does not use it")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ValueError(f"label_smoothing: must lie in [0, 0.5), got {self.label_smoothing}")

    @property
    def average_logps(self) -> bool:
        if self.length_normalized is not None:
            return self.length_normalized
        return DPO_LOSSES[self.loss_type].reference_free


def reference_logps(
    reference: torch.nn.Module,
    examples: list[PreferenceExample],
    pad_id: int,
    *,
    average: bool,
    batch_size: int,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``log pi_ref`` of every chosen and every rejected response, ``[N]`` each."""
    chosen, rejected = [], []
    bar = progress_bar(len(examples), "reference log-probs", enabled=progress, unit="pair")
    with torch.inference_mode(), bar as advance:
        for start in range(0, len(examples), batch_size):
            chunk = examples[start : start + batch_size]
            logps = sequence_logps(reference, collate_comparisons(chunk, pad_id), average=average)
            c, r = logps.float().cpu().chunk(2)
            chosen.append(c)
            rejected.append(r)
            advance(len(chunk))
    return torch.cat(chosen), torch.cat(rejected)


def _read_reference_logps(path: Path, meta: dict[str, str]):
    """The log-probs saved at ``path`` when they were computed for the same data, else None."""
    if not path.exists():
        return None
    with safe_open(path, "pt") as f:
        if f.metadata() != meta:
            return None
        return f.get_tensor("chosen"), f.get_tensor("rejected")


def _with_reference_logps(config, run_dir, examples, pad_id, reference, accelerator) -> list:
    """``examples`` carrying the reference's log-probs: read back on resume, else computed
    (with ``reference``, or the reference loaded for the purpose) and saved."""
    path = run_dir / REFERENCE_LOGPS
    meta = {
        "train_file": config.train_file,
        "n": str(len(examples)),
        "reference": config.reference or config.model,
        "average": str(config.average_logps),
    }
    logps = _read_reference_logps(path, meta) if config.resume else None
    if logps is None:
        scorer = reference if reference is not None else load_reference(config, accelerator.device)
        logps = reference_logps(
            scorer,
            examples,
            pad_id,
            average=config.average_logps,
            batch_size=config.batch_size,
            progress=config.progress and accelerator.is_main_process,
        )
        if accelerator.is_main_process:
            save_file({"chosen": logps[0], "rejected": logps[1]}, path, metadata=meta)
    return [
        e._replace(ref_chosen_logps=float(c), ref_rejected_logps=float(r))
        for e, c, r in zip(examples, *logps, strict=True)
    ]


def _dpo_step(config: DPOConfig, labelled: bool):
    def step(model, batch):
        logps = sequence_logps(model, batch, average=config.average_logps)
        chosen, rejected = logps.chunk(2)
        return dpo_loss(
            chosen,
            rejected,
            batch.get("ref_chosen_logps"),
            batch.get("ref_rejected_logps"),
            beta=config.beta,
            loss_type=config.loss_type,
            label_smoothing=config.label_smoothing,
            simpo_gamma=config.simpo_gamma,
            labels=batch["labels"] if labelled else None,
        )

    return step


def train_dpo(config: DPOConfig) -> Path:
    """Train ``config.model`` with DPO on ``config.train_file``; return the model directory."""
    run_dir = Path(config.output_dir)
    prepare_run_dir(run_dir, config, resume=config.resume)
    comparisons = read_records(config.train_file, "comparison")
    variant = DPO_LOSSES[config.loss_type]
    soft = next((i for i, c in enumerate(comparisons) if c.weight != 1.0), None)
    if soft is not None and not variant.labels:
        raise ValueError(
            f"{config.train_file}: record {soft + 1} has weight {comparisons[soft].weight}, a "
            f"soft label, but loss_type {config.loss_type!r} takes hard labels only"
        )
    tokenizer = load_tokenizer(
        config.model,
        trust_remote_code=config.trust_remote_code,
        chat_template=config.chat_template,
    )
    pad_id = tokenizer.pad_token_id
    examples = encode_comparisons(tokenizer, comparisons, config.max_length)
    accelerator = make_accelerator(config)
    device = accelerator.device
    reference = None if config.eval_prompts is None else load_reference(config, device)
    if not variant.reference_free:
        examples = _with_reference_logps(config, run_dir, examples, pad_id, reference, accelerator)
    model = load_policy(config, device)
    task = TrainingTask(
        name=f"dpo ({config.loss_type})",
        model=model,
        examples=examples,
        collate=partial(collate_comparisons, pad_id=pad_id),
        loss=_dpo_step(config, labelled=soft is not None),
        evaluate=policy_evaluator(config, tokenizer, reference, device),
    )
    trained = run_loop(config, task, run_dir, accelerator)
    if accelerator.is_main_process:
        save_policy(trained, tokenizer, run_dir / "model", merge_lora=config.merge_lora)
    accelerator.wait_for_everyone()
    return run_dir / "model"
