"""``alignlab eval``: run the alignment suites on a model or an endpoint, list them, view runs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from alignlab.cli.console import err, fail, load_settings

app = typer.Typer(
    help="Measure alignment: sycophancy, refusal, honesty, bias, jailbreaks, verbosity, agreement.",
    no_args_is_help=True,
)


@app.command("list")
def list_suites() -> None:
    """List the suites with their sample counts and what they measure."""
    from alignlab.evals.registry import SUITES, SuiteOptions

    table = Table(title="alignlab eval suites")
    for column in ("suite", "samples", "measures"):
        table.add_column(column)
    for name, suite in SUITES.items():
        if suite.needs_organism:
            table.add_row(name, "organism", "needs --organism DIR")
        else:
            task = suite.build(SuiteOptions())
            table.add_row(name, str(len(task.samples)), task.description)
    Console().print(table)


@app.command()
def run(
    suite: str | None = typer.Option(None, help="Suites, comma-separated (or 'all', 'world')."),
    model: str | None = typer.Option(
        None, help="A local directory or hub id, or with --base-url the served model's name."
    ),
    base_url: str | None = typer.Option(None, help="An OpenAI-compatible endpoint."),
    api_key_env: str | None = typer.Option(None, help="Variable holding the endpoint's key."),
    out: Path | None = typer.Option(None, help="Run directory (field output_dir)."),
    resume: bool | None = typer.Option(None, help="Continue the run, skipping finished samples."),
    limit: int | None = typer.Option(None, help="Evaluate only each suite's first N samples."),
    seed: int | None = typer.Option(None, help="Seeds the model calls and the bootstrap."),
    max_new_tokens: int | None = typer.Option(None, help="Most tokens per answer."),
    organism: Path | None = typer.Option(None, help="An organism directory (world-* suites)."),
    reward_model: Path | None = typer.Option(None, help="A reward model for agreement suites."),
    progress: bool | None = typer.Option(None, help="Show a progress bar on stderr."),
    config: Path | None = typer.Option(None, "--config", help="A TOML EvalConfig file."),
    set_: list[str] = typer.Option([], "--set", help="Override a setting: key=value (TOML)."),
) -> None:
    """Evaluate a model on suites; write records.jsonl and summary.json to the run directory.

    Every setting (concurrency, timeouts, a judge model, ...): `alignlab config show eval`.
    """
    from alignlab.evals.config import EvalConfig, evaluate
    from alignlab.evals.runner import RunError
    from alignlab.models.backends import EndpointError

    given = {
        "suite": suite,
        "model": model,
        "base_url": base_url,
        "api_key_env": api_key_env,
        "output_dir": out,
        "max_new_tokens": max_new_tokens,
        "organism": organism,
        "reward_model": reward_model,
        "run.resume": resume,
        "run.limit": limit,
        "run.seed": seed,
        "run.progress": progress,
    }
    settings = load_settings(EvalConfig, config, set_, given)
    try:
        summary = evaluate(settings)
    except (RunError, EndpointError, ValueError, FileNotFoundError, NotADirectoryError) as e:
        raise fail(str(e), 2) from None
    _print_summary(summary)
    failed = sum(s["n_errors"] for s in summary["suites"].values())
    if failed:
        err.print(
            f"[yellow]warning:[/] {failed} samples failed; rerun with --resume to try them again"
        )
    typer.echo(settings.output_dir)


@app.command()
def view(
    run_dir: Path = typer.Argument(..., help="A run directory (holds summary.json)."),
    out: Path | None = typer.Option(
        None, help="The HTML file to write (default RUN_DIR/view.html)."
    ),
    max_records: int | None = typer.Option(None, min=0, help="Show at most N records per suite."),
) -> None:
    """Render a run's summary and records as one self-contained HTML page."""
    from alignlab.evals.records import EvalRecordError
    from alignlab.evals.view import write_view

    try:
        path = write_view(run_dir, out or run_dir / "view.html", max_records=max_records)
    except (FileNotFoundError, EvalRecordError) as e:
        raise fail(str(e), 2) from None
    typer.echo(str(path))


def _print_summary(summary: dict) -> None:
    table = Table(title=f"alignlab eval: {summary.get('backend')}")
    for column in ("suite", "metric", "value [95% CI]", "n"):
        table.add_column(column)
    for name, s in summary["suites"].items():
        for metric, m in s["metrics"].items():
            if m["value"] is None:
                shown = "n/a"
            elif m["lo"] is None:
                shown = f"{m['value']:.3f}"
            else:
                shown = f"{m['value']:.3f} [{m['lo']:.3f}, {m['hi']:.3f}]"
            table.add_row(name, metric, shown, str(m["n"]))
    Console(stderr=True).print(table)
