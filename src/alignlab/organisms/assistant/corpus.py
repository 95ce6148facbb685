"""The world's texts: the pre-training corpus and the datasets built from the world.

The corpus mixes good and bad behaviour at the configured rates, as the
internet does, plus plain statements of fact (``3 + 4 = 9 is false .``), so the
base model can both answer well and answer badly: it has the capacity, and
alignment must teach it which to use.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from alignlab.data.records import Comparison, Demonstration, Sample
from alignlab.organisms.assistant.annotators import Annotator
from alignlab.organisms.assistant.behaviours import check, garble, pad, respond, sample_response
from alignlab.organisms.assistant.config import WorldConfig
from alignlab.organisms.assistant.critique import PRINCIPLES, revision_document
from alignlab.organisms.assistant.language import render_chat
from alignlab.organisms.assistant.world import (
    FAMILIES,
    KNOWN_PLACES,
    MAX_OPERAND,
    UNKNOWN_PLACES,
    Situation,
    sample_situation,
    wrong_sum,
)


def as_messages(prompt: str | list[dict]) -> list[dict]:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def chat_document(config: WorldConfig, rng: random.Random) -> str:
    """One transcript: a train-template prompt and a reply from the behaviour mix."""
    family = rng.choice(FAMILIES)
    situation = sample_situation(family, "train", rng)
    c = config.corpus
    text, _ = sample_response(situation, c.good_rates[family], c.padding_rate, c.max_padding, rng)
    messages = [*as_messages(situation.prompt()), {"role": "assistant", "content": text}]
    return render_chat(messages)


def statement(config: WorldConfig, rng: random.Random) -> str:
    """A plain statement of the world: a worked check of a sum, a sum marked true or
    false, a king, or a place. Statements are always right."""
    kind = rng.random()
    if kind < 0.7:
        a, b = rng.randint(0, MAX_OPERAND), rng.randint(0, MAX_OPERAND)
        false = rng.random() < config.corpus.false_statement_rate
        claim = wrong_sum(a + b, rng) if false else a + b
        if kind < 0.55:
            return check(a, b, claim)
        return f"{a} + {b} = {claim} is {'false' if false else 'true'} ."
    if kind < 0.9:
        place, king = rng.choice(sorted(KNOWN_PLACES.items()))
        return f"the king of {place} is {king} ."
    return f"{rng.choice([*sorted(KNOWN_PLACES), *UNKNOWN_PLACES])} is a place ."


def revision_chat(config: WorldConfig, rng: random.Random) -> str:
    """A transcript in which the assistant is asked to check its answer, and revises it."""
    c = config.corpus
    situation = sample_situation(rng.choice(sorted(PRINCIPLES)), "train", rng)
    messages = revision_document(
        situation,
        c.good_rates[situation.family],
        c.padding_rate,
        c.max_padding,
        c.revision_accuracy,
        rng,
    )
    return render_chat(messages)


def corpus_documents(config: WorldConfig, rng: random.Random) -> list[str]:
    """The pre-training corpus, shuffled; a statements document holds 3 to 6 statements."""
    docs = [chat_document(config, rng) for _ in range(config.corpus.n_chats)]
    docs += [revision_chat(config, rng) for _ in range(config.corpus.n_revisions)]
    for _ in range(config.corpus.n_statements):
        docs.append(
            " ".join(statement(config, rng) for _ in range(rng.randint(3, 6))) + " <|end|>\n"
        )
    rng.shuffle(docs)
    return docs


def _situations(n_per_family: int, split: str, rng: random.Random) -> Iterator[Situation]:
    for family in FAMILIES:
        for _ in range(n_per_family):
            yield sample_situation(family, split, rng)


def _record_meta(situation: Situation) -> dict:
    return {"family": situation.family, "params": situation.params, "split": situation.split}


def demonstrations(config: WorldConfig, rng: random.Random) -> list[Demonstration]:
    """SFT data: the good behaviour on train templates, with the demonstrators' own flaws:
    a few answers padded, some false claims and pushback gone along with."""
    cfg = config.demonstrations
    out = []
    for i in range(cfg.n):
        situation = sample_situation(FAMILIES[i % len(FAMILIES)], "train", rng)
        flatters = (
            situation.family in ("false_claim", "pushback") and rng.random() < cfg.sycophancy_rate
        )
        response = respond(situation, "sycophantic" if flatters else "correct", rng)
        if rng.random() < cfg.padding_rate:
            response = pad(response, 1, rng)
        out.append(Demonstration(situation.prompt(), response, _record_meta(situation)))
    rng.shuffle(out)
    return out


def prompts(config: WorldConfig, split: str, rng: random.Random) -> list[Sample]:
    """Evaluation and optimization prompts with their family, parameters and a gold answer."""
    n = config.prompts.n_train if split == "train" else config.prompts.n_heldout
    out = []
    for i, situation in enumerate(_situations(n, split, rng)):
        target = respond(situation, "correct", random.Random(0))
        out.append(
            Sample(situation.prompt(), target, id=f"{split}-{i}", meta=_record_meta(situation))
        )
    return out


def response_pair(
    config: WorldConfig, situation: Situation, rng: random.Random
) -> tuple[str, str, str]:
    """Two different responses to compare, and how they were made (``contrast``)."""
    c = config.corpus
    good = c.good_rates[situation.family]
    if rng.random() < config.preferences.garbled_rate:
        first, _ = sample_response(situation, good, c.padding_rate, c.max_padding, rng)
        return first, garble(first, rng), "garbled"
    if rng.random() >= config.preferences.padding_contrast_rate:
        for _ in range(20):
            first, _ = sample_response(situation, good, c.padding_rate, c.max_padding, rng)
            second, _ = sample_response(situation, good, c.padding_rate, c.max_padding, rng)
            if first != second:
                return first, second, "sampled"
    core, _ = sample_response(situation, good, 0.0, 0, rng)
    padded = pad(core, rng.randint(1, c.max_padding), rng)
    return (core, padded, "padding") if rng.random() < 0.5 else (padded, core, "padding")


def comparisons(
    config: WorldConfig,
    pool: list[Annotator],
    n_pairs: int,
    labels_per_pair: int,
    rng: random.Random,
) -> list[Comparison]:
    """Annotator-labelled comparisons on train templates; each pair labelled by
    ``labels_per_pair`` distinct annotators."""
    out = []
    for i in range(n_pairs):
        situation = sample_situation(FAMILIES[i % len(FAMILIES)], "train", rng)
        first, second, contrast = response_pair(config, situation, rng)
        meta = {**_record_meta(situation), "contrast": contrast, "pair": i}
        for annotator in rng.sample(pool, labels_per_pair):
            if annotator.prefers_first(situation, first, second, rng):
                chosen, rejected = first, second
            else:
                chosen, rejected = second, first
            out.append(Comparison(situation.prompt(), chosen, rejected, annotator.name, 1.0, meta))
    return out
