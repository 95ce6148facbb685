"""What feedback runs work on: prompts to answer, and pairs of responses to compare.

Prompts come from any record file alignlab reads: ``Sample`` records (their ``input``),
demonstrations or comparisons (their ``prompt``). Pairs come from a comparison file, whose
labels are ignored (a pair labelled several times is compared once), or are sampled: two
responses of a policy to each prompt.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alignlab.data.io import read_records
from alignlab.data.records import Sample, Text
from alignlab.models.backends import Backend, GenerationRequest


def derived_seed(*parts: object) -> int:
    """A 31-bit seed derived from ``parts`` (stable across processes)."""
    return random.Random(":".join(map(str, parts))).getrandbits(31)


@dataclass(frozen=True)
class PromptItem:
    """One prompt, with an id unique in its file and the meta of its record."""

    id: str
    prompt: Text
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PairItem:
    """Two different responses to one prompt, to be compared."""

    id: str
    prompt: Text
    first: str
    second: str
    meta: dict = field(default_factory=dict)


def read_prompts(path: str | Path) -> list[PromptItem]:
    """The prompts of a record file, in file order; ids from ``Sample.id`` or the position."""
    items = []
    for i, record in enumerate(read_records(path)):
        if isinstance(record, Sample):
            items.append(PromptItem(record.id or str(i), record.input, dict(record.meta)))
        else:
            items.append(PromptItem(str(i), record.prompt, dict(record.meta)))
    if not items:
        raise ValueError(f"{path}: holds no prompts")
    ids = [item.id for item in items]
    if len(set(ids)) < len(ids):
        raise ValueError(f"{path}: sample ids are not unique, so a run could not resume by id")
    return items


def read_pairs(path: str | Path) -> list[PairItem]:
    """The distinct pairs of a comparison file, in order of first appearance; labels ignored.

    Responses are compared as stripped text; a pair whose two responses are then the same
    is left out."""
    seen: set[str] = set()
    items = []
    for line, record in enumerate(read_records(path, "comparison"), start=1):
        if not isinstance(record.chosen, str) or not isinstance(record.rejected, str):
            raise ValueError(f"{path}:{line}: chosen, rejected: expected plain text responses")
        first, second = record.chosen.strip(), record.rejected.strip()
        key = json.dumps([record.prompt, sorted([first, second])])
        if key in seen or first == second:
            continue
        seen.add(key)
        items.append(PairItem(f"pair-{len(items)}", record.prompt, first, second, record.meta))
    if not items:
        raise ValueError(f"{path}: holds no comparisons")
    return items


def sample_pairs(
    prompts: Sequence[PromptItem],
    policy: Backend,
    *,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    tries: int = 4,
) -> list[PairItem]:
    """Two different sampled responses to each prompt; a prompt whose samples stay identical
    after ``tries`` draws is left out. Seeded, so the same call gives the same pairs."""
    if temperature <= 0:
        raise ValueError(f"temperature: pairs need sampling (> 0), got {temperature}")
    rng = random.Random(seed)
    draws: list[list[str]] = [[] for _ in prompts]
    for _ in range(tries):
        todo = [i for i, d in enumerate(draws) if len(set(d)) < 2]
        if not todo:
            break
        draw = rng.getrandbits(31)
        requests = [
            GenerationRequest(
                prompts[i].prompt,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                seed=derived_seed(draw, prompts[i].id, k),  # each request's draw its own
            )
            for i in todo
            for k in range(2)
        ]
        completions = policy.generate(requests)
        for j, i in enumerate(todo):
            draws[i] += [completions[2 * j].text.strip(), completions[2 * j + 1].text.strip()]
    pairs = []
    for item, texts in zip(prompts, draws, strict=True):
        distinct = [t for t in dict.fromkeys(texts) if t]
        if len(distinct) >= 2:
            pairs.append(PairItem(item.id, item.prompt, distinct[0], distinct[1], item.meta))
    return pairs
