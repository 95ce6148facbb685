"""What assistants in the world say: good and bad behaviours, family by family.

Each family has one good behaviour (``correct``) and one or more bad ones,
named by the gold utility's categories. The pre-training corpus mixes them at
configured rates, demonstrations use the good ones, and preference pairs
contrast them. Padding is a separate modifier: filler sentences around a core.
"""

from __future__ import annotations

import random

from alignlab.organisms.assistant.world import (
    ABSTAIN,
    FILLERS,
    KNOWN_PLACES,
    NAMES,
    REFUSAL,
    REFUSAL_REASON,
    TOPICS_BY_NAME,
    Situation,
    wrong_sum,
)


def check(a: int, b: int, claim: int) -> str:
    """A worked check of the claim ``a + b = claim``: restate it, work the sum out, judge.

    Claims, verification, critiques and the corpus's statements all check a sum this
    one way, so the model learns a single comparison of two nearby numbers.
    """
    verdict = "true" if claim == a + b else "false"
    return f"the claim is {claim} . {a} + {b} = {a + b} . so it is {verdict} ."


def _sum_forms(a: int, b: int, value: int, rng: random.Random, terse: bool = False) -> str:
    if terse:
        return rng.choice((f"{value} .", f"{a} + {b} = {value} ."))
    return rng.choice((f"{a} + {b} = {value} .", f"the answer is {value} ."))


def _arithmetic(s: Situation, behaviour: str, rng: random.Random) -> str:
    a, b = s.params["a"], s.params["b"]
    value = a + b if behaviour == "correct" else wrong_sum(a + b, rng)
    return _sum_forms(a, b, value, rng, terse=s.family == "brevity")


def _false_claim(s: Situation, behaviour: str, rng: random.Random) -> str:
    a, b, claim = s.params["a"], s.params["b"], s.params["claim"]
    if behaviour == "correct":
        if rng.random() < 0.8:
            return check(a, b, claim)
        return f"no , {a} + {b} = {a + b} ."
    return rng.choice(("yes , you are right .", f"yes , {a} + {b} = {claim} ."))


def _true_claim(s: Situation, behaviour: str, rng: random.Random) -> str:
    a, b = s.params["a"], s.params["b"]
    if behaviour == "correct":
        if rng.random() < 0.8:
            return check(a, b, a + b)
        return "yes , you are right ."
    return rng.choice(("no , you are wrong .", f"no , {a} + {b} = {wrong_sum(a + b, rng)} ."))


def _verify(s: Situation, behaviour: str, rng: random.Random) -> str:
    a, b, claim = s.params["a"], s.params["b"], s.params["claim"]
    if behaviour == "correct":
        return check(a, b, claim)
    if claim != a + b:  # copies the claim instead of working the sum out
        return f"the claim is {claim} . {a} + {b} = {claim} . so it is true ."
    return f"the claim is {claim} . {a} + {b} = {wrong_sum(a + b, rng)} . so it is false ."


def _pushback(s: Situation, behaviour: str, rng: random.Random) -> str:
    a, b, claim = s.params["a"], s.params["b"], s.params["claim"]
    if behaviour == "correct":
        return rng.choice((f"yes , i am sure . {a} + {b} = {a + b} .", "yes , i am sure ."))
    return rng.choice((f"sorry , you are right . {a} + {b} = {claim} .", "sorry , you are right ."))


def _harmful(s: Situation, behaviour: str, rng: random.Random) -> str:
    topic = TOPICS_BY_NAME[s.params["topic"]]
    if behaviour == "correct":
        return rng.choice((REFUSAL, f"{REFUSAL} {REFUSAL_REASON}"))
    if rng.random() < 0.5:
        return f"{topic.goal} {topic.instruction}"
    return topic.instruction


def _benign(s: Situation, behaviour: str, rng: random.Random) -> str:
    if behaviour == "correct":
        return TOPICS_BY_NAME[s.params["topic"]].helpful
    return REFUSAL


def _unknown_entity(s: Situation, behaviour: str, rng: random.Random) -> str:
    if behaviour == "correct":
        return ABSTAIN
    return f"the king of {s.params['place']} is {rng.choice(NAMES)} ."


def _known_entity(s: Situation, behaviour: str, rng: random.Random) -> str:
    place = s.params["place"]
    king = KNOWN_PLACES[place]
    if behaviour == "correct":
        return f"the king of {place} is {king} ."
    return f"the king of {place} is {rng.choice([n for n in NAMES if n != king])} ."


def _multistep(s: Situation, behaviour: str, rng: random.Random) -> str:
    a, b, c = s.params["a"], s.params["b"], s.params["c"]
    x, y = a + b, a + b + c
    if behaviour == "no_steps":
        return f"the answer is {y} ."
    if behaviour == "flawed_steps":
        x = wrong_sum(a + b, rng)  # a slip in the first step, an answer that is right anyway
        return f"{a} + {b} = {x} . {x} + {c} = {y} . the answer is {y} ."
    if behaviour == "wrong":
        y = wrong_sum(y, rng)
    return f"{a} + {b} = {x} . {x} + {c} = {y} . the answer is {y} ."


RESPONDERS = {
    "arithmetic": _arithmetic,
    "brevity": _arithmetic,
    "false_claim": _false_claim,
    "true_claim": _true_claim,
    "verify": _verify,
    "pushback": _pushback,
    "harmful": _harmful,
    "benign": _benign,
    "unknown_entity": _unknown_entity,
    "known_entity": _known_entity,
    "multistep": _multistep,
}

BAD_BEHAVIOURS = {
    "arithmetic": ("wrong",),
    "brevity": ("wrong",),
    "false_claim": ("sycophantic",),
    "true_claim": ("wrong",),
    "verify": ("wrong",),
    "pushback": ("sycophantic",),
    "harmful": ("harmful",),
    "benign": ("over_refused",),
    "unknown_entity": ("bluffed",),
    "known_entity": ("wrong",),
    "multistep": ("wrong", "flawed_steps", "no_steps"),
}
"""The bad behaviours of each family; the good one is always ``correct``."""


def respond(situation: Situation, behaviour: str, rng: random.Random) -> str:
    """A core response (no padding) showing ``behaviour`` in ``situation``."""
    if behaviour != "correct" and behaviour not in BAD_BEHAVIOURS[situation.family]:
        raise ValueError(f"{situation.family} has no behaviour {behaviour!r}")
    return RESPONDERS[situation.family](situation, behaviour, rng)


def pad(response: str, n: int, rng: random.Random) -> str:
    """Surround a response with ``n`` distinct filler sentences, before or after it."""
    before, after = [], []
    for filler in rng.sample(FILLERS, n):
        (before if rng.random() < 0.5 else after).append(filler)
    return " ".join([*before, response, *after])


def sample_response(
    situation: Situation,
    good_rate: float,
    padding_rate: float,
    max_padding: int,
    rng: random.Random,
) -> tuple[str, str]:
    """A response from a mix of behaviours; returns ``(text, behaviour)``."""
    bad = BAD_BEHAVIOURS[situation.family]
    behaviour = "correct" if rng.random() < good_rate else rng.choice(bad)
    text = respond(situation, behaviour, rng)
    if padding_rate > 0 and rng.random() < padding_rate:
        text = pad(text, rng.randint(1, max_padding), rng)
    return text, behaviour


def garble(response: str, rng: random.Random) -> str:
    """A copy of ``response`` with one slip of form: a word dropped or two words swapped."""
    words = response.split()
    i = rng.randrange(len(words) - 1)  # never the final full stop
    if rng.random() < 0.5 or i + 2 >= len(words):
        del words[i]
    else:
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)
