"""Registries: each family of methods (rate intervals, DPO losses, label rules, tie rules,
decomposition strategies, ...) is a dict from a name to a short function, filled by a
decorator made here, so a new variant is one decorated function and two variants can never
share a name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def registrar(table: dict[str, F], kind: str) -> Callable[..., Callable[[F], F]]:
    """A decorator factory for ``table``: ``@register("a", "b")`` files a function under
    each name; a name taken already raises ``ValueError`` naming ``kind``."""

    def register(*names: str) -> Callable[[F], F]:
        if not names:
            raise ValueError(f"a {kind} needs at least one name")

        def add(function: F) -> F:
            for name in names:
                if name in table:
                    raise ValueError(f"a {kind} named {name!r} is already registered")
                table[name] = function
            return function

        return add

    return register
