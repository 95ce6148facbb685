"""The consoles every command prints through: messages to stderr, unwrapped, so paths
and ``file:line: field: problem`` lines stay whole and greppable; and the one way a
command turns a bad config into an error message and an exit code."""

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` (as text, never as markup); the exit to raise."""
    err.print(f"[red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def load_settings(config_class, config_file: Path | None, overrides: list[str]):
    """``config_class`` from a TOML file and ``--set`` overrides; a bad one exits 2."""
    from alignlab.config import ConfigError, load_config

    try:
        return load_config(config_class, config_file, overrides)
    except (ConfigError, ValueError) as e:
        raise fail(str(e), 2) from None
