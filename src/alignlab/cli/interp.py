"""``alignlab interp``: looks inside the model (lying probes, capacity versus capability,
the token shift of alignment), each an experiment writing its panel into ``results.json``
and ``report.html`` of its output directory."""

from __future__ import annotations

from pathlib import Path

import typer

from alignlab.cli.lab import CONFIG, OUT, SET, run_experiment

app = typer.Typer(
    help="Inside the model: lying probes, capacity versus capability, token shift.",
    no_args_is_help=True,
)

EXPERIMENTS: dict[str, str] = {
    "probe": "alignlab.experiments.interp.probe:ProbeConfig:run_probe",
    "capability": "alignlab.experiments.interp.capability:CapabilityConfig:run_capability",
    "shift": "alignlab.experiments.interp.shift:ShiftConfig:run_shift",
}
"""Each command's ``module:ConfigClass:run_function``; imported only when it runs."""


def _experiment(name: str, config: Path | None, set_: list[str], out) -> None:
    run_experiment(EXPERIMENTS[name], config, set_, {"output_dir": out})


@app.command()
def shift(config: Path | None = CONFIG, set_: list[str] = SET, out: Path = OUT) -> None:
    """The base model's rank of each token an aligned model writes (URIAL's token shift)."""
    _experiment("shift", config, set_, out)


@app.command()
def probe(config: Path | None = CONFIG, set_: list[str] = SET, out: Path = OUT) -> None:
    """Linear truth probes per layer on held-out topics, against the model's stated judgement."""
    _experiment("probe", config, set_, out)


@app.command()
def capability(config: Path | None = CONFIG, set_: list[str] = SET, out: Path = OUT) -> None:
    """Knows it, says otherwise: sycophancy and harmful help read by the model's own probe."""
    _experiment("capability", config, set_, out)
