"""Supervised fine-tuning: imitate demonstrations, token by token, on the response only.

``train_sft(SFTConfig(...))`` reads ``Demonstration`` records (``prompt``/``completion``
or ``messages``, as :mod:`alignlab.data` reads them), minimizes
:func:`~alignlab.objectives.sft_loss` on the response tokens, and writes the run
directory described in :mod:`alignlab.trainers.rundir`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from alignlab.data.io import read_records
from alignlab.models.loading import load_tokenizer
from alignlab.models.sequences import collate, encode_pairs, forward_logits
from alignlab.objectives import sft_loss
from alignlab.trainers.config import PolicyTrainConfig
from alignlab.trainers.loop import TrainingTask, run_loop
from alignlab.trainers.policy import load_policy, load_reference, save_policy
from alignlab.trainers.processes import make_accelerator
from alignlab.trainers.rundir import prepare_run_dir
from alignlab.trainers.tracking import policy_evaluator


@dataclass
class SFTConfig(PolicyTrainConfig):
    """Supervised fine-tuning on demonstrations."""

    REQUIRED = (*PolicyTrainConfig.REQUIRED, "train_file")

    train_file: str | None = None
    """Demonstrations: JSONL, Parquet or a datasets directory. Required."""
    output_dir: str = "runs/sft"
    """Where the run writes config.toml, metrics.jsonl, checkpoints/ and model/."""


def sft_step(model, batch):
    """The SFT loss of a batch of prompt-response pairs."""
    logits = forward_logits(model, batch)
    return sft_loss(logits, batch["input_ids"], batch["response_mask"])


def response_tokens(batch) -> int:
    """The tokens the SFT loss is a mean over: the response's, each predicted from the last."""
    return int(batch["response_mask"][:, 1:].sum())


def train_sft(config: SFTConfig) -> Path:
    """Fine-tune ``config.model`` on ``config.train_file``; return the saved model directory."""
    run_dir = Path(config.output_dir)
    prepare_run_dir(run_dir, config, resume=config.resume)
    records = read_records(config.train_file, "demonstration")
    tokenizer = load_tokenizer(
        config.model,
        trust_remote_code=config.trust_remote_code,
        chat_template=config.chat_template,
    )
    examples = encode_pairs(
        tokenizer,
        [r.prompt for r in records],
        [r.response for r in records],
        max_length=config.max_length,
    )
    accelerator = make_accelerator(config)
    model = load_policy(config, accelerator.device)
    reference = None
    if config.eval_prompts is not None:
        reference = load_reference(config, accelerator.device)
    task = TrainingTask(
        name="sft",
        model=model,
        examples=examples,
        collate=partial(collate, pad_id=tokenizer.pad_token_id),
        loss=sft_step,
        units=response_tokens,
        evaluate=policy_evaluator(config, tokenizer, reference, accelerator.device),
    )
    trained = run_loop(config, task, run_dir, accelerator)
    if accelerator.is_main_process:
        save_policy(trained, tokenizer, run_dir / "model", merge_lora=config.merge_lora)
    accelerator.wait_for_everyone()
    return run_dir / "model"
