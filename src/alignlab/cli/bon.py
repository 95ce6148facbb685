"""``alignlab bon``: best-of-n against a proxy reward, with the gold reward tracked alongside.

Its settings are :class:`~alignlab.trainers.best_of_n.BestOfNConfig`'s fields, from a TOML
file (``--config``) and ``--set key=value``; the options below are shortcuts for the
fields most runs set. With ``--base-url`` the samples come from the policy served there
(one seeded request per sample) and the rewards score locally.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from alignlab.cli.console import err, fail, load_settings

app = typer.Typer(
    help="Best-of-n sampling: proxy and gold reward against KL, for each n.",
    subcommand_metavar="",
)


def _ns(text: str) -> list[int]:
    try:
        ns = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: expected comma-separated integers, e.g. 1,2,4,8"
        ) from None
    return ns  # BestOfNConfig checks that each is positive


@app.callback(invoke_without_command=True)
def bon(
    policy: Path | None = typer.Option(None, help="The policy to sample from (field policy)."),
    reward: str | None = typer.Option(
        None, help="Proxy reward: a reward model or ensemble dir, or module:function (reward)."
    ),
    prompts: Path | None = typer.Option(None, help="Prompts: Sample records (field prompts)."),
    out: Path | None = typer.Option(None, help="Where bon.json and samples.jsonl go (output_dir)."),
    n: str | None = typer.Option(None, help="The n values, comma-separated (field ns)."),
    gold: str | None = typer.Option(None, help="Gold reward spec (``gold``: the organism's)."),
    seed: int | None = typer.Option(None, help="Seed for sampling and bootstrap intervals."),
    max_new_tokens: int | None = typer.Option(None, help="Longest response, in tokens."),
    base_url: str | None = typer.Option(
        None, help="An OpenAI-compatible server that samples the policy (field base_url)."
    ),
    served_model: str | None = typer.Option(
        None, help="The name the server serves the policy as; unset: --policy (served_model)."
    ),
    api_key_env: str | None = typer.Option(
        None, help="The environment variable holding the server's API key (api_key_env)."
    ),
    config: Path | None = typer.Option(None, "--config", help="A TOML BestOfNConfig file."),
    set_: list[str] = typer.Option([], "--set", help="Override a setting: key=value (TOML)."),
    unset: list[str] = typer.Option(
        [], "--unset", metavar="NAME", help="Unset an optional setting (repeatable), e.g. gold."
    ),
) -> None:
    """Sample the largest n per prompt once; estimate best-of-n's proxy and gold for every n.

    Every setting: `alignlab config show bon`.
    """
    from alignlab.models.backends import EndpointError
    from alignlab.trainers.best_of_n import BestOfNConfig, run_best_of_n

    given = {
        "policy": policy,
        "reward": reward,
        "prompts": prompts,
        "output_dir": out,
        "gold": gold,
        "seed": seed,
        "max_new_tokens": max_new_tokens,
        "base_url": base_url,
        "served_model": served_model,
        "api_key_env": api_key_env,
        "ns": None if n is None else _ns(n),
    }
    settings = load_settings(BestOfNConfig, config, set_, given, unset)
    try:
        result = run_best_of_n(settings)
    except (FileNotFoundError, NotADirectoryError, ValueError, EndpointError) as e:
        raise fail(str(e), 1) from None
    _print_curve(result)
    typer.echo(settings.output_dir)


def _shown(estimate) -> str:
    if estimate is None:
        return "-"
    return f"{estimate.value:.3f} [{estimate.lo:.3f}, {estimate.hi:.3f}]"


def _print_curve(result) -> None:
    table = Table(title=f"best-of-n on {len(result.prompts)} prompts")
    for column in ("n", "KL", "proxy [95% CI]", "gold [95% CI]"):
        table.add_column(column, justify="right")
    for point in result.points:
        table.add_row(str(point.n), f"{point.kl:.3f}", _shown(point.proxy), _shown(point.gold))
    err.print(table)
