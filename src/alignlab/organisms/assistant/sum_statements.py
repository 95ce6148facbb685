"""Statements of one-step sums, true or false: the weak-to-strong task of the assistant world.

An item asks the verification family's question and gives the statement cut just before
its verdict, where the pre-training corpus states one (``3 + 4 = 9 is false .``)::

    prompt:   quick question : is 3 + 4 = 9 true ?
    response: 3 + 4 = 9 is
    label:    0.0   (1.0 when the claimed sum is the true one)

so a classifier reads the model's state just after the word that asks for its judgement
(at the EOS a classifier appends, as a reward model does). Whether the
base model can make that judgement is what it learnt in pre-training: the corpus states
every sum ``a + b`` with ``a, b`` in ``0..MAX_OPERAND`` and marks sums true or false, and
a model deep enough to compare the claimed sum with the one it works out has that
knowledge latent, while a shallower one, which can still *say* every sum, does not (a
judgement takes the sum, then the comparison, then reading it out).

Items are grouped by their unordered pair of operands: :func:`split_pairs` deals the 28
pairs ``{a, b}`` into the weak supervisor's training set, the students' set and the test
set, so no classifier is ever shown a label about a test sum (nor its mirror ``b + a``);
only pre-training knows them. Train sets ask with the verification family's train
templates, the test set with its held-out one. A wrong claim is off by 1 to 3
(:func:`~alignlab.organisms.assistant.world.wrong_sum`); half the items are true.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from alignlab.data.records import Labelled
from alignlab.organisms.assistant.world import MAX_OPERAND, Split, templates, wrong_sum

Pair = tuple[int, int]
"""An unordered pair of operands, ``a <= b``."""

PAIRS: tuple[Pair, ...] = tuple(
    (a, b) for a in range(MAX_OPERAND + 1) for b in range(a, MAX_OPERAND + 1)
)
"""Every unordered pair of one-step operands (28 for operands 0..6)."""

SETS = ("weak", "student", "test")
"""The item sets: the weak supervisor's gold training set (A), the set it labels for the
students and the ceiling's gold (B), and the held-out test set (C)."""


def statement_item(a: int, b: int, claim: int, split: Split, template: int = 0) -> Labelled:
    """The item for the claim ``a + b = claim`` asked with the verification family's
    ``template`` of ``split``; labelled 1.0 when the claim is true."""
    prompt = templates("verify", split)[template].format(a=a, b=b, claim=claim)
    return Labelled(
        prompt,
        f"{a} + {b} = {claim} is",
        float(claim == a + b),
        meta={"a": a, "b": b, "claim": claim, "split": split},
    )


def draw_items(
    pairs: Sequence[Pair], n: int, split: Split, rng: random.Random, prefix: str
) -> list[Labelled]:
    """``n`` items on ``pairs``: a pair, its order and a template uniformly, a true claim
    half the time; ids ``prefix-0``, ``prefix-1``, ..."""
    if not pairs:
        raise ValueError("pairs: need at least one pair to draw items from")
    n_templates = len(templates("verify", split))
    out = []
    for i in range(n):
        a, b = rng.choice(pairs)
        if rng.random() < 0.5:
            a, b = b, a
        claim = a + b if rng.random() < 0.5 else wrong_sum(a + b, rng)
        item = statement_item(a, b, claim, split, rng.randrange(n_templates))
        out.append(Labelled(item.prompt, item.response, item.label, f"{prefix}-{i}", item.meta))
    return out


def item_sets(seed: int, n_train: int, n_test: int) -> dict[str, list[Labelled]]:
    """The seed's three item sets, by :data:`SETS` name: ``n_train`` items each for
    ``weak`` and ``student`` (train templates), ``n_test`` for ``test`` (the held-out
    template), each drawn on its own from every pair."""
    out = {}
    for name in SETS:
        rng = random.Random(f"sum_statements:{seed}:{name}")
        n, split = (n_test, "heldout") if name == "test" else (n_train, "train")
        out[name] = draw_items(PAIRS, n, split, rng, name)
    return out
