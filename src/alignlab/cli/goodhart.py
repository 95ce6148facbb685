"""``alignlab goodhart``: over-optimization sweeps, their fits, and the three forms of
Goodhart's law as experiments on the assistant organism."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from alignlab.cli.console import err, fail, load_settings, shown

app = typer.Typer(
    help="Goodhart's law as curves: proxy and gold against sqrt(KL), fits, oracle, warnings.",
    no_args_is_help=True,
)

CONFIG = typer.Option(None, "--config", help="A TOML config (default: the built-in defaults).")
SET = typer.Option([], "--set", help="Override one config value: key=value (TOML value).")
SEEDS = typer.Option(None, "--seeds", help="Seeds to run (overrides the config's seeds).")
MAX_POINT_ROWS = 12
"""Curves with more points than this are summarized, not listed point by point."""


def _call(fn, *args):
    """Run ``fn``; user errors (missing files, bad specs) exit 1 with the message."""
    try:
        return fn(*args)
    except (FileNotFoundError, NotADirectoryError, ValueError, KeyError) as e:
        raise fail(str(e), 1) from None


def _print_curves(body: dict) -> None:
    summary = Table(title="curves: gold peak, drop after it, fit of the expected form")
    for column in ("run", "split", "pts", "peak", "drop", "form", "R²", "d*", "Δgrid"):
        summary.add_column(column, justify="right")
    for c in body["curves"]:
        fit = c["fits"].get(c["expected_form"]) if c["expected_form"] else None
        peak, drop = c["peak"], c["overoptimization"]
        summary.add_row(
            c["run"],
            c["split"],
            str(len(c["points"])),
            "-" if peak is None else f"{peak['pressure']:g}",
            "-" if drop is None else f"{drop['drop']:.3f}",
            "-" if fit is None else fit["form"],
            "-" if fit is None else f"{fit['r2']:.3f}",
            "-" if fit is None or fit["d_star"] is None else f"{fit['d_star']:.2f}",
            "-" if c["peak_grid_distance"] is None else f"{c['peak_grid_distance']:+.2f}",
        )
    err.print(summary)
    for c in body["curves"]:
        if len(c["points"]) > MAX_POINT_ROWS:
            continue
        n = c["points"][0]["proxy"]["n"]
        table = Table(title=f"{c['run']} on {c['split']} prompts (n={n}, 95% CI)")
        for column in ("pressure", "√KL", "proxy", "gold", "efficiency"):
            table.add_column(column, justify="right")
        for p in c["points"]:
            table.add_row(
                f"{p['pressure']:g}",
                f"{p['sqrt_kl']:.3f}",
                shown(p["proxy"]),
                shown(p["gold"]),
                "-" if p["efficiency"] is None else f"{p['efficiency']['value']:.2f}",
            )
        err.print(table)


@app.command()
def sweep(config: Path | None = CONFIG, set_: list[str] = SET) -> None:
    """Run one optimizer across a range of pressure (resumes an interrupted sweep)."""
    from alignlab.experiments.sweep.config import SweepConfig
    from alignlab.experiments.sweep.runner import run_sweep
    from alignlab.goodhart.curves import read_curves

    path = _call(run_sweep, load_settings(SweepConfig, config, set_))
    _print_curves(read_curves(path))
    typer.echo(str(path))


@app.command()
def report(directory: Path = typer.Argument(..., help="A sweep's output_dir.")) -> None:
    """Rewrite a sweep's curves.json and plots from its points.jsonl, and print them."""
    from alignlab.experiments.sweep.runner import report as write_report
    from alignlab.goodhart.curves import read_curves

    path = _call(write_report, directory)
    _print_curves(read_curves(path))
    typer.echo(str(path))


def _print_summary(path: Path) -> None:
    """Each condition's figures across seeds, one row per condition and figure."""
    import json

    body = json.loads(path.read_text(encoding="utf-8"))
    if "by_split" in body:
        _print_warnings(body)
        return
    groups = body.get("across_seeds") or []
    table = Table(title="across seeds")
    for column in ("condition", "seeds", "figure", "mean ± sd", "[min, max]"):
        table.add_column(column, justify="right")
    for g in groups:
        condition = " ".join(
            str(v) for k, v in g.items() if not isinstance(v, dict) and k != "seeds"
        )
        for name, f in ((k, v) for k, v in g.items() if isinstance(v, dict)):
            spread = f"[{f['min']:.3f}, {f['max']:.3f}]"
            table.add_row(
                condition, str(g["seeds"]), name, f"{f['mean']:.3f} ± {f['sd']:.3f}", spread
            )
    err.print(table)


def _print_warnings(body: dict) -> None:
    """The early-warning experiment's rows: where it fired against the gold peak."""
    table = Table(title="early warning against the gold peak (lead > 0: before it)")
    columns = ("seed", "split", "fired n", "peak n", "lead", "late", "timely", "gold lost")
    for column in columns:
        table.add_column(column, justify="right")
    for r in body["rows"]:
        late = "-" if r["late_fraction"] is None else f"{r['late_fraction']:+.2f}"
        lost = "-" if r.get("gold_lost") is None else f"{r['gold_lost']:.3f}"
        if r.get("lost_fraction") is not None:
            lost += f" ({r['lost_fraction']:.0%})"
        table.add_row(
            str(r["seed"]),
            r["split"],
            str(r["fired_n"]),
            str(r["peak_n"]),
            str(r["lead_points"]),
            late,
            str(r["timely"]),
            lost,
        )
    err.print(table)
    for split, found in body["by_split"].items():
        err.print(f"{split}: timely in {found['timely']} of {found['seeds']} seeds")


def _experiment(name: str, config: Path | None, set_: list[str], seeds: int | None) -> None:
    from alignlab.experiments.forms import EXPERIMENTS

    config_class, run = EXPERIMENTS[name]
    overrides = [*set_, *([f"seeds={seeds}"] if seeds is not None else [])]
    path = _call(run, load_settings(config_class, config, overrides))
    _print_summary(path)
    typer.echo(str(path))


@app.command()
def regressional(config: Path | None = CONFIG, set_: list[str] = SET, seeds: int = SEEDS) -> None:
    """Reward models fitted to noisier, more biased annotators, over-optimized by best-of-n."""
    _experiment("regressional", config, set_, seeds)


@app.command()
def extremal(config: Path | None = CONFIG, set_: list[str] = SET, seeds: int = SEEDS) -> None:
    """A reward model fitted only on short responses, optimized where long ones are reachable."""
    _experiment("extremal", config, set_, seeds)


@app.command()
def adversarial(config: Path | None = CONFIG, set_: list[str] = SET, seeds: int = SEEDS) -> None:
    """A keyword harm detector as the reward, evaded by harmful answers free of its keywords."""
    _experiment("adversarial", config, set_, seeds)


@app.command("early-warning")
def early_warning(config: Path | None = CONFIG, set_: list[str] = SET, seeds: int = SEEDS) -> None:
    """Ensemble disagreement and a held-out reward model as alarms before gold falls."""
    _experiment("early-warning", config, set_, seeds)
