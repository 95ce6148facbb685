"""Classifiers of correctness: a causal LM with a fresh scalar head, fitted pointwise.

``train_classifier(ClassifierConfig(...))`` reads ``Labelled`` records (prompt, response,
label in [0, 1]), starts a :class:`~alignlab.models.reward.RewardModel` from the causal LM
(the head's output is the logit that the response is correct), minimizes
:func:`~alignlab.objectives.confidence_loss` (with ``aux_weight = 0``, plain binary
cross-entropy), and writes the run directory of :mod:`alignlab.trainers.rundir` with the
model in ``model/``. Outcome reward models (is the final answer right?), process reward
models (is this step right, given the steps before it?) and weak-to-strong students are
all this one trainer on different records. :func:`correct_probs` reads a saved classifier.

A held-out ``eval_file`` is scored at every evaluation and in ``eval.json``: the share
of examples whose predicted class matches the label's, with its Clopper-Pearson interval.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate import PartialState

from alignlab.data.io import read_records
from alignlab.data.records import Labelled, Text
from alignlab.models.loading import load_tokenizer
from alignlab.models.reward import RewardModel
from alignlab.models.sequences import collate, encode_pairs
from alignlab.objectives import confidence_loss
from alignlab.stats import rate
from alignlab.trainers.config import TrainConfig
from alignlab.trainers.reward import fit_scalar_head
from alignlab.trainers.rundir import prepare_run_dir


@dataclass
class ClassifierConfig(TrainConfig):
    """A classifier of correctness fitted to labelled responses."""

    REQUIRED = (*TrainConfig.REQUIRED, "train_file")

    train_file: str | None = None
    """Labelled records (prompt, response, label in [0, 1]): JSONL, Parquet or datasets.
    Required."""
    eval_file: str | None = None
    """Held-out labelled records for accuracy; unset: no evaluation."""
    output_dir: str = "runs/classifier"
    """Where the run writes config.toml, metrics.jsonl, checkpoints/, model/ and eval.json."""
    aux_weight: float = 0.0
    """Weight alpha of the auxiliary confidence loss (Burns et al. 2023): the targets mix
    the labels with the classifier's own hardened predictions. Burns et al. warm alpha up
    over the first fifth of training; here it is constant, so a resumed run replays the
    same steps."""
    eval_batch_size: int = 32
    """Examples per batch when scoring ``eval_file``."""
    head_only: bool = False
    """Train only the scalar head on the frozen language model: a linear probe of the last
    token's final hidden state (Burns et al. 2023's linear-probe setting). Not with ``lora``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.head_only and self.lora is not None:
            raise ValueError("head_only: the language model is frozen, so lora has nothing to do")
        if not 0.0 <= self.aux_weight <= 1.0:
            raise ValueError(f"aux_weight: must lie in [0, 1], got {self.aux_weight}")
        if self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size: must be at least 1, got {self.eval_batch_size}")


@dataclass(frozen=True, slots=True)
class _Example:
    pair: object  # EncodedPair
    label: float


def _collate(examples: list[_Example], pad_id: int) -> dict[str, torch.Tensor]:
    batch = collate([e.pair for e in examples], pad_id)
    batch["labels"] = torch.tensor([e.label for e in examples], dtype=torch.float32)
    return batch


def _step(aux_weight: float):
    def step(model, batch):
        return confidence_loss(model(batch).float(), batch["labels"], aux_weight)

    return step


class LabelledAccuracy:
    """The share of held-out examples a classifier puts in the label's class."""

    def __init__(self, records: Sequence[Labelled], batch_size: int):
        self.records = list(records)
        self.batch_size = batch_size
        self.labels = np.array([r.label for r in self.records]) > 0.5

    def hits(self, model: RewardModel) -> np.ndarray:
        logits = model.score(
            [r.prompt for r in self.records],
            [r.response for r in self.records],
            batch_size=self.batch_size,
        ).numpy()
        return (logits > 0) == self.labels

    def __call__(self, model: RewardModel) -> dict[str, float]:
        acc = rate(self.hits(model))
        return {"eval/accuracy": acc.value, "eval/accuracy_lo": acc.lo, "eval/accuracy_hi": acc.hi}


def train_classifier(config: ClassifierConfig) -> Path:
    """Fit a classifier to ``config.train_file``; return its model directory."""
    run_dir = Path(config.output_dir)
    prepare_run_dir(run_dir, config, resume=config.resume)
    records = read_records(config.train_file, "labelled")
    evaluate = None
    if config.eval_file is not None:
        evaluate = LabelledAccuracy(
            read_records(config.eval_file, "labelled"), config.eval_batch_size
        )
    tokenizer = load_tokenizer(
        config.model, trust_remote_code=config.trust_remote_code, chat_template=config.chat_template
    )
    pairs = encode_pairs(
        tokenizer,
        [r.prompt for r in records],
        [r.response for r in records],
        max_length=config.max_length,
    )
    model_dir = run_dir / "model"
    trained = fit_scalar_head(
        config,
        "classifier",
        [_Example(p, r.label) for p, r in zip(pairs, records, strict=True)],
        _collate,
        _step(config.aux_weight),
        evaluate,
        run_dir,
        model_dir,
        head_only=config.head_only,
    )
    if evaluate is not None and PartialState().is_main_process:
        summary = {
            "eval_file": config.eval_file,
            "accuracy": rate(evaluate.hits(trained)).to_dict(),
        }
        (run_dir / "eval.json").write_text(json.dumps(summary, indent=2) + "\n")
    return model_dir


def correct_probs(
    model: RewardModel | str | Path,
    prompts: Sequence[Text],
    responses: Sequence[Text],
    *,
    batch_size: int = 64,
) -> np.ndarray:
    """``p(correct)`` of each ``(prompt, response)`` under a classifier (or its directory)."""
    if not isinstance(model, RewardModel):
        model = RewardModel.load(model)
    logits = model.score(prompts, responses, batch_size=batch_size)
    return torch.sigmoid(logits).numpy()
