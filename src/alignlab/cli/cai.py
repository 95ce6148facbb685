"""``alignlab cai``: Constitutional AI: critique-and-revision data and AI-feedback labels."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alignlab.cli.console import err, fail, load_settings

app = typer.Typer(
    help="Constitutional AI: revise answers by a constitution (SL-CAI) and label pairs with "
    "AI feedback (RL-CAI).",
    no_args_is_help=True,
)

CONFIG = typer.Option(None, "--config", help="A TOML config (default: the built-in defaults).")
SET = typer.Option(
    [], "--set", help="Override one config value: key=value (TOML value), e.g. policy.model=DIR."
)
RESUME = typer.Option(False, "--resume", help="Continue the run in its output file.")


def _load(config_class, config_file: Path | None, overrides: list[str], resume: bool):
    return load_settings(
        config_class, config_file, [*overrides, *(["resume=true"] if resume else [])]
    )


def _errors():
    from alignlab.data.io import RecordFileError
    from alignlab.feedback import ConstitutionError, ResumeError
    from alignlab.models.backends import EndpointError

    return (
        ConstitutionError,
        ResumeError,
        RecordFileError,
        EndpointError,
        ValueError,
        FileNotFoundError,
        NotADirectoryError,
    )


@app.command()
def revise(config: Path | None = CONFIG, set_: list[str] = SET, resume: bool = RESUME) -> None:
    """Critique and revise a model's answers by a constitution (SL-CAI): SFT data.

    Writes the final revisions as demonstrations for `alignlab train sft`, with each
    critique-revision chain in their meta.
    """
    from alignlab.feedback import ReviseConfig, run_revise

    settings = _load(ReviseConfig, config, set_, resume)
    try:
        counts = run_revise(settings)
    except _errors() as e:
        raise fail(str(e), 1) from None
    err.print(
        f"[green]done[/]: {counts['written']} revised answers written ({counts['total']} in all, "
        f"{counts['changed']} changed by revision, {counts['blank']} left out blank)"
    )
    typer.echo(settings.output)


@app.command()
def label(config: Path | None = CONFIG, set_: list[str] = SET, resume: bool = RESUME) -> None:
    """Label pairs of responses with AI feedback (RL-CAI): soft-labelled comparisons.

    Asks a feedback model the constitution's comparison questions, in both orders, and
    writes comparisons for `alignlab train reward` or `alignlab train dpo`.
    """
    from alignlab.feedback import LabelConfig, run_label

    settings = _load(LabelConfig, config, set_, resume)
    try:
        summary = run_label(settings)
    except _errors() as e:
        raise fail(str(e), 1) from None
    err.print(
        f"[green]done[/]: {summary['written']} pairs labelled ({summary['total']} in all) from "
        f"option {summary['method']}; mean coverage {summary['coverage']:.3f}, mean probability "
        f"of the option shown first {summary['first_position']:.3f}"
    )
    typer.echo(settings.output)


@app.command()
def constitution(
    name: str = typer.Argument("default", help="A built-in constitution or a TOML file."),
) -> None:
    """Show a constitution's principles (and check the file)."""
    from alignlab.feedback import ConstitutionError, load_constitution

    try:
        loaded = load_constitution(name)
    except ConstitutionError as e:
        raise fail(str(e), 2) from None
    table = Table(title=f"{loaded.name}: {loaded.description}", show_lines=True)
    for column in ("principle", "critique", "revision", "comparison question"):
        table.add_column(column)
    for p in loaded.principles:
        table.add_row(p.id, escape(p.critique), escape(p.revision), escape(p.question))
    Console().print(table)
