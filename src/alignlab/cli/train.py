"""``alignlab train``: supervised fine-tuning, reward models, DPO and PPO from a TOML config."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from alignlab.cli.console import err, fail, load_settings

app = typer.Typer(
    help="Train a policy or a reward model: sft, reward, dpo, ppo. Each writes a run directory.",
    no_args_is_help=True,
)

CONFIG = typer.Option(None, "--config", help="A TOML config (default: the built-in defaults).")
SET = typer.Option([], "--set", help="Override one config value: key=value (TOML value).")
UNSET = typer.Option(
    [],
    "--unset",
    metavar="NAME",
    help="Unset an optional field (repeatable), e.g. eval_file; as `unset = [...]` in a TOML.",
)
RESUME = typer.Option(
    False, "--resume", help="Continue the run in output_dir from its last checkpoint."
)
ALLOW_CHANGES = typer.Option(
    False,
    "--allow-changes",
    help="With --resume: accept a config that changes what the run computes (seed, lr, "
    "batch size, data, model, ...), recording the change in changes.jsonl.",
)


def _run(
    kind: str,
    config_file: Path | None,
    overrides: list[str],
    resume: bool,
    allow: bool,
    unset: list[str] = (),
) -> None:
    """Load the config of trainer ``kind``, run it, and report; user errors exit non-zero."""
    from alignlab.trainers import (
        DivergenceError,
        DPOConfig,
        RewardConfig,
        SFTConfig,
        train_dpo,
        train_reward,
        train_sft,
    )
    from alignlab.trainers.ppo import PPOConfig, train_ppo

    config_class, train = {
        "sft": (SFTConfig, train_sft),
        "reward": (RewardConfig, train_reward),
        "dpo": (DPOConfig, train_dpo),
        "ppo": (PPOConfig, train_ppo),
    }[kind]
    flags = [*(["resume=true"] if resume else []), *(["allow_changes=true"] if allow else [])]
    config = load_settings(config_class, config_file, [*overrides, *flags], unset=unset)
    try:
        model_dir = train(config)
    except DivergenceError as e:
        err.print(f"[red]stopped:[/] {e}")
        raise typer.Exit(1) from None
    except (FileNotFoundError, NotADirectoryError, ValueError) as e:
        raise fail(str(e), 1) from None
    if os.environ.get("RANK", "0") == "0":  # one report for a run of several processes
        err.print(f"[green]done[/]: {kind} model in {model_dir}")
        typer.echo(str(model_dir))


@app.command()
def sft(
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    resume: bool = RESUME,
    allow_changes: bool = ALLOW_CHANGES,
    unset: list[str] = UNSET,
) -> None:
    """Supervised fine-tuning on demonstrations (prompt/completion or messages)."""
    _run("sft", config, set_, resume, allow_changes, unset)


@app.command()
def reward(
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    resume: bool = RESUME,
    allow_changes: bool = ALLOW_CHANGES,
    unset: list[str] = UNSET,
) -> None:
    """A Bradley-Terry reward model (or an ensemble) on comparisons, with held-out accuracy."""
    _run("reward", config, set_, resume, allow_changes, unset)


@app.command()
def dpo(
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    resume: bool = RESUME,
    allow_changes: bool = ALLOW_CHANGES,
    unset: list[str] = UNSET,
) -> None:
    """Direct preference optimization (or a variant: loss_type) on comparisons."""
    _run("dpo", config, set_, resume, allow_changes, unset)


@app.command()
def ppo(
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    resume: bool = RESUME,
    allow_changes: bool = ALLOW_CHANGES,
    unset: list[str] = UNSET,
) -> None:
    """PPO-RLHF: maximize a reward (model, ensemble or function) with a KL leash to the start."""
    _run("ppo", config, set_, resume, allow_changes, unset)
