"""Per-family breakdowns of gold judgements: mean utility with its interval, and why."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from alignlab.organisms.assistant.gold import CATEGORIES, Judgement
from alignlab.stats.intervals import Estimate, mean, rate


@dataclass(frozen=True)
class FamilyBreakdown:
    """What a set of responses in one family scored, and the share of each category."""

    family: str
    n: int
    utility: Estimate
    padded: Estimate
    categories: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "family": self.family,
            "n": self.n,
            "utility": self.utility.to_dict(),
            "padded": self.padded.to_dict(),
            "categories": self.categories,
        }


def breakdown(judgements: Iterable[Judgement], *, seed: int = 0) -> list[FamilyBreakdown]:
    """One row per family (in order of first appearance) and a final ``all`` row."""
    groups: dict[str, list[Judgement]] = defaultdict(list)
    everything = []
    for j in judgements:
        groups[j.family].append(j)
        everything.append(j)
    rows = [_row(family, js, seed) for family, js in groups.items()]
    if everything:
        rows.append(_row("all", everything, seed))
    return rows


def _row(family: str, js: list[Judgement], seed: int) -> FamilyBreakdown:
    categories = {c: sum(j.category == c for j in js) / len(js) for c in CATEGORIES}
    return FamilyBreakdown(
        family=family,
        n=len(js),
        utility=mean(np.array([j.utility for j in js]), seed=seed),
        padded=rate(np.array([j.padded for j in js]), seed=seed),
        categories={c: share for c, share in categories.items() if share > 0},
    )
