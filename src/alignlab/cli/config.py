"""``alignlab config``: every stage's options, with their types, defaults and docs, and a
commented TOML template to start a config file from.

Each stage's config class is named in :data:`STAGES` and imported only when asked for, so
``alignlab --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from pathlib import Path

import typer
from rich.markup import escape

from alignlab.cli.console import err, fail
from alignlab.config import toml_value
from alignlab.config.docs import config_template, field_docs

STAGES: dict[str, str] = {
    "sft": "alignlab.trainers:SFTConfig",
    "reward": "alignlab.trainers:RewardConfig",
    "dpo": "alignlab.trainers:DPOConfig",
    "ppo": "alignlab.trainers:PPOConfig",
    "bon": "alignlab.trainers:BestOfNConfig",
    "eval": "alignlab.evals.config:EvalConfig",
    "demo": "alignlab.experiments.demo.config:DemoConfig",
    "real": "alignlab.experiments.real.config:RealConfig",
    "sweep": "alignlab.experiments.sweep.config:SweepConfig",
    "regressional": "alignlab.experiments.forms:RegressionalConfig",
    "extremal": "alignlab.experiments.forms:ExtremalConfig",
    "adversarial": "alignlab.experiments.forms:AdversarialConfig",
    "early-warning": "alignlab.experiments.forms:EarlyWarningConfig",
    "cai-revise": "alignlab.feedback:ReviseConfig",
    "cai-label": "alignlab.feedback:LabelConfig",
    "organism": "alignlab.organisms.assistant.config:WorldConfig",
    "classifier": "alignlab.trainers:ClassifierConfig",
    "debate": "alignlab.experiments.oversight.debate:DebateConfig",
    "amplify": "alignlab.experiments.oversight.amplify:AmplifyConfig",
    "process": "alignlab.experiments.oversight.process:ProcessConfig",
    "w2s": "alignlab.experiments.oversight.w2s:W2SConfig",
    "shift": "alignlab.experiments.interp.shift:ShiftConfig",
    "probe": "alignlab.experiments.interp.probe:ProbeConfig",
    "capability": "alignlab.experiments.interp.capability:CapabilityConfig",
    "boat": "alignlab.experiments.boat:BoatConfig",
    "redteam": "alignlab.experiments.redteam:RedTeamConfig",
}
"""Each stage's name (as its command is named) and its config class, ``module:ClassName``."""

app = typer.Typer(
    help="Every stage's config: fields, types, defaults and docs, and a TOML template.",
    no_args_is_help=True,
)


def stage_class(stage: str) -> type:
    """The config class of ``stage``; an unknown stage exits 2, naming the closest one."""
    if stage not in STAGES:
        close = difflib.get_close_matches(stage, STAGES, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(STAGES)}"
        raise fail(f"unknown stage {stage!r}; {hint} (alignlab config list)", 2)
    module, _, name = STAGES[stage].partition(":")
    return getattr(importlib.import_module(module), name)


def _summary(cls: type) -> str:
    """The first line of the class's own docstring (not dataclass's generated one)."""
    doc = cls.__dict__.get("__doc__") or ""
    return "" if doc.startswith(f"{cls.__name__}(") else doc.strip().split("\n")[0]


def _default(doc) -> str:
    """A field's default as it would be written in TOML; ``unset`` for None, ``required``
    for a field that must be given."""
    if doc.default is dataclasses.MISSING or (doc.required and doc.default is None):
        return "required"
    if doc.default is None:
        return "unset"
    if doc.table:
        return "[table]"
    try:
        return toml_value(doc.default)
    except TypeError:
        return repr(doc.default)


@app.command("list")
def list_stages() -> None:
    """The stages whose config show describes, and their config classes."""
    width = max(map(len, STAGES))
    for stage, where in STAGES.items():
        typer.echo(f"{stage:<{width}}  {where.split(':')[1]}")


def _show_fields(stage: str, cls: type, config=None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    docs = field_docs(cls, config)
    console = Console()
    title = f"{stage}: {cls.__name__} ({cls.__module__})"
    if config is not None:
        title += ", as loaded"
    if not console.is_terminal:  # piped or CI: plain lines, one field each, greppable
        typer.echo(f"{title}\n{_summary(cls)}\n")
        for d in docs:
            typer.echo(f"{d.name}: {d.type} = {_default(d)}")
            for line in d.doc.splitlines():
                typer.echo(f"    {line}")
        return
    table = Table(title=title, caption=_summary(cls), show_lines=True, expand=True)
    table.add_column("field", no_wrap=True, style="bold")
    table.add_column("type", max_width=26, overflow="fold", style="cyan")
    table.add_column("default", max_width=22, overflow="fold", style="green")
    table.add_column("doc", ratio=1, min_width=30)
    for d in docs:
        doc = " ".join(d.doc.split())
        table.add_row(*(Text(t) for t in (d.name, d.type, _default(d), doc)))
    console.print(table)


@app.command()
def show(
    stage: str | None = typer.Argument(
        None, metavar="STAGE", help="A stage (alignlab config list); none: list them."
    ),
    path: str | None = typer.Argument(
        None, metavar="PATH", help="Where --toml writes the template; none or -: stdout."
    ),
    toml: bool = typer.Option(
        False, "--toml", help="Write a commented TOML template of the config, at its defaults."
    ),
    force: bool = typer.Option(False, "--force", help="Let --toml overwrite an existing PATH."),
    config: Path | None = typer.Option(
        None, "--config", help="Show the values this TOML config gives, not the defaults."
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="With the values shown: override one, key=value (TOML value)."
    ),
    unset: list[str] = typer.Option(
        [], "--unset", metavar="NAME", help="With the values shown: unset an optional field."
    ),
) -> None:
    """Every field of STAGE's config: its type, default and doc; with --toml [PATH], a
    commented TOML template of it (alignlab config show sft --toml sft.toml). With
    --config, --set or --unset: the values a command would run with, loaded as it loads
    them (alignlab config show reward --config reward.toml --unset eval_file)."""
    if stage is None:
        list_stages()
        return
    cls = stage_class(stage)
    if not toml:
        if path is not None:
            raise fail(f"{path}: a PATH is where --toml writes; add --toml", 2)
        loaded = None
        if config is not None or set_ or unset:
            from alignlab.cli.console import load_settings

            loaded = load_settings(cls, config, list(set_), unset=list(unset))
        _show_fields(stage, cls, loaded)
        return
    text = config_template(cls)
    if path in (None, "-"):
        typer.echo(text, nl=False)
        return
    out = Path(path)
    if out.exists() and not force:
        raise fail(f"{out}: exists; pass --force to overwrite it", 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    err.print(f"[green]wrote[/] {escape(str(out))}", highlight=False)
