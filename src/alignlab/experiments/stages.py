"""Named, timed stages: what both ladders (:mod:`.demo`, :mod:`.real`) run their steps through."""

from __future__ import annotations

import time
from collections.abc import Callable

from alignlab.progress import err


class Stages:
    """Runs stages by name, announcing each on stderr, and keeps their wall times."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        """Seconds each stage took, by name, in the order they ran."""

    def stage(self, name: str, fn: Callable, *args, **kwargs):
        """``fn(*args, **kwargs)``, announced as ``name`` and timed into :attr:`timings`."""
        err.print(f"[bold cyan]▸ {name}[/]")
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.timings[name] = round(time.perf_counter() - start, 2)
        return result
