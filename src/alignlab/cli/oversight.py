"""``alignlab oversight``: the scalable-oversight protocols as experiments on the organism,
each writing its panel into ``results.json`` and ``report.html`` of its output directory."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer
from rich.table import Table

from alignlab.cli.console import err, fail, load_settings, shown

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

CONFIG = typer.Option(None, "--config", help="A TOML config (default: the built-in defaults).")
SET = typer.Option([], "--set", help="Override one config value: key=value (TOML value).")
SEEDS = typer.Option(None, "--seeds", help="Seeds to run (overrides the config's seeds).")
OUT = typer.Option(None, "--out", help="Output directory (overrides output_dir).")


def print_panel(panel: dict) -> None:
    """A panel's table and finding on the terminal."""
    table = panel.get("table")
    if table:
        printed = Table(title=panel["title"])
        for column in table["columns"]:
            printed.add_column(column, justify="right")
        for row in table["rows"]:
            printed.add_row(*(shown(row.get(c)) for c in table["columns"]))
        err.print(printed)
    if panel.get("finding"):
        err.print(panel["finding"])


def _experiment(name: str, config: Path | None, set_: list[str], seeds, out) -> None:
    module, cls, run = EXPERIMENTS[name].split(":")
    loaded = importlib.import_module(module)
    settings = load_settings(
        getattr(loaded, cls), config, set_, {"seeds": seeds, "output_dir": out}
    )
    try:
        panel, report = getattr(loaded, run)(settings)
    except (FileNotFoundError, NotADirectoryError, ValueError, KeyError) as e:
        raise fail(str(e), 1) from None
    print_panel(panel)
    err.print(f"[green]report:[/] {report}")
    typer.echo(str(report))


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
