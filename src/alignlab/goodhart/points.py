"""One measured point of a sweep, and the append-only file that makes sweeps resumable.

A :class:`Point` is the state of one optimized policy (best-of-n at one n, PPO after some
steps, DPO at one beta) measured on one prompt split: its KL to the reference, its proxy
and gold rewards, its response length, its failure-mode rates, and any early-warning
signals, each an :class:`~alignlab.stats.Estimate` (value, n, 95% bootstrap interval).

:class:`PointStore` keeps them in ``points.jsonl``, one JSON object per line, appended as
each point finishes (``Point.to_dict``)::

    {"run": "best_of_n", "split": "train", "pressure": 4.0, "settings": {"n": 4},
     "kl": {"value": 0.636, "n": 200, "lo": 0.636, "hi": 0.636, "level": 0.95},
     "proxy": {...}, "gold": {...} | null, "length": {...},
     "failures": {"sycophantic": {...}, "padded": {...}, ...},
     "signals": {"heldout": {...}, "disagreement": {...}}, "spreads": {"proxy": 0.8}}

A sweep checks :meth:`PointStore.has` before computing a point, so an interrupted sweep
resumes without recomputing what it finished; a line cut short by a crash is skipped,
and a point written twice keeps its last record.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from alignlab.stats.intervals import Estimate

POINTS_FILE = "points.jsonl"


def _estimate(data: dict | None) -> Estimate | None:
    return None if data is None else Estimate(**data)


def exact(value: float, n: int) -> Estimate:
    """A known value (best-of-n's analytic KL) as an :class:`Estimate` with a zero-width
    interval."""
    return Estimate(float(value), n, float(value), float(value))


@dataclass(frozen=True)
class Point:
    """A policy measured on one split; see the module docstring for the file form."""

    run: str
    """The curve the point belongs to: ``best_of_n``, ``ppo/kl_coef=0.05``, ``dpo``, and
    ``oracle/...`` for the same optimizer run on the gold reward."""
    split: str
    """The prompt set measured on: ``train`` or ``heldout`` templates."""
    pressure: float
    """How hard the optimizer has pushed, increasing along a curve: n, PPO step, 1 / beta."""
    settings: dict
    """The optimizer's knobs at this point (``n``; ``kl_coef`` and ``step``; ``beta``)."""
    kl: Estimate
    """KL to the reference policy, in nats."""
    proxy: Estimate
    """Mean proxy reward (the reward optimized)."""
    gold: Estimate | None
    """Mean gold (or held-out judge's) reward, when one was given."""
    length: Estimate
    """Mean response length in words."""
    failures: dict[str, Estimate] = field(default_factory=dict)
    """Rate of each gold-judge category, and ``padded``, among the optimized responses."""
    signals: dict[str, Estimate] = field(default_factory=dict)
    """Early-warning signals: ``heldout`` (a held-out reward's mean), ``disagreement`` (the
    mean standard deviation of a reward ensemble's members)."""
    spreads: dict[str, float] = field(default_factory=dict)
    """Standard deviations across responses of ``proxy`` and ``heldout``: the scale that
    :mod:`~alignlab.goodhart.warning` measures gains in."""

    @property
    def key(self) -> str:
        return point_key(self.run, self.split, self.pressure)

    @property
    def sqrt_kl(self) -> float:
        """``d = sqrt(KL)``; an estimate below 0 (sampling noise near the start) counts as 0."""
        return math.sqrt(max(self.kl.value, 0.0))

    def to_dict(self) -> dict:
        return {
            "run": self.run,
            "split": self.split,
            "pressure": self.pressure,
            "settings": self.settings,
            "kl": self.kl.to_dict(),
            "sqrt_kl": self.sqrt_kl,
            "proxy": self.proxy.to_dict(),
            "gold": None if self.gold is None else self.gold.to_dict(),
            "length": self.length.to_dict(),
            "failures": {k: v.to_dict() for k, v in self.failures.items()},
            "signals": {k: v.to_dict() for k, v in self.signals.items()},
            "spreads": self.spreads,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Point:
        return cls(
            run=data["run"],
            split=data["split"],
            pressure=float(data["pressure"]),
            settings=data.get("settings", {}),
            kl=Estimate(**data["kl"]),
            proxy=Estimate(**data["proxy"]),
            gold=_estimate(data.get("gold")),
            length=Estimate(**data["length"]),
            failures={k: Estimate(**v) for k, v in data.get("failures", {}).items()},
            signals={k: Estimate(**v) for k, v in data.get("signals", {}).items()},
            spreads={k: float(v) for k, v in data.get("spreads", {}).items()},
        )


def point_key(run: str, split: str, pressure: float) -> str:
    return f"{run}|{split}|{float(pressure):.10g}"


class PointStore:
    """``points.jsonl`` of a sweep: read on open, appended to as points finish."""

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / POINTS_FILE
        self.points: dict[str, Point] = {}
        if not self.path.exists():
            return
        text = self.path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for line in lines:
            try:
                point = Point.from_dict(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by a crash
            self.points[point.key] = point
        if text and (not text.endswith("\n") or len(self.points) < len(lines)):
            # Rewrite without the cut line, so the next append starts on a line of its own.
            self._rewrite()

    def _rewrite(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        rows = "".join(json.dumps(p.to_dict()) + "\n" for p in self.points.values())
        tmp.write_text(rows, encoding="utf-8")
        os.replace(tmp, self.path)

    def has(self, run: str, split: str, pressure: float) -> bool:
        return point_key(run, split, pressure) in self.points

    def add(self, point: Point) -> None:
        """Append ``point`` (flushed at once, so a crash loses at most the point being written)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(point.to_dict()) + "\n")
        self.points[point.key] = point

    def __len__(self) -> int:
        return len(self.points)

    def all(self) -> list[Point]:
        return list(self.points.values())
