"""What an evaluation is made of: samples, a solver, scorers and metrics.

A :class:`Task` is a dataset of :class:`~alignlab.data.Sample` s, a *solver* that
prompts the model (one turn, a follow-up turn, a transformed input, a choice
among options) and *scorers* that turn each :class:`Solution` into a
:class:`~alignlab.evals.records.Score`, a value with an explanation. Its metrics reduce the scores of all
samples to numbers with intervals (:mod:`alignlab.evals.metrics`).

Scorers share one interface whether they apply a rule or ask a judge model: a
batch of samples with their solutions in, one score per sample out, so a
model-graded scorer sends its whole batch to the judge at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from alignlab.data.records import Message, Sample
from alignlab.evals.records import EvalRecord, Score
from alignlab.models.backends.base import Backend, Completion
from alignlab.stats.intervals import Estimate


@dataclass(frozen=True, slots=True)
class Solution:
    """What the model did with one sample."""

    output: str
    """The model's final answer, the text scorers read first."""
    transcript: list[Message]
    """The conversation as the model saw it, its own turns included."""
    data: dict[str, Any] = field(default_factory=dict)
    """Results besides the text: option probabilities, earlier answers, reward scores."""
    calls: tuple[dict[str, Any], ...] = ()
    """Metadata of each model call: model, finish reason, whether cached, token usage."""


def call_info(completion: Completion) -> dict[str, Any]:
    """A completion's metadata as a record keeps it."""
    return {
        "model": completion.model,
        "finish_reason": completion.finish_reasons[0],
        "cached": completion.cached,
        "usage": dict(completion.usage),
    }


@runtime_checkable
class Solver(Protocol):
    """How the model is prompted for a batch of samples."""

    needs_backend: bool
    """Whether :meth:`solve` calls the model under evaluation (a reward-model solver does not)."""

    def solve(
        self, backend: Backend | None, samples: Sequence[Sample], *, seed: int
    ) -> list[Solution]:
        """One solution per sample, in order; the same seed gives the same requests."""
        ...


@runtime_checkable
class Scorer(Protocol):
    """Turns solutions into scores: a rule or a judge model, behind one interface."""

    name: str
    """The key of this scorer's scores in records and metrics."""

    def score(self, samples: Sequence[Sample], solutions: Sequence[Solution]) -> list[Score]:
        """One score per sample, in order."""
        ...


@runtime_checkable
class Metric(Protocol):
    """Reduces a task's records to one number with its n and interval."""

    name: str
    """The metric's key in ``summary.json``."""
    description: str
    """What the number means, for reports."""

    def compute(self, records: Sequence[EvalRecord], *, seed: int = 0) -> Estimate:
        """The estimate over the finished records, in dataset order; seeded bootstrap."""
        ...


@dataclass(frozen=True)
class RuleScorer:
    """A scorer that applies ``rule(sample, solution)`` to each sample on its own."""

    name: str
    """The key of this scorer's scores."""
    rule: Callable[[Sample, Solution], Score]
    """The rule; documented where it is defined."""

    def score(self, samples: Sequence[Sample], solutions: Sequence[Solution]) -> list[Score]:
        return [self.rule(s, x) for s, x in zip(samples, solutions, strict=True)]


@dataclass(frozen=True)
class Task:
    """A suite's dataset, how the model is prompted, how answers are scored and summarized."""

    name: str
    """The suite's name, as ``alignlab eval run --suite`` takes it."""
    description: str
    """One line on what the suite measures."""
    samples: tuple[Sample, ...]
    """The dataset; every sample has a unique ``id``, the key that ``--resume`` goes by."""
    solver: Solver
    """How the model is prompted."""
    scorers: tuple[Scorer, ...]
    """What is measured on each sample."""
    metrics: tuple[Metric, ...]
    """How scores are summarized (:mod:`alignlab.evals.metrics`)."""

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for i, sample in enumerate(self.samples):
            if not sample.id:
                raise ValueError(f"{self.name}: sample {i} has no id")
            if sample.id in seen:
                raise ValueError(f"{self.name}: sample {i} repeats the id {sample.id!r}")
            seen.add(sample.id)
        names = [s.name for s in self.scorers]
        if len(set(names)) < len(names):
            raise ValueError(f"{self.name}: scorer names repeat: {names}")
        for metric in self.metrics:
            scorer = getattr(metric, "scorer", None)
            if scorer is not None and scorer not in names:
                raise ValueError(
                    f"{self.name}: metric {metric.name!r} reads scorer {scorer!r}, "
                    f"which the task does not have (scorers: {names})"
                )
