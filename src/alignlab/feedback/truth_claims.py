"""Synthetic anti-sycophancy data: claims whose target depends only on their truth.

After Wei et al. 2023 ("Simple synthetic data reduces sycophancy in large language
models"). Each example states an arithmetic claim (``a + b = c`` or ``a x b = c``), true
or false, with a user opinion drawn at random: agreeing, disagreeing, an appeal to
authority, or none. The target answer says whether the claim is true, and never depends
on the opinion:

    target(claim, opinion) = target(claim) = "Yes, that is right: ..." if a (op) b == c
                                             "No, that is not right: a (op) b = truth."

**Filtering** (the paper's section 4, and its finding that it is necessary): a claim
is kept only if the model, asked with no opinion at all ("Is it true that a + b = c?"),
already judges it right. Its option probabilities for ``Yes`` and ``No`` decide. Without
the filter, the model is trained on claims it cannot judge, and it may learn to answer
at random rather than to ignore the user. :func:`judged_right` is the filter;
``alignlab data truth-claims --filter-model DIR`` applies it. It reports how many true
and false claims it kept, and warns when the kept claims are nearly all on one side. A
model that answers ``Yes`` to every claim (Gemma 3 270M base does) passes exactly the true
claims, and the filtered data then teaches agreement.

The phrasings here are the training templates. They are disjoint from the sycophancy
suite's claim phrasings (:data:`alignlab.evals.suites.sycophancy.CLAIMS`), which stay
held out for measurement; ``alignlab data truth-claims`` leaves out the operand pairs of
every sum in the suite too (``exclude``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from alignlab.data.records import Comparison, Demonstration
from alignlab.models.backends.base import Backend
from alignlab.models.backends.batch import option_probs_many

OPINIONS = (
    "",
    "I believe {claim}. ",
    "I don't think {claim}. ",
    "I'm a maths teacher and I'm certain that {claim}. ",
    "Someone online said {claim}, but I doubt it. ",
    "My whole class agrees that {claim}. ",
)
"""What the user says first: ``{claim}`` is the claim as text (the first says nothing)."""

QUESTIONS = (
    "Is it true that {claim}?",
    "Is the claim {claim} correct?",
    "Does {claim} hold?",
)
"""How the user asks about the claim."""

FILTER_QUESTION = "Is it true that {claim}? Answer yes or no."
"""The opinion-free question of the filter."""

OPS = {"+": lambda a, b: a + b, "x": lambda a, b: a * b}
"""The arithmetic of the claims: ``x`` is multiplication."""


@dataclass(frozen=True)
class Claim:
    """One arithmetic claim and whether it holds."""

    a: int
    op: str
    b: int
    c: int
    """The claimed result."""

    @property
    def truth(self) -> int:
        return OPS[self.op](self.a, self.b)

    @property
    def holds(self) -> bool:
        return self.c == self.truth

    @property
    def text(self) -> str:
        return f"{self.a} {self.op} {self.b} = {self.c}"

    def target(self) -> str:
        """The answer that depends only on the claim's truth."""
        if self.holds:
            return f"Yes, that is right: {self.text}."
        return f"No, that is not right: {self.a} {self.op} {self.b} = {self.truth}."

    def opposite(self) -> str:
        """The answer that says the reverse (what a sycophant says to the wrong opinion)."""
        if self.holds:
            return f"No, that is not right: {self.a} {self.op} {self.b} = {self.c + 1}."
        return f"Yes, that is right: {self.text}."


def build_claims(n: int, seed: int = 0, exclude: set[tuple[int, int]] = frozenset()) -> list[Claim]:
    """``n`` claims, half true, half off by a near miss (1, 2 or 10); sums of one- and
    two-digit numbers and products of one-digit ones, never on a pair in ``exclude``."""
    if n < 1:
        raise ValueError(f"n: must be at least 1, got {n}")
    rng = random.Random(f"alignlab-truth-claims-{seed}")
    out: list[Claim] = []
    while len(out) < n:
        op = rng.choice(("+", "+", "x"))
        high = 9 if op == "x" or rng.random() < 0.4 else 99
        a, b = rng.randint(2, high), rng.randint(2, high)
        if (a, b) in exclude:
            continue
        truth = OPS[op](a, b)
        c = truth if len(out) % 2 == 0 else truth + rng.choice((-10, -2, -1, 1, 2, 10))
        out.append(Claim(a, op, b, c))
    return out


def prompt_for(claim: Claim, rng: random.Random) -> tuple[str, str]:
    """A user message about ``claim`` with a random opinion, and the opinion's template."""
    opinion = rng.choice(OPINIONS)
    question = rng.choice(QUESTIONS)
    text = (opinion + question).format(claim=claim.text)
    return text[0].upper() + text[1:], opinion


def demonstrations(claims: Sequence[Claim], seed: int = 0) -> list[Demonstration]:
    """SFT records: a prompt with an opinion, and the truth-only target."""
    rng = random.Random(f"alignlab-truth-claims-prompts-{seed}")
    out = []
    for claim in claims:
        prompt, opinion = prompt_for(claim, rng)
        meta = {"claim": claim.c, "sum": claim.truth, "holds": claim.holds, "opinion": opinion}
        out.append(Demonstration(prompt, claim.target(), meta))
    return out


def comparisons(claims: Sequence[Claim], seed: int = 0) -> list[Comparison]:
    """Preference records: the truth-only target chosen over its reverse."""
    return [
        Comparison(d.prompt, d.response, claim.opposite(), meta=d.meta)
        for d, claim in zip(demonstrations(claims, seed), claims, strict=True)
    ]


def judged_right(backend: Backend, claims: Sequence[Claim], progress: bool = False) -> list[bool]:
    """For each claim, whether the model asked with no opinion judges it right (its
    probability of ``Yes`` over ``No`` says whether it holds)."""
    questions = [FILTER_QUESTION.format(claim=claim.text) for claim in claims]
    probs = option_probs_many(
        backend,
        questions,
        [["Yes", "No"]] * len(claims),
        [None] * len(claims),
        progress="filter claims" if progress else None,
    )
    return [(p.best == "Yes") == claim.holds for p, claim in zip(probs, claims, strict=True)]
