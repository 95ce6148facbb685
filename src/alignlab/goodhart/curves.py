"""From a sweep's points to its curves, fits, oracle efficiency and warnings: ``curves.json``.

Points of one ``run`` on one ``split``, ordered by pressure, form a curve. For each curve:

- ``gold_gain``: gold relative to the curve's first point (the starting policy, ``d = 0``);
- ``fits``: both of Gao et al. (2022)'s forms fitted to ``gold_gain`` against
  ``d = sqrt(KL)`` (:mod:`~alignlab.goodhart.fits`), when the curve has gold and
  at least three points; ``expected_form`` is best-of-n's for best-of-n and the RL form
  for PPO and DPO, and ``peak_grid_distance`` is where the expected form's ``d*`` lies,
  in grid steps, from the observed gold peak;
- ``peak`` and ``overoptimization``: the highest gold (located on gold smoothed as the
  warning config says) and how far gold fell from it by the last point;
- ``efficiency`` per point: the proxy run's gold gain as a fraction of the oracle's at the
  same ``d`` (the same optimizer on the gold reward, ``oracle/<run>``). The oracle
  frontier merges every oracle curve of the optimizer on the split and keeps, at each
  ``d``, the best gain reached at or below it; it is interpolated linearly in ``d``.
  Outside the frontier's range, or where its gain is not positive, efficiency is None.
  Its interval is the point's gold interval over the oracle's gain (the oracle's own
  uncertainty is left out);
- ``warning``: the early warning of :mod:`~alignlab.goodhart.warning`.

``curves.json``::

    {"schema": "alignlab.goodhart.curves/1", "config": {...the sweep config...},
     "curves": [{"run", "split", "optimizer", "oracle", "expected_form",
                 "points": [<Point.to_dict()> + {"gold_gain", "efficiency"}],
                 "fits": {"best_of_n": <Fit.to_dict()>, "rl": ...},
                 "peak": {"index", "pressure", "sqrt_kl", "gold"}, "peak_grid_distance",
                 "overoptimization", "proxy_monotone", "warning"}]}
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alignlab.goodhart.fits import FORMS, fit_form, grid_position
from alignlab.goodhart.points import Point
from alignlab.goodhart.warning import WarningConfig, early_warning, smoothed
from alignlab.stats.intervals import Estimate

SCHEMA = "alignlab.goodhart.curves/1"
CURVES_FILE = "curves.json"
EXPECTED_FORM = {"best_of_n": "best_of_n", "ppo": "rl", "dpo": "rl"}
ORACLE = "oracle/"


@dataclass
class Curve:
    """The points of one run on one split, by increasing pressure."""

    run: str
    split: str
    points: list[Point]

    @property
    def oracle(self) -> bool:
        return self.run.startswith(ORACLE)

    @property
    def optimizer(self) -> str:
        return self.run.removeprefix(ORACLE).split("/")[0]

    @property
    def d(self) -> np.ndarray:
        return np.array([p.sqrt_kl for p in self.points])

    @property
    def has_gold(self) -> bool:
        return all(p.gold is not None for p in self.points)

    def gains(self) -> np.ndarray:
        gold = np.array([p.gold.value for p in self.points])
        return gold - gold[0]


def group(points: Sequence[Point]) -> list[Curve]:
    """Curves of ``points``, each ordered by pressure, in order of first appearance."""
    curves: dict[tuple[str, str], list[Point]] = {}
    for p in points:
        curves.setdefault((p.run, p.split), []).append(p)
    return [
        Curve(run, split, sorted(found, key=lambda p: p.pressure))
        for (run, split), found in curves.items()
    ]


def oracle_frontier(curves: Sequence[Curve], optimizer: str, split: str):
    """``(d, best gain at or below d)`` of the optimizer's oracle curves on ``split``, or None."""
    found = [c for c in curves if c.oracle and c.optimizer == optimizer and c.split == split]
    found = [c for c in found if c.has_gold]
    if not found:
        return None
    d = np.concatenate([c.d for c in found])
    gain = np.concatenate([c.gains() for c in found])
    order = np.argsort(d, kind="stable")
    return d[order], np.maximum.accumulate(gain[order])


def efficiency(curve: Curve, frontier) -> list[Estimate | None]:
    """Each point's gold gain over the oracle frontier's at its ``d`` (module docstring)."""
    if frontier is None or not curve.has_gold:
        return [None] * len(curve.points)
    d_oracle, gain_oracle = frontier
    base = curve.points[0].gold.value
    out: list[Estimate | None] = []
    for p in curve.points:
        d = p.sqrt_kl
        if not d_oracle[0] <= d <= d_oracle[-1]:
            out.append(None)
            continue
        bound = float(np.interp(d, d_oracle, gain_oracle))
        if bound <= 0:
            out.append(None)
            continue
        gold = p.gold
        out.append(
            Estimate(
                (gold.value - base) / bound,
                gold.n,
                (gold.lo - base) / bound,
                (gold.hi - base) / bound,
            )
        )
    return out


def _fits(curve: Curve) -> dict:
    if not curve.has_gold or len(curve.points) < 3:
        return {}
    fits = {}
    for form in FORMS:
        try:
            fits[form] = fit_form(form, curve.d, curve.gains())
        except ValueError:
            continue
    return fits


def summarize(curve: Curve, frontier, warning: WarningConfig) -> dict:
    """One curve's entry of ``curves.json`` (module docstring)."""
    fits = _fits(curve)
    expected = EXPECTED_FORM.get(curve.optimizer)
    summary: dict = {
        "run": curve.run,
        "split": curve.split,
        "optimizer": curve.optimizer,
        "oracle": curve.oracle,
        "expected_form": expected,
        "fits": {form: fit.to_dict() for form, fit in fits.items()},
        "proxy_monotone": bool(np.all(np.diff([p.proxy.value for p in curve.points]) >= 0)),
        "peak": None,
        "peak_grid_distance": None,
        "overoptimization": None,
        "warning": early_warning(curve.points, warning),
    }
    gains = curve.gains() if curve.has_gold else None
    ratios = efficiency(curve, frontier)
    summary["points"] = []
    for i, p in enumerate(curve.points):
        row = p.to_dict()
        row["gold_gain"] = None if gains is None else float(gains[i])
        row["efficiency"] = None if ratios[i] is None else ratios[i].to_dict()
        summary["points"].append(row)
    if gains is None:
        return summary
    gold = smoothed([p.gold.value for p in curve.points], warning.smooth)
    top = int(np.argmax(gold))
    peak_point, last = curve.points[top], curve.points[-1]
    summary["peak"] = {
        "index": top,
        "pressure": peak_point.pressure,
        "sqrt_kl": peak_point.sqrt_kl,
        "gold": peak_point.gold.to_dict(),
    }
    summary["overoptimization"] = {
        "drop": float(gold[top] - gold[-1]),
        "peak_gold": peak_point.gold.to_dict(),
        "last_gold": last.gold.to_dict(),
    }
    fit = fits.get(expected)
    d = curve.d
    if fit is not None and fit.d_star is not None and (np.diff(d) > 0).all():
        summary["peak_grid_distance"] = grid_position(d, fit.d_star) - top
    return summary


def analyze(points: Sequence[Point], warning: WarningConfig | None = None) -> list[dict]:
    """Every curve of ``points``, summarized (module docstring)."""
    warning = warning or WarningConfig()
    curves = group(points)
    return [summarize(c, oracle_frontier(curves, c.optimizer, c.split), warning) for c in curves]


def write_curves(
    directory: str | Path, points: Sequence[Point], config: dict, warning: WarningConfig
) -> Path:
    """Write ``curves.json`` into ``directory`` (atomically); return its path."""
    path = Path(directory) / CURVES_FILE
    body = {"schema": SCHEMA, "config": config, "curves": analyze(points, warning)}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_curves(path: str | Path) -> dict:
    """A ``curves.json`` (or the one in a sweep directory), checked for its schema."""
    path = Path(path)
    if path.is_dir():
        path = path / CURVES_FILE
    body = json.loads(path.read_text(encoding="utf-8"))
    if body.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a curves file of schema {SCHEMA}")
    return body
