"""What a suite is built with: answer length, sampling, a judge, an organism, a reward model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from alignlab.data.records import Text
from alignlab.evals.judge import Judge

RewardScorer = Callable[[Sequence[Text], Sequence[str]], Sequence[float]]
"""Scores ``(prompts[i], responses[i])`` pairs, higher is better (a reward model's ``score``)."""


@dataclass(frozen=True)
class SuiteOptions:
    """Settings every suite is built with; each suite uses the ones it needs."""

    max_new_tokens: int = 256
    """Most tokens per model answer (the world suites cap it at the organism's context)."""
    temperature: float = 0.0
    """Sampling temperature of the model's answers; 0 is greedy."""
    judge: Judge | None = None
    """A judge; every verdict is its grade, with the rule's label kept beside it, when given."""
    organism: Path | None = None
    """An organism directory (``alignlab organism build``), for the ``world-*`` suites."""
    reward_model: RewardScorer | None = None
    """Scores responses for the agreement suites; without it the model under evaluation
    compares responses pairwise as a judge."""

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens: must be at least 1, got {self.max_new_tokens}")
        if not self.temperature >= 0:
            raise ValueError(f"temperature: must be >= 0, got {self.temperature}")
