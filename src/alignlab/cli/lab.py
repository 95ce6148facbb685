"""What the labs' commands share (``alignlab oversight ...``, ``alignlab interp ...``): their
options, and running an experiment that returns a panel (:mod:`alignlab.report.panels`)
and the report it joined, shown on the terminal as a table and a finding."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer
from rich.table import Table

from alignlab.cli.console import err, fail, load_settings, shown

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


def run_experiment(spec: str, config: Path | None, set_: list[str], overrides: dict) -> None:
    """Run the experiment ``spec`` (``module:ConfigClass:run_function``, imported only now)
    with its settings from ``config``, ``--set`` and ``overrides`` (``None`` values ignored);
    print its panel and the report's path."""
    module, cls, run = spec.split(":")
    loaded = importlib.import_module(module)
    settings = load_settings(getattr(loaded, cls), config, set_, overrides)
    try:
        panel, report = getattr(loaded, run)(settings)
    except (FileNotFoundError, NotADirectoryError, ValueError, KeyError) as e:
        raise fail(str(e), 1) from None
    print_panel(panel)
    err.print(f"[green]report:[/] {report}")
    typer.echo(str(report))
