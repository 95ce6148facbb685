"""The assistant world: a tiny chat language with a known gold utility.

Use :func:`build` to make the base model and datasets, :func:`gold_utility` (or
:func:`judge`, which also says why) to score any response to any of the world's
prompts, and :data:`FAMILIES` for the prompt families it measures.
"""

from alignlab.organisms.assistant.config import WorldConfig
from alignlab.organisms.assistant.gold import (
    CATEGORIES,
    GOLD_VERSION,
    Judgement,
    gold_utility,
    judge,
)
from alignlab.organisms.assistant.world import FAMILIES, Situation, parse_prompt

__all__ = [
    "CATEGORIES",
    "FAMILIES",
    "GOLD_VERSION",
    "Judgement",
    "Situation",
    "WorldConfig",
    "build",
    "gold_utility",
    "judge",
    "parse_prompt",
]


def build(*args, **kwargs):
    """Build (or reuse) the world; see :func:`alignlab.organisms.assistant.build.build`."""
    from alignlab.organisms.assistant.build import build as run

    return run(*args, **kwargs)
