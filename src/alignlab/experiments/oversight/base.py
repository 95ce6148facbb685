"""What the oversight lab's experiments share: their options, seeds, and how a finished
experiment publishes its panel into ``results.json``.

An experiment writes its runs under ``output_dir/<protocol>/<key>/`` (:func:`run_dir`), the
key a fingerprint of the settings that shape what a seed computes and of the inputs it
starts from (the organism's :func:`~alignlab.experiments.organism.organism_key`, a model's
path), so every protocol can
share one ``output_dir`` and a rerun with other settings never reads runs made under
different ones; every step whose output exists is reused, so a rerun computes only what
is new (another seed). Its panel (the schema of
:mod:`alignlab.report.panels`) joins the ``oversight`` section of
``output_dir/results.json``, next to the other protocols' panels and any other section
already there, and ``report.html`` is rendered again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from alignlab.config import fingerprint, to_dict
from alignlab.report import add_panel, publish_panel

TITLE = "alignlab: scalable oversight"
"""The title of a results.json an oversight experiment starts."""

RUN_FREE = ("organism", "output_dir", "seeds", "first_seed", "threads", "progress", "report_dir")
"""Settings that change how or where an experiment runs, not what a seed computes."""


@dataclass
class OversightConfig:
    """Options every oversight experiment shares."""

    organism: str = "organism"
    """The assistant organism's directory; built there (seed 0, default world) if missing."""
    output_dir: str = "runs/oversight"
    """Where the experiment writes its runs, results.json and report.html."""
    seeds: int = 3
    """Seeds to run: ``first_seed``, ``first_seed + 1``, ...; each trains its own models and
    draws its own problems."""
    first_seed: int = 0
    """The first seed."""
    threads: int = 1
    """Torch CPU threads; 0 keeps the default."""
    progress: bool = True
    """Show progress bars."""
    report_dir: str | None = None
    """Another report to add the panel to (``report_dir = "alignlab-demo"`` puts it in the
    demo's); unset: only ``output_dir``'s."""

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ValueError(f"seeds: must be at least 1, got {self.seeds}")
        if self.first_seed < 0:
            raise ValueError(f"first_seed: must be at least 0, got {self.first_seed}")

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


def set_threads(threads: int) -> None:
    """Use ``threads`` torch CPU threads (0 keeps the default)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def run_dir(config: OversightConfig, protocol: str, *inputs: str) -> Path:
    """Where ``protocol``'s runs made with ``config``'s settings from ``inputs`` live
    (module docstring); the settings are written there as ``settings.json``."""
    settings = {k: v for k, v in to_dict(config).items() if k not in RUN_FREE}
    out = Path(config.output_dir) / protocol / fingerprint(settings, *inputs)
    out.mkdir(parents=True, exist_ok=True)
    (out / "settings.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return out


def publish(target: OversightConfig | str | Path, protocol: str, panel: dict) -> Path:
    """Put ``panel`` under ``oversight.<protocol>`` of the ``results.json`` in ``target``'s
    ``output_dir`` (and ``report_dir``, when set; or in the directory ``target``), keeping
    every other panel and section, and render the report; returns the last page written."""
    if not isinstance(target, OversightConfig):
        return add_panel(target, "oversight", protocol, panel, title=TITLE)
    directories = (target.output_dir, target.report_dir)
    return publish_panel(directories, "oversight", protocol, panel, title=TITLE)
