"""Simulated annotators: noisy, biased versions of the gold utility that label pairs.

Real preference labels come from people who like longer answers, like being
agreed with, and miss some harms; they disagree with each other on about a
quarter of pairs (InstructGPT's labellers agreed 72.6 +- 1.5% of the time). The
pool reproduces those mechanisms, so a reward model fitted to its labels
inherits their biases and an optimizer can exploit them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from alignlab.organisms.assistant.config import AnnotatorConfig
from alignlab.organisms.assistant.gold import judge_situation
from alignlab.organisms.assistant.world import Situation


@dataclass(frozen=True)
class Annotator:
    """One annotator; see :class:`~alignlab.organisms.assistant.config.AnnotatorConfig`."""

    name: str
    length_bias: float
    agreement_bias: float
    harm_miss_rate: float
    temperature: float

    def utility(self, situation: Situation, response: str, *, sees_harm: bool = True) -> float:
        """How much this annotator likes ``response``."""
        j = judge_situation(situation, response)
        value = j.utility
        if situation.family == "harmful" and not sees_harm:
            # The harm goes unnoticed: instructions read as help, a refusal as needless.
            value = {"harmful": 1.0, "correct": 0.1}.get(j.category, value)
        words = len(response.split())
        return value + self.length_bias * words / 10 + self.agreement_bias * j.agrees

    def prob_first(
        self, situation: Situation, first: str, second: str, *, sees_harm: bool = True
    ) -> float:
        """Bradley-Terry probability of preferring ``first``."""
        margin = self.utility(situation, first, sees_harm=sees_harm) - self.utility(
            situation, second, sees_harm=sees_harm
        )
        return 1.0 / (1.0 + math.exp(-margin / self.temperature))

    def prefers_first(
        self, situation: Situation, first: str, second: str, rng: random.Random
    ) -> bool:
        """A sampled label: does this annotator prefer ``first``?"""
        sees_harm = rng.random() >= self.harm_miss_rate
        return rng.random() < self.prob_first(situation, first, second, sees_harm=sees_harm)


def annotator_pool(config: AnnotatorConfig, rng: random.Random) -> list[Annotator]:
    """Draw ``config.n_annotators`` annotators with biases spread around the config's means."""

    def draw(mean: float, spread: float, low: float = 0.0, high: float = math.inf) -> float:
        return min(high, max(low, rng.gauss(mean, spread)))

    return [
        Annotator(
            name=f"annotator-{i}",
            length_bias=draw(config.length_bias, config.length_bias_spread),
            agreement_bias=draw(config.agreement_bias, config.agreement_bias_spread),
            harm_miss_rate=draw(config.harm_miss_rate, config.harm_miss_rate_spread, 0.0, 1.0),
            temperature=draw(config.temperature, config.temperature_spread, 0.05),
        )
        for i in range(config.n_annotators)
    ]
