"""Multi-step solutions in the assistant world: their steps, each step's gold label, the answer.

A ``multistep`` problem (``add 2 , 3 and 4 . show your steps .``) is solved by a chain of
sums, each adding one operand to the result before it, and an answer::

    2 + 3 = 5 . 5 + 4 = 9 . the answer is 9 .

The outcome gold (:func:`~alignlab.organisms.assistant.gold.judge`, family ``multistep``)
grades the whole solution: 1.0 for right steps and answer, 0.4 ``flawed_steps`` for a right
answer reached through a wrong step, 0.6 ``no_steps``, 0 ``wrong``. Process supervision
(Lightman et al. 2023, "Let's Verify Step by Step") needs what that grade does not say:
*which* step is wrong. :func:`solution` reads a response sentence by sentence, with the
world's own reading of a sentence (:func:`~alignlab.organisms.assistant.gold.classify`),
and labels each step on what came before it:

- a sum ``t1 + ... = r`` is correct when it is true and builds on the step before: the
  first step adds two of the problem's operands, every later one adds one operand not used
  yet to the previous result (``r_prev + o = r``);
- an answer ``the answer is v`` (or ``v .``) is correct when it is the first answer and
  states the result of the sums before it, and those sums used every operand;
- a solution that ends in a sum and states no answer is read, as the gold reads it, as
  answering that sum's result: it gets an *implied* answer step, whose prefix is the
  response with ``the answer is v .`` added. Without it a solution that stops early (``2 +
  3 = 5 .``) would be, word for word, the first step of a right one, and a process reward
  model could not tell them apart;
- any other sentence (unreadable, another family's reply, an unfinished tail) is a wrong
  step; padding (filler sentences, repeats) is no step, as the gold reads it.

So a solution whose steps are all correct is what the gold calls ``correct``, with one
exception the labels make on purpose: an answer stated before the working that reaches it
is a wrong step (it follows from nothing yet), where the gold, reading the whole text, gives
it 1.0. :data:`HELDOUT_OPERANDS` are the harder problems this family's sampler never draws.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass

from alignlab.organisms.assistant.gold import Judgement, classify, judge_situation
from alignlab.organisms.assistant.world import FILLERS, MAX_OPERAND, Situation, templates

_FILLERS = frozenset(f.removesuffix(" .") for f in FILLERS)

ALL_OPERANDS: tuple[tuple[int, int, int], ...] = tuple(
    (a, b, c)
    for a, b, c in itertools.product(range(MAX_OPERAND + 1), repeat=3)
    if a + b <= MAX_OPERAND
)
"""Operands ``(a, b, c)`` whose every step is a one-step sum the corpus states (``a + b <=
6``, ``c <= 6``): 196 problems."""
HELDOUT_OPERANDS = tuple(abc for abc in ALL_OPERANDS if max(abc[:2]) > MAX_OPERAND // 2)
"""Of those, the 84 the family's sampler never draws (it keeps ``a, b <= 3``), on which the
organism's base model is right about one time in four."""
WORLD_OPERANDS = tuple(
    abc for abc in ALL_OPERANDS if min(abc) >= 1 and max(abc[:2]) <= MAX_OPERAND // 2
)
"""The 54 operands :func:`~alignlab.organisms.assistant.world.sample_situation` draws for the
family, the ones the corpus and the demonstrations solve."""
OPERAND_SETS = {"all": ALL_OPERANDS, "heldout": HELDOUT_OPERANDS, "world": WORLD_OPERANDS}
RIGHT_ANSWER = ("correct", "flawed_steps", "no_steps")
"""The gold's categories of a solution whose final answer is right."""


@dataclass(frozen=True)
class Step:
    """One step of a solution: its sentence, the response through it, and its gold label."""

    text: str
    """The sentence, without its final `` .``."""
    prefix: str
    """The response from its start through this step (padding before it included): what a
    process reward model reads to judge the step."""
    correct: bool
    """Whether the step is right, given the steps before it (module docstring)."""
    reason: str
    """Why it is right or wrong."""


@dataclass(frozen=True)
class Solution:
    """A response to a multi-step problem, read as steps."""

    steps: tuple[Step, ...]
    """At least one: a response with no step is one wrong step, the whole response."""
    final: int | None
    """The final answer: the first ``the answer is v``, else the last sum's result; ``None``
    when the response states neither."""

    @property
    def sound(self) -> bool:
        """Every step is correct."""
        return all(step.correct for step in self.steps)


def problem(a: int, b: int, c: int, split: str = "train", template: int = 0) -> Situation:
    """The ``multistep`` situation ``add a , b and c . show your steps .`` (``template`` of
    ``split``'s templates)."""
    if not 0 <= template < len(templates("multistep", split)):
        raise ValueError(f"template: {split} has no multistep template {template}")
    return Situation("multistep", {"a": a, "b": b, "c": c}, split, template)


def split_problems(
    train_operands: str, test_operands: str, seed: int, n_train: int, n_test: int
) -> tuple[list[Situation], list[Situation]]:
    """``n_test`` problems from :data:`OPERAND_SETS` ``[test_operands]`` and ``n_train`` others
    from ``[train_operands]`` (never a test problem), drawn by ``seed``, each with a random
    train template; the test problems depend on ``seed`` and ``n_test`` alone."""
    for field, name in (("train_operands", train_operands), ("test_operands", test_operands)):
        if name not in OPERAND_SETS:
            raise ValueError(f"{field}: expected one of {sorted(OPERAND_SETS)}, got {name!r}")
    tests = OPERAND_SETS[test_operands]
    if n_test > len(tests):
        raise ValueError(f"n_test: {n_test} problems asked, {test_operands} has {len(tests)}")
    rng = random.Random(seed)
    count = len(templates("multistep", "train"))
    test = [problem(*abc, "train", rng.randrange(count)) for abc in rng.sample(tests, n_test)]
    asked = {tuple(s.params.values()) for s in test}
    pool = [abc for abc in OPERAND_SETS[train_operands] if abc not in asked]
    if n_train > len(pool):
        raise ValueError(
            f"n_train: {n_train} problems asked, {train_operands} has {len(pool)} besides "
            "the test problems"
        )
    train = [problem(*abc, "train", rng.randrange(count)) for abc in rng.sample(pool, n_train)]
    return train, test


def _sentences(response: str) -> list[tuple[str, int]]:
    """Sentences without their `` .``, each with the number of words through its end; an
    unfinished tail is a sentence too (it does not end in ``.``)."""
    words = response.split()
    out, start = [], 0
    for i, word in enumerate(words):
        if word == ".":
            out.append((" ".join(words[start:i]), i + 1))
            start = i + 1
    if start < len(words):
        out.append((" ".join(words[start:]) + " <unfinished>", len(words)))
    return out


class _Chain:
    """The state of a solution read so far: operands left, the last result, the answer."""

    def __init__(self, operands: tuple[int, ...]):
        self.left = Counter(operands)
        self.result: int | None = None
        self.answered = False

    def _take(self, terms: tuple[int, ...]) -> bool:
        need = Counter(terms)
        if any(self.left[t] < k for t, k in need.items()):
            return False
        self.left -= need
        return True

    def sum(self, terms: tuple[int, ...], value: int) -> tuple[bool, str]:
        if self.result is None:
            builds = len(terms) == 2 and self._take(terms)
            reason, done = "does not start from two of the operands", "adds two operands"
        else:
            builds = len(terms) == 2 and terms[0] == self.result and self._take(terms[1:])
            reason = "does not add one more operand to the step before"
            done = "adds one more operand to the step before"
        self.result = value
        if not builds:
            return False, reason
        if sum(terms) != value:
            return False, f"{' + '.join(map(str, terms))} is not {value}"
        return True, done

    def answer(self, value: int) -> tuple[bool, str]:
        first, self.answered = not self.answered, True
        if not first:
            return False, "a second answer"
        if self.result is None or value != self.result:
            return False, "an answer the steps before it do not reach"
        if self.left:
            return False, "an answer before every operand is added"
        return True, "states the result of the steps"


def solution(situation: Situation, response: str) -> Solution:
    """``response`` to a ``multistep`` ``situation`` as labelled steps and a final answer."""
    if situation.family != "multistep":
        raise ValueError(f"situation: expected the multistep family, got {situation.family!r}")
    p = situation.params
    chain = _Chain((p["a"], p["b"], p["c"]))
    words = response.split()
    steps, seen, answers, results, kind = [], set(), [], [], None
    for sentence, end in _sentences(response):
        if sentence in _FILLERS or sentence in seen:
            continue  # padding: the gold's reading, not a step
        seen.add(sentence)
        kind, *rest = classify(sentence)
        if kind == "eq":
            ok, reason = chain.sum(*rest)
            results.append(rest[1])
        elif kind == "answer":
            ok, reason = chain.answer(rest[0])
            answers.append(rest[0])
        else:
            ok, reason = False, f"not a step: {sentence!r}"
        steps.append(Step(sentence, " ".join(words[:end]), ok, reason))
    if not steps:
        steps.append(Step(" ".join(words), " ".join(words), False, "no step"))
    elif kind == "eq" and not answers:
        ok, reason = chain.answer(results[-1])
        text = f"the answer is {results[-1]}"
        steps.append(Step(text, f"{' '.join(words)} {text} .", ok, f"implied: {reason}"))
    final = answers[0] if answers else (results[-1] if results else None)
    return Solution(tuple(steps), final)


@dataclass(frozen=True)
class Graded:
    """A solution read as steps, with the outcome gold's judgement of the whole."""

    solution: Solution
    judgement: Judgement

    @property
    def right_answer(self) -> bool:
        """The final answer is right (the gold reads it: malformed text has none)."""
        return self.judgement.category in RIGHT_ANSWER

    @property
    def fully_correct(self) -> bool:
        """Right steps and right answer (the gold's ``correct``, padded or not)."""
        return self.judgement.category == "correct"


def grade(situation: Situation, response: str) -> Graded:
    """``response`` read as labelled steps (:func:`solution`) and judged by the gold."""
    return Graded(solution(situation, response), judge_situation(situation, response))
