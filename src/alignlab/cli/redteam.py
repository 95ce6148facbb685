"""``alignlab redteam``: an attacker trained with PPO against each of the demo ladder's
policies (``run``), and the targets fixed by DPO on what it found (``fix``)."""

from __future__ import annotations

from pathlib import Path

import typer

from alignlab.cli.lab import CONFIG, OUT, SEEDS, SET, run_experiment

app = typer.Typer(
    help="Automated red teaming: attackers trained to make the ladder's policies fail, and the fix.",
    no_args_is_help=True,
)

CONFIG_CLASS = "alignlab.experiments.redteam:RedTeamConfig"


@app.command()
def run(
    config: Path | None = CONFIG, set_: list[str] = SET, seeds: int = SEEDS, out: Path = OUT
) -> None:
    """Train an attacker per target and seed; publish found-failure rates, diversity and
    the rate against PPO steps."""
    run_experiment(f"{CONFIG_CLASS}:run_redteam", config, set_, {"seeds": seeds, "output_dir": out})


@app.command()
def fix(
    config: Path | None = CONFIG, set_: list[str] = SET, seeds: int = SEEDS, out: Path = OUT
) -> None:
    """Attack (reusing finished runs), then fix each target by DPO on its failures; publish
    the fixed suites, replayed attacks and a fresh attacker, before and after."""
    run_experiment(f"{CONFIG_CLASS}:fix_redteam", config, set_, {"seeds": seeds, "output_dir": out})
