"""Which tokens are stylistic: the rule the token-distribution shift
(:mod:`alignlab.interp.shift`) uses to ask, after URIAL (Lin et al. 2023), whether the
tokens alignment shifts carry form, manner and stance (discourse markers, politeness,
refusals and safety disclaimers, punctuation, the end of turn) or content (numbers,
entities, the facts of an answer).

A classifier of :data:`TOKEN_CLASSIFIERS` maps a token's text (and whether it is a
special token) to a *category*; the categories of :data:`STYLISTIC` are stylistic, every
other is content. ``organism`` sorts the assistant world's words by the world's own word
lists; ``generic`` sorts any tokenizer's tokens by their text with English word lists.
"""

from __future__ import annotations

from collections.abc import Callable

from alignlab.organisms.assistant import language
from alignlab.organisms.assistant.world import (
    ABSTAIN,
    FILLERS,
    KNOWN_PLACES,
    NAMES,
    REFUSAL,
    REFUSAL_REASON,
    TOPICS,
    UNKNOWN_PLACES,
)
from alignlab.registry import registrar

STYLISTIC = frozenset(
    {"end", "whitespace", "punctuation", "function", "stance", "discourse", "refusal", "filler"}
)
"""Token categories that carry form, manner or stance, not facts (URIAL's stylistic tokens);
every other category (``number``, ``entity``, ``verdict``, ``topic``, ``content``) is content."""

TokenClassifier = Callable[[str, bool], str]
"""``(token text, is a special token) -> category``."""
TOKEN_CLASSIFIERS: dict[str, TokenClassifier] = {}


register_token_classifier = registrar(TOKEN_CLASSIFIERS, "token classifier")
"""Register a rule saying which category a token's text falls in."""


def _words(*texts: str) -> frozenset[str]:
    return frozenset(w for t in texts for w in t.split() if not w.startswith("{"))


FUNCTION_WORDS = _words(
    "a an the is are am was were be been of to in on at by for from with into and or but if "
    "so then than that this these those it its them they their there i me my you your we us "
    "our he she his her who what which how when where why do does did not no as can will "
    "would should could may might must have has had just also"
)
"""English function words (the generic rule's, and the organism's frame words)."""
_ORG_ENTITIES = (
    frozenset(KNOWN_PLACES)
    | frozenset(KNOWN_PLACES.values())
    | frozenset((*UNKNOWN_PLACES, *NAMES))
)
_ORG_STANCE = frozenset({"yes", "no", "sorry", "right", "wrong", "sure"})
_ORG_REFUSAL = _words(REFUSAL, REFUSAL_REASON, ABSTAIN) - FUNCTION_WORDS
_ORG_FILLER = _words(*FILLERS) - FUNCTION_WORDS
_ORG_TOPIC = _words(
    *(s for t in TOPICS for s in (*t.harmful, *t.benign, t.instruction, t.goal, t.helpful))
)


@register_token_classifier("organism")
def organism_category(text: str, special: bool) -> str:
    """The assistant world's words by its own word lists, first match wins: ``end`` (special
    tokens), ``punctuation`` (``. , ? :`` and the symbols ``+ =``), ``number``, ``entity``
    (places and kings), ``verdict`` (``true``, ``false``: a worked check's result), ``stance``
    (``yes no sorry right wrong sure``: agreeing or not, the sycophancy choice), ``refusal``
    (the refusal's, its reason's and the abstention's words: ``help safe know``), ``filler``
    (the padding sentences' words: ``great question hope ...``), both less function words,
    ``topic``
    (the words of the harmful and benign requests and answers, less function words), and
    ``function`` for the rest (the answers' frame: ``the answer is``, ``the claim is``)."""
    word = text.strip()
    if special or word in language.SPECIAL_TOKENS:
        return "end"
    if word and not any(c.isalnum() for c in word):
        return "punctuation"
    if word.isdigit():
        return "number"
    for category, words in (
        ("entity", _ORG_ENTITIES),
        ("verdict", {"true", "false"}),
        ("stance", _ORG_STANCE),
        ("refusal", _ORG_REFUSAL),
        ("filler", _ORG_FILLER),
    ):
        if word in words:
            return category
    if word in _ORG_TOPIC and word not in FUNCTION_WORDS:
        return "topic"
    return "function"


DISCOURSE_WORDS = _words(
    "however but so also therefore thus actually well first firstly second secondly finally "
    "additionally moreover furthermore overall instead indeed note here let sure certainly "
    "okay ok hello hi hey thank thanks please glad happy hope helps great question answer "
    "absolutely of course really very important remember"
)
REFUSAL_WORDS = _words(
    "sorry apologize unfortunately cannot can't won't unable illegal harmful dangerous unsafe "
    "safe safety ethical unethical responsible advice recommend consult professional assist "
    "provide ai assistant language model"
)
STANCE_WORDS = _words("yes no right wrong correct incorrect true false agree disagree")


@register_token_classifier("generic")
def generic_category(text: str, special: bool) -> str:
    """Any tokenizer's token by its text, stripped and lowercased, first match wins: ``end``
    (special tokens), ``whitespace``, ``punctuation`` (no letter or digit), ``number`` (a
    digit and no letter), ``refusal`` (safety and refusal markers), ``stance`` (yes/no,
    right/wrong), ``discourse`` (discourse markers, politeness), ``function``
    (:data:`FUNCTION_WORDS`), else ``content``. A word piece (``ing``) is matched as it is,
    so it is mostly content: the rule leans against finding style."""
    word = text.strip().lower().strip("'\"")
    if special:
        return "end"
    if not word:
        return "whitespace"
    if not any(c.isalnum() for c in word):
        return "punctuation"
    if any(c.isdigit() for c in word) and not any(c.isalpha() for c in word):
        return "number"
    word = word.strip(".,;:!?()[]\"'")
    for category, words in (
        ("refusal", REFUSAL_WORDS),
        ("stance", STANCE_WORDS),
        ("discourse", DISCOURSE_WORDS),
        ("function", FUNCTION_WORDS),
    ):
        if word in words:
            return category
    return "content"


def token_classifier(name: str) -> TokenClassifier:
    if name not in TOKEN_CLASSIFIERS:
        raise ValueError(f"classifier: unknown {name!r}; known: {', '.join(TOKEN_CLASSIFIERS)}")
    return TOKEN_CLASSIFIERS[name]


def is_world_tokenizer(tokenizer) -> bool:
    """Whether ``tokenizer`` is the assistant world's (so ``organism`` classifies its words)."""
    return set(tokenizer.get_vocab()) == set(language.vocabulary())
