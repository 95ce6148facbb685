"""The consoles every command prints through: messages to stderr, unwrapped, so paths
and ``file:line: field: problem`` lines stay whole and greppable."""

from rich.console import Console

err = Console(stderr=True, soft_wrap=True)
