"""``alignlab bon``: best-of-n against a proxy reward, with the gold reward tracked alongside."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from alignlab.cli.console import err, fail

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
    if not ns or ns[0] < 1:
        raise typer.BadParameter(f"{text!r}: every n must be a positive integer")
    return ns


@app.callback(invoke_without_command=True)
def bon(
    policy: Path = typer.Option(..., help="The policy to sample from (an HF model directory)."),
    reward: str = typer.Option(
        ...,
        help="Proxy reward: a reward model or ensemble dir (DIR@min, DIR@mean-1std), "
        "or module:function.",
    ),
    prompts: Path = typer.Option(
        ..., help="Prompts: Sample records (input field), JSONL or Parquet."
    ),
    out: Path = typer.Option(..., help="Directory to write bon.json and samples.jsonl to."),
    n: str = typer.Option(
        "1,2,4,8,16", help="The n values, comma-separated; the largest is sampled."
    ),
    gold: str | None = typer.Option(None, help="Gold reward spec (``gold``: the organism's)."),
    seed: int = typer.Option(0, help="Seed for sampling and bootstrap intervals."),
    max_new_tokens: int = typer.Option(48, help="Longest response, in tokens."),
    temperature: float = typer.Option(1.0, help="Sampling temperature."),
    batch_size: int = typer.Option(8, help="Prompts per generation batch."),
    device: str | None = typer.Option(None, help="Device for the policy and reward models."),
) -> None:
    """Sample the largest n per prompt once; estimate best-of-n's proxy and gold for every n."""
    ns = _ns(n)
    from alignlab.data.io import read_records
    from alignlab.models.loading import load_causal_lm, load_tokenizer
    from alignlab.models.reward_fns import resolve_reward
    from alignlab.trainers.best_of_n import best_of_n

    try:
        samples = read_records(prompts, "sample")
        reward_fn = resolve_reward(reward, device=device)
        gold_fn = None if gold is None else resolve_reward(gold, device=device)
        tokenizer = load_tokenizer(policy)
        model = load_causal_lm(policy, device=device)
        result = best_of_n(
            model,
            tokenizer,
            [s.input for s in samples],
            reward_fn,
            ns,
            gold_fn=gold_fn,
            seed=seed,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            batch_size=batch_size,
        )
    except (FileNotFoundError, NotADirectoryError, ValueError) as e:
        raise fail(str(e), 1) from None
    result.write(out)
    _print_curve(result)
    typer.echo(str(out))


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
