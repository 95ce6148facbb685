"""Amplification and distillation: a sum too long for the overseer is decomposed into
sub-questions it can answer, the answers are recombined, and the amplified answers are
distilled into the policy, which then answers larger pieces (iterated distillation and
amplification, Christiano, Shlegeris & Amodei 2018, "Supervising strong learners by
amplifying weak experts").

A *decomposition strategy* maps a problem (a tuple of operands) to a tree, a
:data:`Node`: an ``int`` is an operand, known without asking; a tuple is one question to
the answerer, "what is the sum of these children?", asked once every child's value is
known. The amplified answer is the root's value. Strategies are chosen by name from
:data:`STRATEGIES`:

- ``direct``: the whole problem in one question (direct oversight, no decomposition);
- ``chain``: ``((a1 + a2) + a3) + ...``, k - 1 one-step questions, each adding the next
  operand to the previous answer: the smallest sub-questions, all the overseer must know;
- ``prefix``: all operands but the last asked as one piece, then one question adding the
  last: an IDA step, where the answerer of the piece is the model distilled in the
  iteration before, and whose written-out steps continue a chain;
- ``halves``: the first ``ceil(k / 2)`` operands and the rest, each asked directly, then one
  question for their sum: the IDA step of the paper's divide and conquer (fewer levels,
  but its written-out steps are a tree, not a chain).

:func:`amplify` runs a strategy over many problems through any
:class:`~alignlab.models.backends.Backend`, one batched call per depth of the trees: the
pieces go to the model being amplified, the root (the recombination) to the overseer, as in
the paper's ``Amp(H, X)``. Questions are worded and answers read by a :class:`SumLanguage`
(the world's: the module :mod:`alignlab.organisms.assistant.sums`), so nothing here knows a
world. A question whose answer cannot be read leaves its parents unasked, and the problem
unanswered. :func:`distillation_data` turns amplified answers into SFT demonstrations,
keeping (when ``checked``) only those whose written-out steps the overseer can follow
(:func:`followable`): one-step sums over the problem's own operands.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from alignlab.data.records import Demonstration
from alignlab.models.backends import Backend, GenerationRequest
from alignlab.registry import registrar

Node = int | tuple["Node", ...]
"""A decomposition tree: an operand, or a question about the sum of its children."""
Strategy = Callable[[tuple[int, ...]], Node]


class SumLanguage(Protocol):
    """How a world words sums and reads answers (:mod:`alignlab.organisms.assistant.sums`)."""

    def question(self, terms: Sequence[int]) -> str:
        """The question asking the sum of ``terms``."""
        ...

    def final_answer(self, response: str) -> int | None:
        """The value a response answers with; ``None`` when it cannot be read."""
        ...

    def shown_steps(self, response: str) -> list[tuple[tuple[int, ...], int]]:
        """The equations ``(terms, value)`` a response shows as its working."""
        ...

    def equation(self, terms: Sequence[int], value: int) -> str:
        """One step, written out: ``1 + 2 = 3 .``"""
        ...

    def statement(self, value: int) -> str:
        """The final answer, written out: ``the answer is 3 .``"""
        ...


STRATEGIES: dict[str, Strategy] = {}


register_strategy = registrar(STRATEGIES, "decomposition strategy")
"""Register a decomposition strategy under its names."""


def strategy(name: str) -> Strategy:
    """The strategy registered as ``name``; the error lists the known ones."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}")
    return STRATEGIES[name]


def _piece(operands: tuple[int, ...]) -> Node:
    return operands[0] if len(operands) == 1 else operands


@register_strategy("direct")
def direct(problem: tuple[int, ...]) -> Node:
    """One question: the whole sum ``(a1, ..., ak)``."""
    return tuple(problem)


@register_strategy("chain")
def chain(problem: tuple[int, ...]) -> Node:
    """``((a1, a2), a3), ...``: k - 1 one-step questions, each on the previous answer."""
    node: Node = problem[0]
    for operand in problem[1:]:
        node = (node, operand)
    return node


@register_strategy("prefix")
def prefix(problem: tuple[int, ...]) -> Node:
    """``((a1 .. ak-1), ak)``: every operand but the last asked as one piece, then one
    one-step question adding the last: the IDA step whose steps continue a chain."""
    return (_piece(tuple(problem[:-1])), problem[-1])


@register_strategy("halves")
def halves(problem: tuple[int, ...]) -> Node:
    """``((a1 .. ah), (ah+1 .. ak))`` with ``h = ceil(k / 2)``: two pieces asked directly,
    one question for their sum (a piece of one operand is that operand)."""
    h = math.ceil(len(problem) / 2)
    return (_piece(tuple(problem[:h])), _piece(tuple(problem[h:])))


@dataclass(frozen=True)
class Step:
    """One sub-question and the answerer's reply."""

    terms: tuple[int, ...]
    """The values it asked the sum of (operands, or answers to earlier steps)."""
    response: str
    """The answerer's reply."""
    value: int | None
    """The value read from the reply; ``None`` when it cannot be read."""


@dataclass(frozen=True)
class Amplified:
    """A problem's amplified answer and how it was reached."""

    problem: tuple[int, ...]
    answer: int | None
    """The root question's value; ``None`` when a sub-answer could not be read."""
    steps: tuple[Step, ...]
    """The questions asked, in the order asked (children before parents)."""

    @classmethod
    def from_dict(cls, row: dict) -> Amplified:
        """The inverse of ``dataclasses.asdict`` (as JSON gives it back: lists for tuples)."""
        steps = (Step(tuple(s["terms"]), s["response"], s["value"]) for s in row["steps"])
        return cls(tuple(row["problem"]), row["answer"], tuple(steps))


Term = tuple[bool, int]
"""A child of a flattened question: ``(False, v)`` the operand v, ``(True, j)`` the answer
to question j."""


def flatten(node: Node) -> list[tuple[Term, ...]]:
    """The tree's questions in post-order (children before parents; the root last)."""
    if isinstance(node, int):
        raise ValueError("a decomposition must ask at least one question, got an operand")
    questions: list[tuple[Term, ...]] = []

    def visit(n: Node) -> Term:
        if isinstance(n, int):
            return (False, n)
        if len(n) < 2:
            raise ValueError(f"a question needs at least two children, got {n}")
        children = tuple(visit(child) for child in n)
        questions.append(children)
        return (True, len(questions) - 1)

    visit(node)
    return questions


def depths(questions: Sequence[tuple[Term, ...]]) -> list[int]:
    """Each question's depth: 1 when every child is an operand, else 1 + its deepest child's."""
    out: list[int] = []
    for children in questions:
        out.append(1 + max((out[j] for ref, j in children if ref), default=0))
    return out


def _ask(model: Backend, questions: list, language: SumLanguage, cap, progress) -> list[Step]:
    """One batched call: each question's terms asked of ``model``, its reply read."""
    if not questions:
        return []
    requests = [GenerationRequest(language.question(t), max_new_tokens=cap(t)) for t in questions]
    completions = model.generate(requests, progress=progress)
    return [
        Step(t, c.text, language.final_answer(c.text))
        for t, c in zip(questions, completions, strict=True)
    ]


def amplify(
    backend: Backend,
    problems: Sequence[Sequence[int]],
    strategy_name: str,
    language: SumLanguage,
    *,
    overseer: Backend | None = None,
    max_new_tokens: int | Callable[[tuple[int, ...]], int] = 64,
    progress: bool = False,
) -> list[Amplified]:
    """Each problem answered by decomposing it with ``strategy_name`` and asking every
    sub-question greedily; one batched call per depth of the trees.

    The pieces are asked of ``backend``; the root question, the recombination, of
    ``overseer`` (``Amp(H, X)``: the overseer H combines what the model X answers), or of
    ``backend`` too when no overseer is given. ``max_new_tokens`` caps each reply, or maps a
    question's terms to its cap (a reply that shows its steps grows with the terms; a cap
    that fits lets a batch that rambles end early)."""
    cap = max_new_tokens if callable(max_new_tokens) else (lambda terms: max_new_tokens)
    overseer = backend if overseer is None else overseer
    decompose = strategy(strategy_name)
    problems = [tuple(p) for p in problems]
    plans = [flatten(decompose(p)) for p in problems]
    levels = [depths(plan) for plan in plans]
    replies: list[dict[int, Step]] = [{} for _ in problems]
    for depth in range(1, max((max(d) for d in levels), default=0) + 1):
        asked = []  # (problem index, question index, terms)
        for i, (plan, level) in enumerate(zip(plans, levels, strict=True)):
            for q, children in enumerate(plan):
                if level[q] != depth:
                    continue
                terms = [v if not ref else replies[i][v].value for ref, v in children]
                if all(t is not None for t in terms):
                    asked.append((i, q, tuple(terms)))
        groups = [(backend, asked)]
        if overseer is not backend:
            roots = [a for a in asked if a[1] == len(plans[a[0]]) - 1]
            groups = [(backend, [a for a in asked if a not in roots]), (overseer, roots)]
        for model, mine in groups:
            steps = _ask(model, [t for _, _, t in mine], language, cap, progress)
            for (i, q, _), step in zip(mine, steps, strict=True):
                replies[i][q] = step
    out = []
    for problem, plan, steps in zip(problems, plans, replies, strict=True):
        root = steps.get(len(plan) - 1)
        ordered = tuple(steps[q] for q in sorted(steps))
        out.append(Amplified(problem, None if root is None else root.value, ordered))
    return out


Equation = tuple[tuple[int, ...], int]
"""A written-out step: the terms added and the result."""


def working(step: Step, language: SumLanguage) -> list[Equation]:
    """How a step is shown: the equations the answerer showed, when they end on the value it
    answered with (a piece worked out step by step), else the step's own equation."""
    shown = [(tuple(terms), value) for terms, value in language.shown_steps(step.response)]
    if shown and shown[-1][1] == step.value:
        return shown
    return [(step.terms, step.value)]


def steps_shown(amplified: Amplified, language: SumLanguage) -> list[Equation]:
    """Every step's working, in the order asked."""
    return [eq for step in amplified.steps for eq in working(step, language)]


def followable(problem: Sequence[int], equations: Sequence[Equation], answer: int) -> bool:
    """Whether an overseer who checks only one-step sums can follow the written-out steps:
    each adds exactly two values, each an operand of the problem or an earlier step's
    result not used yet, and in the end every operand is used and only the answer is left.

    This checks the steps' form, not their arithmetic: ``1 + 2 = 4 . 4 + 3 = 7 .`` follows
    for ``(1, 2, 3)``; ``1 + 1 = 2 . 2 + 3 = 5 .`` (a made-up operand) and a bare or
    many-term answer do not."""
    pool = Counter(problem)
    for terms, value in equations:
        need = Counter(terms)
        if len(terms) != 2 or any(pool[v] < n for v, n in need.items()):
            return False
        pool -= need
        pool[value] += 1
    return +pool == Counter([answer])


def transcript(amplified: Amplified, language: SumLanguage, *, show_steps: bool) -> str:
    """The amplified answer as a reply to the whole problem: every step's working in the
    order asked, then the answer (``show_steps``), or the answer alone."""
    if amplified.answer is None:
        raise ValueError(f"problem {amplified.problem}: no amplified answer to write out")
    lines = []
    if show_steps:
        lines = [language.equation(t, v) for t, v in steps_shown(amplified, language)]
    return " ".join([*lines, language.statement(amplified.answer)])


def distillation_data(
    amplified: Sequence[Amplified], language: SumLanguage, *, show_steps: bool, checked: bool
) -> list[Demonstration]:
    """SFT demonstrations from amplified answers: the whole problem asked directly, answered
    with its :func:`transcript`. Problems left unanswered are left out, and with ``checked``
    so are those whose steps are not :func:`followable` (an answerer's bare or made-up
    working of a piece beyond it), whether the steps are shown or not."""
    return [
        Demonstration(
            language.question(a.problem),
            transcript(a, language, show_steps=show_steps),
            {"problem": list(a.problem), "amplified": a.answer},
        )
        for a in amplified
        if a.answer is not None
        and (not checked or followable(a.problem, steps_shown(a, language), a.answer))
    ]


def fidelity(targets: Sequence[Demonstration], answers: Sequence[Amplified]) -> dict[int, float]:
    """How faithfully a distilled model copies the amplification: per number of operands,
    the share of distillation ``targets`` (held out of its training) whose problem it answers
    as the amplification did (``meta["amplified"]``); ``answers`` follow ``targets``' order.
    The overseer can compute it, since it needs no right answer, only the amplified one."""
    hits: dict[int, list[bool]] = {}
    for target, answer in zip(targets, answers, strict=True):
        problem = tuple(target.meta["problem"])
        if answer.problem != problem:
            raise ValueError(f"answers: {answer.problem} where {problem} was expected")
        hits.setdefault(len(problem), []).append(answer.answer == target.meta["amplified"])
    return {k: sum(h) / len(h) for k, h in sorted(hits.items())}
