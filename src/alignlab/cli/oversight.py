"""``alignlab oversight``: the scalable-oversight protocols as experiments on the organism,
each writing its panel into ``results.json`` and ``report.html`` of its output directory."""

from __future__ import annotations

from pathlib import Path

import typer

from alignlab.cli.lab import CONFIG, OUT, SEEDS, SET, run_experiment

app = typer.Typer(
    help="Scalable oversight: debate, amplification, process supervision, weak-to-strong.",
    no_args_is_help=True,
)

EXPERIMENTS: dict[str, str] = {
    "debate": "alignlab.experiments.oversight.debate:DebateConfig:run_debate",
    "amplify": "alignlab.experiments.oversight.amplify:AmplifyConfig:run_amplify",
    "process": "alignlab.experiments.oversight.process:ProcessConfig:run_process",
    "w2s": "alignlab.experiments.oversight.w2s:W2SConfig:run_w2s",
}
"""Each command's ``module:ConfigClass:run_function``; imported only when it runs."""


def _experiment(name: str, config: Path | None, set_: list[str], seeds, out) -> None:
    run_experiment(EXPERIMENTS[name], config, set_, {"seeds": seeds, "output_dir": out})


@app.command()
def debate(
    config: Path | None = CONFIG, set_: list[str] = SET, seeds: int = SEEDS, out: Path = OUT
) -> None:
    """Judge accuracy with no help, with one consultant, and with two debaters (hidden context)."""
    _experiment("debate", config, set_, seeds, out)


@app.command()
def amplify(
    config: Path | None = CONFIG, set_: list[str] = SET, seeds: int = SEEDS, out: Path = OUT
) -> None:
    """Accuracy against the number of steps: asked directly, amplified, and distilled (IDA)."""
    _experiment("amplify", config, set_, seeds, out)


@app.command()
def process(
    config: Path | None = CONFIG, set_: list[str] = SET, seeds: int = SEEDS, out: Path = OUT
) -> None:
    """Best-of-N by a process reward model, an outcome reward model and majority voting."""
    _experiment("process", config, set_, seeds, out)


@app.command()
def w2s(
    config: Path | None = CONFIG, set_: list[str] = SET, seeds: int = SEEDS, out: Path = OUT
) -> None:
    """A weak supervisor's labels train a strong student: the performance gap recovered."""
    _experiment("w2s", config, set_, seeds, out)
