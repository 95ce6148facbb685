"""``alignlab organism``: build the assistant world and score responses with its gold utility."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from alignlab.cli.console import err, fail, load_settings

app = typer.Typer(help="Model organisms: tiny worlds with a known gold utility.")


@app.command()
def build(
    out: Path = typer.Option(Path("organism"), help="Directory to write the organism to."),
    seed: int = typer.Option(0, help="Seed for the corpus, datasets, annotators and weights."),
    config: Path | None = typer.Option(None, help="A TOML file overriding the world's config."),
    set_: list[str] = typer.Option([], "--set", help="Override one config value: key.sub=value."),
    cache: bool = typer.Option(True, help="Reuse and fill the organism cache ($ALIGNLAB_CACHE)."),
) -> None:
    """Build the assistant world: base model, datasets and world.json (cached by seed + config)."""
    from alignlab.organisms.assistant.build import build as run
    from alignlab.organisms.assistant.config import WorldConfig

    world_config = load_settings(WorldConfig, config, set_)
    world = run(out, seed=seed, config=world_config, use_cache=cache)
    if world["reused"]:
        err.print(f"reused the build from the {world['reused']} (key {world['build_key']})")
    else:
        p = world["pretrain"]
        err.print(
            f"built in {world['build_seconds']:.0f} s: {p['parameters']:,} parameters, "
            f"{p['tokens']:,} corpus tokens, final loss {p['final_loss']:.3f}"
        )
    typer.echo(str(out))


@app.command()
def score(
    organism: Path = typer.Argument(..., help="The organism directory (holds world.json)."),
    path: Path = typer.Argument(..., help="JSONL of prompt/response records to score."),
    out: Path | None = typer.Option(None, help="Write one judgement per record to this JSONL."),
    json_out: bool = typer.Option(False, "--json", help="Print the breakdown as JSON."),
) -> None:
    """Score responses with the gold utility and print the per-family breakdown."""
    from alignlab.data.io import RecordFileError, iter_records
    from alignlab.data.records import text_of
    from alignlab.organisms.assistant.breakdown import breakdown
    from alignlab.organisms.assistant.gold import GOLD_VERSION, judge

    _check_gold_version(organism, GOLD_VERSION)
    judgements, rows = [], []
    try:
        for i, record in enumerate(iter_records(path, "demonstration"), start=1):
            try:
                j = judge(record.prompt, text_of(record.response))
            except ValueError as e:
                raise fail(f"{path}: record {i}: prompt: {e}", 1) from None
            judgements.append(j)
            rows.append({"prompt": record.prompt, "response": record.response, **j.to_dict()})
    except RecordFileError as e:
        raise fail(str(e), 1) from None
    if out is not None:
        from alignlab.data.io import write_records

        write_records(out, rows)
    table = breakdown(judgements)
    if json_out:
        typer.echo(json.dumps([row.to_dict() for row in table], indent=2))
        return
    _print_breakdown(table)


def _check_gold_version(organism: Path, version: str) -> None:
    world_file = organism / "world.json"
    if not world_file.exists():
        raise fail(f"{world_file}: not found; is {organism} an organism directory?", 2)
    built_with = json.loads(world_file.read_text()).get("gold_version")
    if built_with != version:
        err.print(
            f"[yellow]warning:[/] {organism} was built with gold utility version {built_with}, "
            f"this alignlab scores with version {version}"
        )


def _print_breakdown(table) -> None:
    out = Table(title="gold utility by family")
    for column in ("family", "n", "gold utility [95% CI]", "padded", "why"):
        out.add_column(column)
    for row in table:
        u = row.utility
        why = ", ".join(
            f"{c} {share:.0%}" for c, share in sorted(row.categories.items(), key=lambda kv: -kv[1])
        )
        out.add_row(
            row.family,
            str(row.n),
            f"{u.value:.3f} [{u.lo:.3f}, {u.hi:.3f}]",
            f"{row.padded.value:.0%}",
            why,
        )
    Console().print(out)
