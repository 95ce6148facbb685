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

JUDGE_BY_HELP = "How the judge's grade is read: reply (GRADE: line) or choice (letters)."


@app.command("list")
def list_suites() -> None:
    """List the suites with their sample counts and what they measure."""
    from alignlab.evals.registry import SUITES, SuiteOptions
    from alignlab.evals.samples_file import schema_text

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
    typer.echo(
        "\nYour own prompts: alignlab eval run --samples FILE --scorer NAME, where each "
        "sample\n(input, target, id, meta) holds the fields its scorer needs:\n"
    )
    typer.echo(schema_text())


@app.command()
def run(
    suite: str | None = typer.Option(None, help="Suites, comma-separated (or 'all', 'world')."),
    samples: Path | None = typer.Option(
        None, help="Your own Sample file instead of suites (with --scorer)."
    ),
    scorer: str | None = typer.Option(
        None, help="The verdict scoring --samples; `alignlab eval list` shows their fields."
    ),
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
    judge_model: str | None = typer.Option(
        None, help="A judge model for the verdicts, as --model; unset: the rules."
    ),
    judge_base_url: str | None = typer.Option(None, help="The judge's endpoint, if served."),
    judge_api_key_env: str | None = typer.Option(None, help="Variable with the judge's key."),
    judge_by: str | None = typer.Option(None, help=JUDGE_BY_HELP),
    progress: bool | None = typer.Option(None, help="Show a progress bar on stderr."),
    config: Path | None = typer.Option(None, "--config", help="A TOML EvalConfig file."),
    set_: list[str] = typer.Option([], "--set", help="Override a setting: key=value (TOML)."),
) -> None:
    """Evaluate a model on suites, or on your own --samples file scored by --scorer; write
    records.jsonl and summary.json to the run directory.

    Every setting (concurrency, timeouts, a judge model, ...): `alignlab config show eval`.
    """
    from alignlab.evals.config import EvalConfig, evaluate
    from alignlab.evals.runner import RunError
    from alignlab.models.backends import EndpointError

    given = {
        "suite": suite,
        "samples": samples,
        "scorer": scorer,
        "model": model,
        "base_url": base_url,
        "api_key_env": api_key_env,
        "output_dir": out,
        "max_new_tokens": max_new_tokens,
        "organism": organism,
        "reward_model": reward_model,
        "judge_model": judge_model,
        "judge_base_url": judge_base_url,
        "judge_api_key_env": judge_api_key_env,
        "judge_by": judge_by,
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


@app.command()
def scorers(
    split: str = typer.Option("all", help="Which part of the set: all, dev or test."),
    judge_model: str | None = typer.Option(
        None, help="Also measure a judge: a local model directory, or a served model's name."
    ),
    judge_base_url: str | None = typer.Option(None, help="The judge's OpenAI-compatible endpoint."),
    judge_api_key_env: str | None = typer.Option(None, help="Variable holding its key."),
    judge_by: str = typer.Option("reply", help=JUDGE_BY_HELP),
    misses: int = typer.Option(0, help="Show up to N replies each scorer labels wrongly."),
    set_file: Path | None = typer.Option(
        None, "--file", help="Another labelled set in the same format."
    ),
) -> None:
    """Measure every verdict's rule (and a judge) against the labelled scorer set.

    Accuracy per verdict and precision / recall per label, each with a Wilson 95% interval
    and its n. The set's format: alignlab.evals.scorer_set.
    """
    from alignlab.evals.config import EvalConfig, backend_for
    from alignlab.evals.judge import Judge
    from alignlab.evals.scorer_set import (
        SET_FILE,
        accuracy_table,
        judge_labels,
        load_scorer_set,
        measure,
        rule_labels,
    )

    if split not in ("all", "dev", "test"):
        raise fail(f"--split: expected all, dev or test, got {split!r}", 2)
    try:
        items = load_scorer_set(set_file or SET_FILE)
    except (OSError, ValueError) as e:
        raise fail(str(e), 2) from None
    items = [i for i in items if split == "all" or i.split == split]
    results = {"rule": measure(items, rule_labels(items))}
    if judge_model is not None or judge_base_url is not None:
        try:
            settings = EvalConfig(
                judge_model=judge_model, judge_base_url=judge_base_url, judge_by=judge_by
            )
            backend = backend_for(judge_model, judge_base_url, judge_api_key_env, settings, None)
        except (OSError, ValueError) as e:
            raise fail(str(e), 2) from None
        results["judge"] = measure(
            items, judge_labels(items, Judge(backend, judge_by, progress=True))
        )
    table = Table(title=f"verdicts against the labelled scorer set ({split}, n={len(items)})")
    columns = ("verdict", "scorer", "n", "accuracy [95% CI]", "commonest label", "per label")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in accuracy_table(results):
        table.add_row(*row)
    Console(width=160).print(table)
    typer.echo(
        "commonest label: the accuracy of giving every reply the set's commonest label; "
        "per label: precision P and recall R, Wilson 95% intervals"
    )
    for scorer, accuracies in results.items():
        for a in accuracies:
            if a.only_label is not None:
                err.print(
                    f"[yellow]warning:[/] {scorer} gave every {a.verdict} reply the label "
                    f"{a.only_label!r}: it does not tell the replies apart"
                )
    by_id = {i.id: i for i in items}
    for scorer, accuracies in results.items() if misses else ():
        for a in accuracies:
            for item_id, label, given in a.misses[:misses]:
                reply = " ".join(by_id[item_id].reply.split())[:100]
                typer.echo(f"{scorer} {a.verdict} {item_id}: set {label}, gave {given}: {reply!r}")
