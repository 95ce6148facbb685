"""What the interpretability lab's experiments share: their run options, and how a finished
experiment publishes its panel (:mod:`alignlab.report.panels`) under the ``interp`` section
of ``output_dir/results.json`` (and ``report_dir``'s, when set), next to every other panel
and section already there, rendering ``report.html`` again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alignlab.report import publish_panel

TITLE = "alignlab: inside the model"
"""The title of a results.json an interpretability experiment starts."""


@dataclass
class InterpConfig:
    """Options every interpretability experiment shares."""

    output_dir: str = "runs/interp"
    """Where the experiment writes its runs, results.json and report.html."""
    threads: int = 1
    """Torch CPU threads; 0 keeps the default."""
    progress: bool = True
    """Show progress bars."""
    report_dir: str | None = None
    """Another report to add the panel to (``report_dir = "alignlab-demo"`` puts it in the
    demo's); unset: only ``output_dir``'s."""


def publish(config: InterpConfig, name: str, panel: dict) -> Path:
    """Put ``panel`` under ``interp.<name>`` of ``config``'s reports; returns the last page."""
    return publish_panel((config.output_dir, config.report_dir), "interp", name, panel, title=TITLE)
