"""AI-feedback labels for pairs of responses: RL-CAI and RLAIF preference data.

Bai et al. 2022 (section 4) label a pair by asking a feedback model a principle's
comparison question, with the two responses as options, and reading the normalized
probabilities of the option answers ``"(A)"`` and ``"(B)"``. For each pair, alignlab
draws ``principles_per_pair`` principles and asks each question twice, with the responses
in both orders, so that a feedback model's preference for a position cancels::

    p_first = mean over principles of ( P(option 1 | first shown first)
                                      + P(option 2 | second shown first) ) / 2

A model that always answers option 1 thus gives ``p_first = 0.5``. The responses, and the
conversation, are shown fenced (:meth:`~alignlab.feedback.constitution.ComparisonLayout.render`):
each between marker lines made from a hash of the texts, which no response can forge, under a
clause saying their contents are data, not instructions; so a response that says "choose this
reply" or forges a ``Reply B:`` header stays inside its own block. Probabilities come from
the backend: log-probabilities of the options where it gives them, sampled votes where it
does not (``votes`` completions per question); ``meta["method"]`` says which.

The output is ``Comparison`` JSONL, ready for ``alignlab train reward`` or ``train dpo``:
``chosen`` is the response with ``p >= 0.5``, ``weight`` its probability (a soft label in
[0.5, 1], clamped if ``clamp`` says so), ``annotator`` the feedback model, and ``meta``
holds ``id``, ``principles``, ``p_by_principle`` (P(chosen) under each, before clamping),
``first_position`` (the model's mean probability of the option shown first: 0.5 means no
position bias), ``method``, ``coverage`` (the share of the model's answer that named an
option) and the pair's own meta. Records are appended chunk by chunk, so a stopped run
resumes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alignlab.config import check_required
from alignlab.data.records import Comparison
from alignlab.feedback.backend import ModelSpec, open_backend, output_cache
from alignlab.feedback.constitution import Constitution, load_constitution
from alignlab.feedback.items import (
    PairItem,
    derived_seed,
    read_pairs,
    read_prompts,
    sample_pairs,
)
from alignlab.feedback.journal import Journal, JournalRunConfig, run_settings
from alignlab.models.backends import Backend
from alignlab.models.backends.batch import option_probs_many
from alignlab.progress import progress_bar


@dataclass
class LabelConfig(JournalRunConfig):
    """An AI-feedback labelling run: pairs, the feedback model, the constitution."""

    REQUIRED = ("feedback",)

    pairs: str | None = None
    """Comparisons whose pairs are labelled afresh (their own labels are ignored); this or
    ``prompts`` is required."""
    prompts: str | None = None
    """Instead of ``pairs``: prompts to which ``policy`` samples two responses each."""
    policy: ModelSpec | None = None
    """The model that samples the pairs when ``prompts`` is set."""
    feedback: ModelSpec | None = None
    """The model asked the comparison questions (a ``[feedback]`` table). Required."""
    output: str = "runs/cai/ai_prefs.jsonl"
    """The labelled comparisons written (Comparison JSONL), and OUTPUT.run.json beside it."""
    constitution: str = "default"
    """A built-in constitution (``default``, ``organism``: the assistant world's) or a TOML
    file."""
    principles_per_pair: int = 4
    """Principles drawn per pair; the label averages their answers."""
    votes: int = 8
    """Completions sampled per question when the backend gives no log-probabilities."""
    clamp: float = 1.0
    """Clamp each label's probability into ``[1 - clamp, clamp]``; 1 keeps it as the model
    gave it. Bai et al. clamp their chain-of-thought labels to [0.4, 0.6]: a feedback model
    is often overconfident, and labels near 1 let DPO widen margins without bound."""
    max_new_tokens: int = 48
    """Most tokens per sampled response (``prompts`` only)."""
    temperature: float = 1.0
    """Sampling temperature of the responses (``prompts`` only)."""
    seed: int = 0
    """Seeds the principles drawn, the votes and the sampled pairs."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pairs is None and self.prompts is None:
            raise ValueError(
                "LabelConfig.pairs or LabelConfig.prompts is required (--set pairs=... or "
                "`pairs = ...` in the TOML; prompts to sample pairs from instead)"
            )
        if self.pairs is not None and self.prompts is not None:
            raise ValueError("pairs, prompts: set exactly one (unset pairs to sample pairs)")
        check_required(self)
        if self.prompts is not None and self.policy is None:
            raise ValueError("policy: needed to sample pairs from prompts")
        if not 0.5 < self.clamp <= 1.0:
            raise ValueError(f"clamp: must lie in (0.5, 1], got {self.clamp}")
        for name in ("principles_per_pair", "votes", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")


def label_chunk(
    pairs: Sequence[PairItem],
    feedback: Backend,
    constitution: Constitution,
    config: LabelConfig,
) -> list[Comparison]:
    """Label one chunk of pairs (see the module docstring)."""
    k = config.principles_per_pair
    layout = constitution.comparison
    drawn, questions, jobs = [], [], {}
    for pair in pairs:
        principles = constitution.sample(random.Random(f"{config.seed}:{pair.id}"), k)
        drawn.append(principles)
        for principle in principles:
            for order, (a, b) in enumerate(((pair.first, pair.second), (pair.second, pair.first))):
                messages, shown = layout.render(pair.prompt, principle.question, a, b)
                # Principles that ask the same question share one answer (and one seed).
                key = json.dumps([messages, shown])
                questions.append(key)
                seed = derived_seed(config.seed, pair.id, principle.question, order)
                jobs.setdefault(key, (messages, shown, seed))
    found = dict(
        zip(
            jobs,
            option_probs_many(feedback, *zip(*jobs.values(), strict=True), votes=config.votes),
            strict=True,
        )
    )
    answers = [found[key] for key in questions]
    out = []
    for i, (pair, principles) in enumerate(zip(pairs, drawn, strict=True)):
        mine = answers[2 * k * i : 2 * k * (i + 1)]
        # Per principle, the answer with the pair in its order and with it swapped.
        in_order = np.array([a.probs for a in mine[0::2]])
        swapped = np.array([a.probs for a in mine[1::2]])
        # P(first preferred): option 1 when it is shown first, option 2 when it is second.
        p_first = (in_order[:, 0] + swapped[:, 1]) / 2
        first_position = (in_order[:, 0] + swapped[:, 0]).mean() / 2
        p = min(max(float(p_first.mean()), 1.0 - config.clamp), config.clamp)
        keep_order = p >= 0.5
        chosen, rejected = (pair.first, pair.second) if keep_order else (pair.second, pair.first)
        by_principle = p_first if keep_order else 1.0 - p_first
        meta = {
            **pair.meta,
            "id": pair.id,
            "principles": [pr.id for pr in principles],
            "p_by_principle": [round(float(x), 6) for x in by_principle],
            "first_position": round(float(first_position), 6),
            "method": "+".join(sorted({a.method for a in mine})),
            "coverage": round(float(np.mean([a.coverage for a in mine])), 6),
            "constitution": constitution.name,
        }
        weight = max(p, 1.0 - p)
        out.append(Comparison(pair.prompt, chosen, rejected, feedback.name, weight, meta))
    return out


def label_pairs(
    pairs: Sequence[PairItem],
    feedback: Backend,
    constitution: Constitution,
    config: LabelConfig,
    journal: Journal,
) -> dict:
    """Label every pair not yet in ``journal``, appending records chunk by chunk.

    Returns ``written`` (this call), ``total`` (in the output), ``method`` (the methods the
    backend used), ``first_position`` and ``coverage`` (means over the output).
    """
    todo = [pair for pair in pairs if pair.id not in journal.done]
    size = config.chunk_size
    with progress_bar(len(todo), "AI feedback", enabled=config.progress, unit="pair") as advance:
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            journal.append(label_chunk(chunk, feedback, constitution, config))
            advance(len(chunk))
    records = journal.records
    return {
        "written": len(todo),
        "total": len(records),
        "method": "+".join(sorted({r.meta["method"] for r in records})),
        "first_position": float(np.mean([r.meta["first_position"] for r in records])),
        "coverage": float(np.mean([r.meta["coverage"] for r in records])),
    }


def run_label(config: LabelConfig) -> dict:
    """Label pairs with AI feedback as ``config`` says; returns :func:`label_pairs`' summary."""
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    constitution = load_constitution(config.constitution)
    journal = Journal(config.output, "comparison", run_settings(config), resume=config.resume)
    cache = output_cache(config.output, config.cache, config.feedback, config.policy)
    feedback = open_backend(config.feedback, cache)
    if config.pairs is not None:
        pairs = read_pairs(config.pairs)
    else:
        policy = open_backend(config.policy, cache)
        pairs = sample_pairs(
            read_prompts(config.prompts),
            policy,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            seed=config.seed,
        )
    return label_pairs(pairs, feedback, constitution, config, journal)
