"""``alignlab boat``: the boat race, a PPO boat gaming its observed reward and the fixes
measured (``train``), and one trained boat's race drawn and measured again (``show``)."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer
from rich.table import Table

from alignlab.cli.console import err, fail, load_settings, shown
from alignlab.cli.lab import CONFIG, OUT, SEEDS, SET, run_experiment

app = typer.Typer(
    help="The boat race: specification gaming on a gymnasium track, and its fixes measured.",
    no_args_is_help=True,
)

EXPERIMENT = "alignlab.experiments.boat:BoatConfig:run_boat"
"""The experiment's ``module:ConfigClass:run_function``; imported only when it runs."""

SHOW = "alignlab.experiments.boat:BoatConfig:show_policy"
"""The function ``show`` calls, in the same form."""


@app.command()
def train(
    config: Path | None = CONFIG, set_: list[str] = SET, seeds: int = SEEDS, out: Path = OUT
) -> None:
    """Train a boat per fix and seed (none, shaping, finish bonus, KL leash, oracle), publish
    the panel: observed return against hidden performance, and the Goodhart curve."""
    run_experiment(EXPERIMENT, config, set_, {"seeds": seeds, "output_dir": out})


@app.command()
def show(
    fix: str = typer.Option("none", "--fix", help="The run's fix: none, shaping, kl-0.5, ..."),
    seed: int = typer.Option(0, "--seed", help="The run's seed."),
    image: Path | None = typer.Option(
        None, "--image", help="Where to draw the race (default: the run's trajectory.png)."
    ),
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    out: Path = OUT,
) -> None:
    """Draw a trained boat's greedy race (visits per cell); print its returns."""
    module, cls, function = SHOW.split(":")
    loaded = importlib.import_module(module)
    settings = load_settings(getattr(loaded, cls), config, set_, {"output_dir": out})
    try:
        measured = getattr(loaded, function)(settings, fix, seed, image)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e), 1) from None
    table = Table(title=f"boat {fix}, seed {seed}")
    for column in ("race", "observed return", "hidden performance", "laps", "KL to demonstrator"):
        table.add_column(column, justify="right")
    estimates = {k: v.to_dict() for k, v in measured["estimates"].items()}
    n = measured["estimates"]["observed"].n
    table.add_row(
        f"sampled (n={n})", *(shown(estimates[k]) for k in ("observed", "hidden", "laps", "kl"))
    )
    greedy = measured["greedy"]
    table.add_row("greedy", *(shown(greedy[k]) for k in ("observed", "hidden", "laps")), "-")
    err.print(table)
    err.print(f"[green]race drawn:[/] {measured['image']}")
    typer.echo(measured["image"])
