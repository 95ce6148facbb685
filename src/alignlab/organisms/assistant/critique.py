"""Self-critique in the world's language: the capacity Constitutional AI exploits.

People on the internet sometimes check an answer and fix it; the corpus has such
exchanges too, at a small rate. After a first answer, the user asks one of the
world's critique requests, the assistant checks its answer with what it knows
(a sum it can work out, whether the reply gives harmful instructions, whether it
pads, whether it claims to know what it cannot), and on ``then give a better
answer .`` it revises. So the base model can critique and revise when asked,
without doing it by itself.

Every request applies to every family. ``is the user right ?`` works the user's
claim out in the world's worked-check format (``the claim is 9 . 3 + 4 = 7 . so it
is false .``) where the user states one (claims, verification, pushback); where the
user states none, it is answered as ``do you really know that ?`` is.

The critiques are honest, and a revision, asked for after any critique, is the
good behaviour with probability ``revision_accuracy`` (else the first answer again):
being asked to do better brings out what the model knows. The good revision is
written the way a small model can write it, from what is near at hand: after a
worked check of a claim, the check itself; after a first answer that was already
good, that answer; otherwise a good answer afresh.
"""

from __future__ import annotations

import random

from alignlab.organisms.assistant.behaviours import check, respond, sample_response
from alignlab.organisms.assistant.gold import judge_situation
from alignlab.organisms.assistant.world import FAMILIES, Situation

CRITIQUE_REQUESTS = {
    "truth": "is the user right ?",
    "safety": "is your answer safe ?",
    "brevity": "is your answer brief ?",
    "honesty": "do you really know that ?",
}
"""The world's critique requests, by principle."""
REVISION_REQUEST = "then give a better answer ."

CLAIMS = ("false_claim", "true_claim", "verify", "pushback")
"""Families in which the user states a claim the truth critique works out."""
CHECKED = ("false_claim", "true_claim", "verify")
"""Families whose best answer is the worked check of the claim itself."""
PRINCIPLES = {family: tuple(CRITIQUE_REQUESTS) for family in FAMILIES}
"""Which principles a critique can apply in each family (all of them, everywhere)."""
TRUTH_SHARE = 0.5
"""Where the user states a claim, this share of exchanges asks ``is the user right ?`` (the
rest draw uniformly from every principle): working a claim out, copying the operands from
the prompt, is the hardest critique to learn, and the one sycophancy needs."""


def critique(situation: Situation, principle: str, response: str) -> tuple[str, bool]:
    """The honest critique of ``response`` under ``principle``: ``(text, found_problem)``."""
    j = judge_situation(situation, response)
    p = situation.params
    if principle == "truth" and situation.family in CLAIMS:
        return check(p["a"], p["b"], p["claim"]), j.category in ("sycophantic", "wrong")
    if principle == "safety":
        if j.category == "harmful":
            return "no , it is not safe .", True
        return "yes , it is safe .", False
    if principle == "brevity":
        if j.padded:
            return "no , it is not brief .", True
        return "yes , it is brief .", False
    if principle in ("honesty", "truth"):
        if j.category in ("bluffed", "wrong"):
            return "no , i do not know that .", True
        return "yes , i know that .", False
    raise ValueError(f"unknown principle {principle!r} (known: {', '.join(CRITIQUE_REQUESTS)})")


def better_answer(
    situation: Situation, principle: str, first: str, critique_text: str, rng: random.Random
) -> str:
    """The good behaviour a revision gives (see the module docstring)."""
    if principle == "truth" and situation.family in CHECKED:
        return critique_text
    j = judge_situation(situation, first)
    if j.category == "correct" and not j.padded:
        return first
    return respond(situation, "correct", rng)


def revision_document(
    situation: Situation,
    good_rate: float,
    padding_rate: float,
    max_padding: int,
    revision_accuracy: float,
    rng: random.Random,
) -> list[dict]:
    """A whole exchange: prompt, first answer, critique request and critique, revision."""
    first, _ = sample_response(situation, good_rate, padding_rate, max_padding, rng)
    if situation.family in CLAIMS and rng.random() < TRUTH_SHARE:
        principle = "truth"
    else:
        principle = rng.choice(PRINCIPLES[situation.family])
    text, _ = critique(situation, principle, first)
    if rng.random() < revision_accuracy:
        revised = better_answer(situation, principle, first, text, rng)
    else:
        revised = first
    prompt = situation.prompt()
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    return [
        *messages,
        {"role": "assistant", "content": first},
        {"role": "user", "content": CRITIQUE_REQUESTS[principle]},
        {"role": "assistant", "content": text},
        {"role": "user", "content": REVISION_REQUEST},
        {"role": "assistant", "content": revised},
    ]
