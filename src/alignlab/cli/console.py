"""The one way a command turns an error into a message on stderr and an exit code, a
bad config into exit 2 (messages go through :data:`alignlab.progress.err`), and an
estimate into terminal text (:func:`shown`)."""

from pathlib import Path

import typer
from rich.markup import escape

from alignlab.progress import err


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` (as text, never as markup); the exit to raise."""
    err.print(f"[red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def load_settings(
    config_class,
    config_file: Path | None,
    overrides: list[str],
    shortcuts: dict | None = None,
    unset: list[str] = (),
):
    """``config_class`` from a TOML file, a command's own options (``shortcuts``: field name,
    dotted for a nested one, to the value given; None where not given), the ``--set``
    overrides, which win, and the ``--unset`` names, which win over all; a bad one exits 2."""
    from alignlab.config import ConfigError, load_config, toml_value

    given = [
        f"{key}={toml_value(str(value) if isinstance(value, Path) else value)}"
        for key, value in (shortcuts or {}).items()
        if value is not None
    ]
    try:
        return load_config(config_class, config_file, [*given, *overrides], unset)
    except (ConfigError, ValueError) as e:
        raise fail(str(e), 2) from None


def shown(value) -> str:
    """An estimate (results.json's dict) as ``value [lo, hi]``, a number, or ``-`` for none."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        if value.get("value") is None:
            return "-"
        if value.get("lo") is None:
            return f"{value['value']:.3f}"
        return f"{value['value']:.3f} [{value['lo']:.2f}, {value['hi']:.2f}]"
    return f"{value:.3g}" if isinstance(value, float) else str(value)
