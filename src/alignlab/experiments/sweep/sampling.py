"""Measuring a trained policy by sampling from it: KL to the reference, rewards, failures.

The policy samples ``samples_per_prompt`` responses to each prompt (seeded, so two
policies measured alike differ by their weights alone); KL is estimated on the samples as
the mean of ``log pi(y | x) - log pi_ref(y | x)`` (an unbiased estimate of the
sequence-level ``KL(pi || pi_ref)``), and every other figure is scored by the sweep's
:class:`~alignlab.goodhart.scoring.Scorers`. Intervals resample prompts.
"""

from __future__ import annotations

import numpy as np

from alignlab.data.records import Text
from alignlab.goodhart.points import Point
from alignlab.goodhart.scoring import Scorers, point, reshape
from alignlab.stats.intervals import mean


def measure_policy(
    policy,
    reference,
    tokenizer,
    prompts: list[Text],
    scorers: Scorers,
    *,
    run: str,
    split: str,
    pressure: float,
    settings: dict,
    samples_per_prompt: int = 1,
    max_new_tokens: int = 48,
    batch_size: int = 16,
    seed: int = 0,
) -> Point:
    """Sample ``policy`` on ``prompts`` and measure the samples as one :class:`Point`."""
    from alignlab.models.generation import generate_samples
    from alignlab.trainers.tracking import sequence_kl

    groups = generate_samples(
        policy,
        tokenizer,
        prompts,
        num_return_sequences=samples_per_prompt,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        seed=seed,
    )
    generations = [g for group in groups for g in group]
    was_training = policy.training
    policy.eval()
    kl = sequence_kl(policy, reference, generations, tokenizer.pad_token_id, batch_size=64)
    policy.train(was_training)
    flat_prompts = [p for p in prompts for _ in range(samples_per_prompt)]
    columns = reshape(scorers.score(flat_prompts, [g.text for g in generations]), len(prompts))
    per_prompt_kl = np.asarray(kl).reshape(len(prompts), -1).mean(axis=1)
    return point(
        columns,
        run=run,
        split=split,
        pressure=pressure,
        settings=settings,
        kl=mean(per_prompt_kl, seed=seed),
        seed=seed,
    )
