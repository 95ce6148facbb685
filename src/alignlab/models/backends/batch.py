"""Option probabilities for many prompts at once, the one loop every caller shares.

Judges, AI-feedback labels, the agreement suites and the anti-sycophancy filter all ask a
backend ``option_probs`` for many prompts. :func:`option_probs_many` asks an endpoint
(a backend with ``aoption_probs``) concurrently, at most its ``concurrency`` at a time, a
local model with ``option_probs_batch`` in batched forward passes, and any other backend
one prompt after another, with an optional progress bar each way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from alignlab.data.records import Text
from alignlab.models.backends.base import Backend, OptionProbs, run_sync
from alignlab.progress import progress_bar


def option_probs_many(
    backend: Backend,
    prompts: Sequence[Text],
    options: Sequence[Sequence[str]],
    seeds: Sequence[int | None],
    *,
    votes: int = 8,
    progress: str | None = None,
) -> list[OptionProbs]:
    """``backend.option_probs(prompts[i], options[i], votes=votes, seed=seeds[i])`` for
    every i, in order. ``progress`` names a progress bar on stderr (unset: none)."""
    if not len(prompts) == len(options) == len(seeds):
        raise ValueError(
            f"prompts, options and seeds: lengths differ ({len(prompts)}, {len(options)}, "
            f"{len(seeds)})"
        )
    asynchronous = getattr(backend, "aoption_probs", None)
    batched = getattr(backend, "option_probs_batch", None)
    with progress_bar(len(prompts), progress or "", enabled=progress is not None) as advance:
        if batched is not None:
            return batched(prompts, options, advance)
        if asynchronous is None:
            out = []
            for p, o, s in zip(prompts, options, seeds, strict=True):
                out.append(backend.option_probs(p, o, votes=votes, seed=s))
                advance()
            return out

        async def gather() -> list[OptionProbs]:
            limit = asyncio.Semaphore(getattr(backend, "concurrency", 8))

            async def one(prompt, opts, seed) -> OptionProbs:
                async with limit:
                    found = await asynchronous(prompt, opts, votes=votes, seed=seed)
                advance()
                return found

            return await asyncio.gather(
                *(one(p, o, s) for p, o, s in zip(prompts, options, seeds, strict=True))
            )

        return run_sync(gather())
