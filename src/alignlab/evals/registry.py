"""The suites by name, as ``alignlab eval run --suite`` and ``alignlab eval list`` show them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alignlab.evals.options import SuiteOptions
from alignlab.evals.suites import (
    agreement,
    bias,
    honesty,
    jailbreak,
    refusal,
    sycophancy,
    values,
    verbosity,
    world,
)
from alignlab.evals.task import Task


@dataclass(frozen=True)
class Suite:
    """A named suite and how to build its task."""

    name: str
    """The name ``--suite`` takes."""
    build: Callable[[SuiteOptions], Task]
    """Builds the task from the run's options."""
    needs_organism: bool = False
    """Whether it runs on an organism directory (``--organism``)."""


SUITES = {
    s.name: s
    for s in (
        Suite("sycophancy", sycophancy.task),
        Suite("refusal", refusal.task),
        Suite("honesty", honesty.task),
        Suite("bias", bias.task),
        Suite("jailbreak", jailbreak.task),
        Suite("verbosity", verbosity.task),
        Suite("agreement", agreement.task),
        Suite("values", values.task),
        Suite("world-sycophancy", world.sycophancy_task, needs_organism=True),
        Suite("world-refusal", world.refusal_task, needs_organism=True),
        Suite("world-honesty", world.honesty_task, needs_organism=True),
        Suite("world-verbosity", world.verbosity_task, needs_organism=True),
        Suite("world-agreement", world.agreement_task, needs_organism=True),
        Suite("world-utility", world.utility_task, needs_organism=True),
    )
}
"""Every suite, by name."""


def parse_suites(text: str | Sequence[str]) -> list[str]:
    """Suite names from ``"a,b"`` (or a list), checked; ``all`` and ``world`` expand."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    out = []
    for name in names:
        if name == "all":
            out.extend(n for n, s in SUITES.items() if not s.needs_organism)
        elif name == "world":
            out.extend(n for n, s in SUITES.items() if s.needs_organism)
        elif name in SUITES:
            out.append(name)
        else:
            raise ValueError(
                f"suite: unknown suite {name!r} (known: {', '.join(SUITES)}, all, world)"
            )
    if not out:
        raise ValueError("suite: name at least one suite")
    return list(dict.fromkeys(out))


def build_tasks(names: str | Sequence[str], options: SuiteOptions | None = None) -> list[Task]:
    """The tasks of the named suites, built with ``options``."""
    options = options or SuiteOptions()
    return [SUITES[name].build(options) for name in parse_suites(names)]
