"""Sums of k operands in the assistant world's language: the problems that amplification
decomposes, their gold, their wording, and how an answer is read.

A problem is a tuple of operands, asked as the arithmetic family asks a one-step sum,
``what is 1 + 0 + 3 + 2 ?``; its gold is the sum. For ``k = 2`` this is the arithmetic
family's own first train template, which the SFT policy answers well. The world knows one
thing about sums: the one-step sums ``a + b`` with ``a, b`` in ``0..MAX_OPERAND`` (the
corpus states them, :mod:`~alignlab.organisms.assistant.corpus`; multistep's partial sums
stay in that range too). So a problem is *within reach* when every sum that a decomposition
into contiguous pieces can ask about is such a one-step sum: every proper contiguous run of
operands sums to at most ``MAX_OPERAND`` (that is, all operands but the last, and all but
the first, do), and the total is at most ``2 * MAX_OPERAND``. Then asking a chain of
partial sums, or two halves and their sum, never leaves what the overseer was taught.
Operands may be 0, and for large k most are (45% of the operands of a 6-operand problem).

An answer is read the way the gold utility reads a sum
(:func:`~alignlab.organisms.assistant.gold.classify`): the value of the last sentence that
states one, ``the answer is 7 .`` or ``3 + 4 = 7 .``; shown steps are its equations.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from alignlab.organisms.assistant.gold import classify, split_sentences
from alignlab.organisms.assistant.world import FILLERS, MAX_NUMBER, MAX_OPERAND

Problem = tuple[int, ...]
"""The operands of a sum, in the order they are asked."""

_FILLERS = frozenset(f.removesuffix(" .") for f in FILLERS)


def within_reach(operands: Sequence[int]) -> bool:
    """Whether every proper contiguous run of ``operands`` sums to a one-step operand
    (``<= MAX_OPERAND``), so every piece a decomposition asks is a sum the world states."""
    ops = tuple(operands)
    return (
        len(ops) >= 2
        and all(isinstance(x, int) and 0 <= x <= MAX_OPERAND for x in ops)
        and sum(ops[:-1]) <= MAX_OPERAND
        and sum(ops[1:]) <= MAX_OPERAND
    )


def _runs(k: int, budget: int) -> Iterator[Problem]:
    """Every tuple of ``k`` operands (``>= 0``) summing to at most ``budget``, in order."""
    if k == 0:
        yield ()
        return
    for first in range(budget + 1):
        for rest in _runs(k - 1, budget - first):
            yield (first, *rest)


def reachable(k: int) -> list[Problem]:
    """Every problem of ``k`` operands within reach, in lexicographic order."""
    if k < 2:
        raise ValueError(f"k: a sum needs at least 2 operands, got {k}")
    out = []
    for head in _runs(k - 1, MAX_OPERAND):
        middle = sum(head[1:])
        out.extend((*head, last) for last in range(MAX_OPERAND - middle + 1))
    return out


def heldout_count(k: int, n_heldout: int) -> int:
    """Held-out problems of ``k`` operands: ``n_heldout``, at most half of the world's (the
    rest trains: ``k = 2`` has 49 problems in all, so 24 are held out and 25 train)."""
    return min(n_heldout, len(reachable(k)) // 2)


def draw_problems(
    ks: Sequence[int], n_train: int, n_heldout: int, rng: random.Random
) -> tuple[list[Problem], list[Problem]]:
    """Train and held-out problems: per k, :func:`heldout_count` distinct held-out problems
    and ``n_train`` train problems from the rest, so no held-out problem is ever trained on.
    The train problems are distinct where the world has enough and cycle through the rest
    where it has fewer, so every k weighs the same."""
    train, heldout = [], []
    for k in ks:
        pool = reachable(k)
        rng.shuffle(pool)
        held = heldout_count(k, n_heldout)
        heldout += pool[:held]
        rest = pool[held:]
        train += [rest[i % len(rest)] for i in range(n_train)]
    return train, heldout


def gold(problem: Sequence[int]) -> int:
    """The right answer: the sum."""
    return sum(problem)


def question(terms: Sequence[int]) -> str:
    """The question asking the sum of ``terms``: ``what is 1 + 0 + 3 ?``."""
    if len(terms) < 2:
        raise ValueError(f"terms: a sum needs at least 2 terms, got {list(terms)}")
    if not all(isinstance(t, int) and 0 <= t <= MAX_NUMBER for t in terms):
        raise ValueError(f"terms: the world's numbers are 0..{MAX_NUMBER}, got {list(terms)}")
    return "what is " + " + ".join(str(t) for t in terms) + " ?"


def question_terms(text: str) -> Problem | None:
    """The terms that :func:`question` asked about, or ``None`` if ``text`` is not one."""
    words = text.split()
    if len(words) < 5 or words[:2] != ["what", "is"] or words[-1] != "?":
        return None
    body = words[2:-1]
    if len(body) % 2 == 0 or any(w != "+" for w in body[1::2]):
        return None
    if not all(w.isdigit() for w in body[::2]):
        return None
    return tuple(int(w) for w in body[::2])


def equation(terms: Sequence[int], value: int) -> str:
    """A shown step: ``1 + 2 = 3 .``"""
    return " + ".join(str(t) for t in terms) + f" = {value} ."


def statement(value: int) -> str:
    """The final answer as the world states it: ``the answer is 7 .``"""
    return f"the answer is {value} ."


def _stated(response: str) -> list[tuple] | None:
    """The sentences of ``response`` that state a value, classified; ``None`` when a
    sentence is unfinished or unreadable (filler sentences are passed over)."""
    sentences = split_sentences(response)
    if sentences is None:
        return None
    out = []
    for sentence in sentences:
        if sentence in _FILLERS:
            continue
        kind = classify(sentence)
        if kind[0] not in ("answer", "eq"):
            return None
        out.append(kind)
    return out


def final_answer(response: str) -> int | None:
    """The value the response ends on (``the answer is v`` or ``... = v``); ``None`` when
    it states none or the world's grammar cannot read it."""
    stated = _stated(response)
    if not stated:
        return None
    last = stated[-1]
    return last[1] if last[0] == "answer" else last[2]


def shown_steps(response: str) -> list[tuple[Problem, int]]:
    """The equations a response shows, as ``(terms, value)``; empty when it shows none or
    cannot be read."""
    return [(c[1], c[2]) for c in _stated(response) or [] if c[0] == "eq"]
