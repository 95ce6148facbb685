"""Progress bars for long work: one look everywhere (count, rate, ETA, live metrics), and
the stderr console that every stage and command prints its messages through.

Bars and messages go to stderr, so a command's stdout stays machine-readable, and they stay
silent when disabled or when stderr is not a terminal and ``CI`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

Advance = Callable[..., None]

err = Console(stderr=True, soft_wrap=True)
"""Messages to stderr, unwrapped, so paths and ``file:line: field: problem`` lines stay
whole and greppable."""


class _RateColumn(ProgressColumn):
    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        shown = f"{speed:.1f} {self.unit}/s" if speed else f"- {self.unit}/s"
        return Text(shown, style="progress.data.speed")


def _quiet() -> bool:
    return bool(os.environ.get("CI")) and not Console(stderr=True).is_terminal


@contextmanager
def progress_bar(
    total: int | None, description: str, *, enabled: bool = True, unit: str = "it"
) -> Iterator[Advance]:
    """Yields ``advance(k=1, **fields)``; ``fields`` (e.g. ``loss="1.23"``) show beside the bar."""
    if not enabled or _quiet():
        yield lambda k=1, **fields: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[shown]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total, shown="")

        def advance(k: int = 1, **fields) -> None:
            shown = " ".join(f"{name}={value}" for name, value in fields.items())
            bar.update(task, advance=k, **({"shown": shown} if fields else {}))

        yield advance
