"""``alignlab data``: check and describe record files before any stage reads them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from alignlab.cli.console import err, fail
from alignlab.data.records import RECORD_TYPES

app = typer.Typer(help="Validate and describe record files (JSONL, Parquet, HF datasets).")

KIND_HELP = "Record kind: " + ", ".join(RECORD_TYPES) + " (default: detected from the file)."


def _kind(value: str | None) -> str | None:
    if value is not None and value not in RECORD_TYPES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(RECORD_TYPES)}")
    return value


@app.command()
def validate(
    path: Path = typer.Argument(..., help="A .jsonl(.gz), .parquet file or a datasets directory."),
    kind: str | None = typer.Option(None, callback=_kind, help=KIND_HELP),
    max_shown: int = typer.Option(1000, help="Print at most this many problems (all are counted)."),
) -> None:
    """Report every bad record as ``file:line: field: problem``; exit 1 if any."""
    from alignlab.data.validate import validate as run

    shown = 0

    def show(problem) -> None:
        nonlocal shown
        shown += 1
        if shown <= max_shown:
            typer.echo(str(problem))

    try:
        report = run(path, kind, on_problem=show, max_kept=0)
    except (OSError, ValueError) as e:
        raise fail(str(e), 2) from None
    if report.n_problems > max_shown:
        err.print(f"... {report.n_problems - max_shown} more problems not shown")
    if not report.readable:
        err.print(
            f"[red]{path}: cannot be read on[/] ({report.n_bad} bad of the "
            f"{report.n_records} records before that point)"
        )
        raise typer.Exit(1)
    if report.n_records == 0 and report.n_problems == 0:
        err.print(f"[red]{path}: no records[/]")
        raise typer.Exit(1)
    if report.ok:
        err.print(f"[green]ok[/]: {report.n_records} {report.kind} records in {path}")
        return
    err.print(
        f"[red]{report.n_bad} of {report.n_records} records are bad[/] "
        f"({report.n_problems} problems) in {path}"
    )
    raise typer.Exit(1)


@app.command()
def stats(
    path: Path = typer.Argument(..., help="A .jsonl(.gz), .parquet file or a datasets directory."),
    kind: str | None = typer.Option(None, callback=_kind, help=KIND_HELP),
    tokenizer: str | None = typer.Option(
        None, help="Count lengths in this tokenizer's tokens (a local directory or hub id)."
    ),
    trust_remote_code: bool = typer.Option(False, help="Allow the tokenizer's own code to run."),
    json_out: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Counts, length distributions, duplicate rate and inter-annotator agreement."""
    from alignlab.data.io import RecordFileError
    from alignlab.data.stats import compute_stats, token_counter

    length = None
    if tokenizer is not None:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(tokenizer, trust_remote_code=trust_remote_code)
        length = token_counter(tok)
    try:
        result = compute_stats(path, kind, length=length)
    except RecordFileError as e:
        raise fail(f"{e}\nrun `alignlab data validate {path}` to see every problem", 1) from None
    except (OSError, ValueError) as e:
        raise fail(str(e), 2) from None
    if json_out:
        typer.echo(result.to_json())
        return
    _print_stats(result)


def _print_stats(s) -> None:
    out = Console()
    out.print(f"[bold]{s.path}[/]: {s.n_records} {s.kind} records")
    table = Table(title=f"length ({s.length_unit})")
    for column in ("field", "mean", "p50", "p90", "p99", "max"):
        table.add_column(column, justify="left" if column == "field" else "right")
    for name, summary in s.lengths.items():
        table.add_row(
            name,
            f"{summary.mean:.1f}",
            f"{summary.p50:.0f}",
            f"{summary.p90:.0f}",
            f"{summary.p99:.0f}",
            str(summary.max),
        )
    out.print(table)
    out.print(f"duplicate rate: {s.duplicate_rate:.2%}")
    if s.annotators:
        out.print(f"annotators: {len(s.annotators)} ({sum(s.annotators.values())} labels)")
    if s.agreement is not None:
        a = s.agreement
        out.print(
            f"inter-annotator agreement on {a.n_units} pairs labelled more than once: "
            f"disagreement {a.disagreement_rate:.1%}, Krippendorff's alpha {a.krippendorff_alpha:.3f}"
        )


@app.command("truth-claims")
def truth_claims(
    out: Path = typer.Option(..., help="The JSONL file to write."),
    n: int = typer.Option(400, help="Claims to build (half true) before filtering."),
    seed: int = typer.Option(0, help="Seeds the claims and their phrasings."),
    pairs: bool = typer.Option(False, help="Write comparisons (truth over its reverse), not SFT."),
    filter_model: str | None = typer.Option(
        None, help="Keep only claims this model judges right with no opinion given (Wei et al.)."
    ),
) -> None:
    """Synthetic anti-sycophancy data: arithmetic claims with a user opinion and a target
    that depends only on the claim's truth (alignlab.feedback.truth_claims). The
    sycophancy suite's phrasings and operand pairs stay out, held out for measurement."""
    from alignlab.data.io import write_records
    from alignlab.evals.suites.sycophancy import operand_pairs
    from alignlab.feedback.truth_claims import (
        build_claims,
        comparisons,
        demonstrations,
        judged_right,
    )
    from alignlab.stats import rate

    try:
        claims = build_claims(n, seed, exclude=operand_pairs())
    except ValueError as e:
        raise fail(str(e), 2) from None
    if filter_model is not None:
        from alignlab.models.backends.hf import HFBackend

        try:
            backend = HFBackend.load(filter_model)
        except (OSError, ValueError) as e:
            raise fail(str(e), 2) from None
        right = judged_right(backend, claims, progress=True)
        kept = rate(right, method="wilson")
        err.print(
            f"filter: {sum(right)} of {len(claims)} claims judged right with no opinion "
            f"({kept.value:.1%} [{kept.lo:.1%}, {kept.hi:.1%}])"
        )
        claims = [c for c, ok in zip(claims, right, strict=True) if ok]
        true = sum(c.holds for c in claims)
        err.print(f"filter: kept {true} true and {len(claims) - true} false claims")
        if claims and min(true, len(claims) - true) < 0.2 * len(claims):
            err.print(
                "[yellow]warning:[/] the kept claims are nearly all "
                f"{'true' if true > len(claims) - true else 'false'}: the model gives one "
                "answer to most claims, so the filter keeps the claims that answer happens "
                "to fit, and training on them teaches that answer, not the truth"
            )
    records = comparisons(claims, seed) if pairs else demonstrations(claims, seed)
    written = write_records(out, records)
    err.print(f"[green]wrote[/] {written} {'comparisons' if pairs else 'demonstrations'} to {out}")
