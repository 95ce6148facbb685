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
UNSET = typer.Option(
    [], "--unset", help="Unset an optional config field (repeatable), e.g. critic.", metavar="NAME"
)


def _load(config_class, config_file: Path | None, overrides, resume: bool, unset=()):
    return load_settings(
        config_class,
        config_file,
        [*overrides, *(["resume=true"] if resume else [])],
        unset=unset,
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
def revise(
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    resume: bool = RESUME,
    unset: list[str] = UNSET,
) -> None:
    """Critique and revise a model's answers by a constitution (SL-CAI): SFT data.

    Writes the revised answers as demonstrations for `alignlab train sft`, with each
    critique-revision chain in their meta; unchanged and failed answers (blank or off-topic
    critiques and revisions) go, with their status, to OUTPUT_STEM.rejected.jsonl. Exits 1
    when no answer was revised.
    """
    from alignlab.feedback import ReviseConfig, rejected_path, run_revise, summary

    settings = _load(ReviseConfig, config, set_, resume, unset)
    try:
        counts = run_revise(settings)
    except _errors() as e:
        raise fail(str(e), 1) from None
    if not counts["revised"]:
        raise fail(
            f"no answer was revised: {summary(counts)}; see {rejected_path(settings.output)}", 1
        )
    colour = "green" if counts["revised"] == counts["total"] else "yellow"
    err.print(
        f"[{colour}]done[/]: {summary(counts)} of {counts['total']} answers "
        f"({counts['written']} this run); the unrevised, with their status, in "
        f"{escape(str(rejected_path(settings.output)))}",
        highlight=False,
    )
    typer.echo(settings.output)


@app.command()
def label(
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    resume: bool = RESUME,
    unset: list[str] = UNSET,
) -> None:
    """Label pairs of responses with AI feedback (RL-CAI): soft-labelled comparisons.

    Asks a feedback model the constitution's comparison questions, in both orders, and
    writes comparisons for `alignlab train reward` or `alignlab train dpo`.
    """
    from alignlab.feedback import LabelConfig, run_label

    settings = _load(LabelConfig, config, set_, resume, unset)
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
