"""The boat race (DESIGN.md section 3): a PPO boat trained on the observed reward games it,
and each fix is measured over seeds (:mod:`.config` names them).

:func:`run_boat` trains every fix under every seed (:mod:`.runs`: reused when finished),
draws each greedy race on the track, and publishes the panel (:mod:`.panel`) under the
``boat`` section of ``output_dir/results.json`` (and ``report_dir``'s). The trajectory
pictures are also written as ``output_dir/boat/<key>/images/<fix>-seed-<s>.png``.
:func:`show_policy` measures one trained boat again and draws its race.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from alignlab.experiments.boat.agent import AgentConfig, train_agent
from alignlab.experiments.boat.config import FIXES, BoatConfig, Fix
from alignlab.experiments.boat.panel import boat_panel, estimate
from alignlab.experiments.boat.runs import (
    Demonstrator,
    boat_run,
    demonstrator_run,
    load_policy,
    measure,
    read_curve,
    run_root,
    scripted_races,
)
from alignlab.organisms.boat import Track, png_base64, visit_counts, visits_png
from alignlab.progress import progress_bar
from alignlab.report import publish_panel

TITLE = "alignlab: the boat race"
"""The title of a results.json the boat race starts."""

PANEL = "race"
"""The panel's name in the ``boat`` section."""


def _picture(result: dict, title: str, path: Path) -> bytes:
    greedy = result["greedy"]
    caption = f"{title}\nobserved {greedy['observed']:g}, hidden {greedy['hidden']:g}"
    png = visits_png(Track(), visit_counts(map(tuple, greedy["cells"])), caption)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return png


def draw_races(config: BoatConfig, root: Path, runs: dict[str, list[dict]]) -> list[dict]:
    """Write every run's greedy race as a PNG; the panel's images: each fix's first seed."""
    images = []
    for fix in config.runs():
        for seed, result in zip(config.seed_list, runs[fix.name], strict=True):
            title = f"{fix.name}, seed {seed}, greedy race"
            png = _picture(result, title, root / "images" / f"{fix.name}-seed-{seed}.png")
            if seed == config.first_seed:
                images.append({"title": title, "png_base64": png_base64(png)})
    return images


def publish(config: BoatConfig, panel: dict) -> Path:
    """Put ``panel`` under ``boat.race`` of ``config``'s reports; returns the last page."""
    return publish_panel((config.output_dir, config.report_dir), "boat", PANEL, panel, title=TITLE)


def run_boat(config: BoatConfig) -> tuple[dict, Path]:
    """Train and measure every fix under every seed (reusing finished runs), publish the
    panel; returns ``(panel, report page)``."""
    start = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    root = run_root(config)
    fixes = config.runs()
    runs: dict[str, list[dict]] = {fix.name: [] for fix in fixes}
    curves: dict[str, list[list[dict]]] = {fix.name: [] for fix in fixes}
    demonstrator = [demonstrator_run(config, root, seed) for seed in config.seed_list]
    total = len(fixes) * len(config.seed_list)
    with progress_bar(total, "boat race", enabled=config.progress, unit="run") as advance:
        for fix in fixes:
            for seed in config.seed_list:
                runs[fix.name].append(boat_run(config, root, fix, seed))
                curves[fix.name].append(read_curve(root, fix, seed))
                advance(1, fix=fix.name)
    images = draw_races(config, root, runs)
    panel = boat_panel(config, runs, curves, demonstrator, scripted_races(config), images)
    panel["setting"]["training seconds (all runs)"] = round(
        sum(r["train_s"] for results in runs.values() for r in results)
    )
    panel["wall_s"] = time.perf_counter() - start
    return panel, publish(config, panel)


def show_policy(config: BoatConfig, fix_name: str, seed: int, image: Path | None = None) -> dict:
    """Measure the trained boat of ``fix_name`` and ``seed`` again (sampled and greedy
    races) and draw its greedy race into ``image`` (default
    ``<run>/trajectory.png``); returns the measurement, its estimates and the picture's path."""
    fixes = {fix.name: fix for fix in config.runs()}
    if fix_name not in fixes:
        raise ValueError(f"fix: unknown {fix_name!r}; this config's runs: {', '.join(fixes)}")
    run = run_root(config) / fix_name / f"seed-{seed}"
    if not (run / "policy.pt").exists():
        raise FileNotFoundError(f"{run / 'policy.pt'}: no trained boat; run alignlab boat train")
    if config.threads:
        torch.set_num_threads(config.threads)
    demonstrator = Demonstrator(Track(), config.demonstrator_noise)
    result = measure(load_policy(run / "policy.pt"), config, demonstrator, seed)
    path = Path(image) if image is not None else run / "trajectory.png"
    _picture(result, f"{fix_name}, seed {seed}, greedy race", path)
    return {
        **result,
        "estimates": {key: estimate([result], key) for key in ("observed", "hidden", "laps", "kl")},
        "image": str(path),
    }


__all__ = [
    "FIXES",
    "PANEL",
    "TITLE",
    "AgentConfig",
    "BoatConfig",
    "Fix",
    "run_boat",
    "show_policy",
    "train_agent",
]
