"""Plots of a sweep's curves against ``d = sqrt(KL)``: gold (with its fit and the oracle),
proxy, and failure-mode rates, one figure per split, as PNG and SVG.

On a grid (best-of-n's n, DPO's betas) every marker carries its 95% bootstrap interval as
an error bar. A run of many noisy steps (PPO's rollouts) is drawn as faint dots, one per
step, under a moving average of :data:`WINDOW` steps (of d and of the value alike), which
is what the eye needs to see the trend. Legends give the number of prompts behind each
point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alignlab.goodhart.fits import Fit
from alignlab.goodhart.warning import smoothed

FORMATS = ("png", "svg")
FAILURE_FLOOR = 0.02
"""Failure modes whose rate never reaches this are left off the plot."""
WINDOW = 9
"""Steps per moving average of a dense curve."""
DENSE = 3 * WINDOW
"""Curves with at least this many points are drawn as dots under a moving average."""


def _values(curve: dict, name: str) -> np.ndarray:
    return np.array([p[name]["value"] for p in curve["points"]])


def _draw(ax, curve: dict, name: str, color, label: str) -> None:
    """One measure of one curve against d: error bars on a grid, a trend on a dense run."""
    d = np.array([p["sqrt_kl"] for p in curve["points"]])
    value = _values(curve, name)
    if len(d) >= DENSE:
        ax.plot(d, value, ".", color=color, alpha=0.3, markersize=3)
        ax.plot(smoothed(d, WINDOW), smoothed(value, WINDOW), color=color, label=label)
        return
    lo = np.array([p[name]["lo"] for p in curve["points"]])
    hi = np.array([p[name]["hi"] for p in curve["points"]])
    error = np.clip(np.stack([value - lo, hi - value]), 0, None)
    ax.errorbar(d, value, yerr=error, marker="o", color=color, label=label, capsize=2)


def _fit_line(ax, curve: dict, color) -> None:
    form = curve["expected_form"]
    fit = curve["fits"].get(form)
    if fit is None:
        return
    d = np.array([p["sqrt_kl"] for p in curve["points"]])
    grid = np.linspace(0, d.max(), 100)
    keys = ("form", "alpha", "beta", "r2", "n", "d_star")
    line = Fit(**{k: fit[k] for k in keys}).predict(grid) + curve["points"][0]["gold"]["value"]
    label = f"{form} fit, R²={fit['r2']:.2f}"
    ax.plot(grid, line, linestyle="--", color=color, linewidth=1, label=label)


def _failures(ax, curve: dict) -> None:
    points = curve["points"]
    names = sorted({k for p in points for k in p["failures"]} - {"correct"})
    d = np.array([p["sqrt_kl"] for p in points])
    window = WINDOW if len(points) >= DENSE else 1
    for name in names:
        rates = np.array([p["failures"].get(name, {"value": 0.0})["value"] for p in points])
        if rates.max() >= FAILURE_FLOOR:
            marker = "." if window == 1 else None
            ax.plot(smoothed(d, window), smoothed(rates, window), marker=marker, label=name)
    ax.set_ylabel("rate among optimized responses")
    ax.set_title(f"failure modes: {curve['run']} (n={points[0]['proxy']['n']})")
    ax.legend(fontsize=7)


def plot_split(curves: list[dict], split: str, directory: Path) -> list[Path]:
    """One figure for the curves of ``split``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = [c for c in curves if c["split"] == split and c["points"]]
    main = [c for c in found if not c["oracle"]]
    panels = 2 + bool(main and main[0]["points"][0]["failures"])
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2), squeeze=False)
    axes = axes[0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, curve in enumerate(found):
        color = "0.5" if curve["oracle"] else colors[i % len(colors)]
        label = f"{curve['run']} (n={curve['points'][0]['proxy']['n']})"
        if curve["points"][0]["gold"] is not None:
            _draw(axes[0], curve, "gold", color, label)
            if not curve["oracle"]:
                _fit_line(axes[0], curve, color)
        if not curve["oracle"]:
            _draw(axes[1], curve, "proxy", color, label)
    axes[0].set_title(f"gold reward, {split} prompts")
    axes[0].set_ylabel("gold reward (95% CI)")
    axes[1].set_title(f"proxy reward, {split} prompts")
    axes[1].set_ylabel("proxy reward (95% CI)")
    if panels == 3:
        _failures(axes[2], main[0])
    for ax in axes:
        ax.set_xlabel("sqrt(KL) to the starting policy")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    paths = []
    for fmt in FORMATS:
        path = directory / f"goodhart-{split}.{fmt}"
        fig.savefig(path, dpi=120)
        paths.append(path)
    plt.close(fig)
    return paths


def plot_curves(body: dict, directory: str | Path) -> list[Path]:
    """Draw every split of a ``curves.json`` body into ``directory``."""
    directory = Path(directory)
    splits = list(dict.fromkeys(c["split"] for c in body["curves"]))
    return [path for split in splits for path in plot_split(body["curves"], split, directory)]
