"""Running a sweep: one optimizer across a range of pressure, point by point, resumable.

``run_sweep(config)`` writes into ``config.output_dir``::

    sweep.json      the resolved config (JSON keeps the unset fields TOML would drop)
    points.jsonl    one measured point per line, appended as each finishes (resume log)
    curves.json     curves, fits, oracle efficiency and warnings (:mod:`.curves`)
    goodhart-<split>.png/.svg   gold, proxy and failure modes against sqrt(KL)
    samples/, ppo/, dpo/        the optimizer's own files (samples, run directories)

Run it again with the same config and it computes only the points ``points.jsonl`` lacks
(a PPO run continues from its last checkpoint); :func:`report` redraws ``curves.json``
and the plots from the points alone. A config that would measure differently (another
policy, reward, prompts or seed) refuses an ``output_dir`` that holds another's points.
"""

from __future__ import annotations

import json
from pathlib import Path

from alignlab.config import ConfigError, changed_fields, from_dict, to_dict
from alignlab.experiments.sweep.config import SweepConfig
from alignlab.goodhart.curves import read_curves, write_curves
from alignlab.goodhart.points import PointStore
from alignlab.goodhart.scoring import Scorers

CONFIG_FILE = "sweep.json"
UNMEASURED = ("output_dir", "threads", "device", "plots", "warning")
"""Fields that change where a sweep lives, how it runs or how it is reported, never what
it measures."""


def _measured(config: SweepConfig) -> dict:
    data = {k: v for k, v in to_dict(config).items() if k not in UNMEASURED}
    data["best_of_n"].pop("samples_dir")  # where samples are cached, not what they are
    return data


def _check_same_sweep(directory: Path, config: SweepConfig) -> None:
    path = directory / CONFIG_FILE
    if not path.exists() or not (directory / "points.jsonl").exists():
        return
    try:
        earlier = from_dict(SweepConfig, json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ConfigError, ValueError):
        return
    old, new = _measured(earlier), _measured(config)
    changed = changed_fields(old, new)
    if changed:
        raise ValueError(
            f"{directory}: holds the points of a sweep with other {', '.join(changed)}; "
            "choose another output_dir"
        )


def scorers_for(config: SweepConfig) -> Scorers:
    return Scorers.resolve(
        config.reward,
        gold=config.gold,
        judge=config.judge,
        heldout=config.heldout_reward,
        ensemble=config.ensemble,
        device=config.device,
    )


def run_sweep(config: SweepConfig) -> Path:
    """Run the points still missing, then write ``curves.json`` and the plots; return the
    path of ``curves.json``."""
    import torch

    if config.threads:
        torch.set_num_threads(config.threads)
    directory = Path(config.output_dir)
    _check_same_sweep(directory, config)
    scorers = scorers_for(config)
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_dict(config), indent=2) + "\n"
    (directory / CONFIG_FILE).write_text(text, encoding="utf-8")
    store = PointStore(directory)
    if config.optimizer == "best_of_n":
        from alignlab.experiments.sweep.best_of_n import sweep_best_of_n as sweep
    elif config.optimizer == "ppo":
        from alignlab.experiments.sweep.ppo import sweep_ppo as sweep
    else:
        from alignlab.experiments.sweep.dpo import sweep_dpo as sweep
    sweep(config, store, scorers)
    return report(directory, config)


def report(directory: str | Path, config: SweepConfig | None = None) -> Path:
    """Write ``curves.json`` (and the plots, if the config asks) from ``points.jsonl``;
    without a config, the sweep's own ``sweep.json`` is read."""
    directory = Path(directory)
    if config is None:
        path = directory / CONFIG_FILE
        if not path.exists():
            raise ValueError(f"{directory}: not a sweep directory (no {CONFIG_FILE})")
        data = json.loads(path.read_text(encoding="utf-8"))
        config = from_dict(SweepConfig, data, source=str(path))
    store = PointStore(directory)
    if not len(store):
        raise ValueError(f"{directory}: holds no points (points.jsonl is missing or empty)")
    path = write_curves(directory, store.all(), to_dict(config), config.warning)
    if config.plots:
        from alignlab.goodhart.plots import plot_curves

        plot_curves(read_curves(path), directory)
    return path
