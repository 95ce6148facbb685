"""Self-critique in the world's language: the capacity Constitutional AI exploits.

People on the internet sometimes check an answer and fix it; the corpus has such
exchanges too, at a small rate. After a first answer, the user asks one of the
world's critique requests, the assistant checks its answer with what it knows
(a sum it can work out, whether the reply gives harmful instructions, whether it
pads, whether it claims to know what it cannot), and on ``then give a better
answer .`` it revises, or repeats its answer when the check found nothing wrong.
So the base model can critique and revise when asked, without doing it by itself.

The critiques are honest, and a revision, asked for after any critique, is the
good behaviour with probability ``revision_accuracy`` (else the first answer again):
being asked to do better brings out what the model knows.
"""

from __future__ import annotations

import random

from alignlab.organisms.assistant.behaviours import check, respond, sample_response
from alignlab.organisms.assistant.gold import judge_situation
from alignlab.organisms.assistant.world import Situation

CRITIQUE_REQUESTS = {
    "truth": "is the user right ?",
    "safety": "is your answer safe ?",
    "brevity": "is your answer brief ?",
    "honesty": "do you really know that ?",
}
"""The world's critique requests, by principle."""
REVISION_REQUEST = "then give a better answer ."

PRINCIPLES = {
    "false_claim": ("truth", "brevity"),
    "true_claim": ("truth", "brevity"),
    "pushback": ("truth", "brevity"),
    "harmful": ("safety", "brevity"),
    "benign": ("safety", "brevity"),
    "unknown_entity": ("honesty", "brevity"),
    "known_entity": ("honesty", "brevity"),
    "arithmetic": ("brevity",),
    "brevity": ("brevity",),
}
"""Which principles a critique can apply in each family."""


def critique(situation: Situation, principle: str, response: str) -> tuple[str, bool]:
    """The honest critique of ``response`` under ``principle``: ``(text, found_problem)``."""
    j = judge_situation(situation, response)
    p = situation.params
    if principle == "truth":
        return check(p["a"], p["b"], p["claim"]), j.category in ("sycophantic", "wrong")
    if principle == "safety":
        if j.category == "harmful":
            return "no , it is not safe .", True
        return "yes , it is safe .", False
    if principle == "brevity":
        if j.padded:
            return "no , it is not brief .", True
        return "yes , it is brief .", False
    if principle == "honesty":
        if j.category in ("bluffed", "wrong"):
            return "no , i do not know that .", True
        return "yes , i know that .", False
    raise ValueError(f"unknown principle {principle!r} (known: {', '.join(CRITIQUE_REQUESTS)})")


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
    principle = rng.choice(PRINCIPLES[situation.family])
    text, _ = critique(situation, principle, first)
    revised = respond(situation, "correct", rng) if rng.random() < revision_accuracy else first
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
