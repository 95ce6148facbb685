"""``alignlab demo`` (the whole ladder on the organism) and ``alignlab report`` (re-render)."""

from __future__ import annotations

from pathlib import Path

import typer

from alignlab.cli.console import err


def demo(
    out: Path | None = typer.Option(
        None, help="Directory for runs and the report (default: alignlab-demo)."
    ),
    seed: int | None = typer.Option(
        None, help="Seed of the organism and every stage (default: 0)."
    ),
    fresh: bool = typer.Option(False, "--fresh", help="Redo every stage, the organism too."),
    threads: int | None = typer.Option(None, help="Torch CPU threads (default: 0, all cores)."),
    config: Path | None = typer.Option(None, "--config", help="A TOML DemoConfig file."),
    set_: list[str] = typer.Option([], "--set", help="Override a setting: key=value (TOML)."),
) -> None:
    """Run the alignment ladder on the assistant organism and write report.html.

    base, SFT, reward models, best-of-n, PPO (proxy and oracle), DPO, CAI:
    each measured on held-out prompts by the gold utility, with the
    Goodhart curves and the three forms. Finished stages are reused.
    """
    from alignlab.config import ConfigError, load_config
    from alignlab.demo import DemoConfig, run_demo

    given = {"out": None if out is None else str(out), "seed": seed, "threads": threads}
    overrides = [f"{k}={v!r}" for k, v in given.items() if v is not None] + list(set_)
    if fresh:
        overrides.append("fresh=true")
    try:
        settings = load_config(DemoConfig, config, overrides)
    except (ConfigError, ValueError) as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    report = run_demo(settings)
    err.print(f"[green]report:[/] {report}")
    typer.echo(str(report))


def report(
    directory: Path = typer.Argument(..., help="A directory holding results.json."),
    out: Path | None = typer.Option(
        None, help="Where to write the page (default DIR/report.html)."
    ),
) -> None:
    """Re-render report.html from DIR/results.json (any subset of its sections)."""
    from alignlab.report import ResultsError, render_report

    try:
        path = render_report(directory, out)
    except ResultsError as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(1) from None
    typer.echo(str(path))
