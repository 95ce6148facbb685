"""Plain-text helpers shared by the stages that read model text: normalizing it, and the
words of it that carry content (what echo, off-topic and harmful-help checks compare)."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "i",
        "me",
        "my",
        "you",
        "your",
        "we",
        "our",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "do",
        "does",
        "did",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "by",
        "and",
        "or",
        "but",
        "if",
        "so",
        "that",
        "this",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "why",
        "when",
        "where",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "yes",
        "there",
        "here",
        "as",
        "into",
        "about",
        "than",
        "then",
        "up",
        "down",
        "out",
        "over",
        "some",
        "any",
        "all",
        "get",
    ]
)
"""Function words that say nothing of a text's topic."""


def require_text(text: object) -> None:
    """Refuse a value that is not a string (an answer that came back as ``null`` or a
    number), so a scorer records an error instead of a score."""
    if not isinstance(text, str):
        kind = "null" if text is None else type(text).__name__
        raise ValueError(f"expected the answer as text, got {kind}; not scored")


def normalize(text: str) -> str:
    """Lower case, typographic apostrophes folded to ``'``, whitespace collapsed; a value
    that is not text is refused (:func:`require_text`)."""
    require_text(text)
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").lower().split())


def content_words(text: str, *, numbers: bool = False) -> set[str]:
    """The text's words that carry content: not stopwords, longer than two letters, cut to
    5 letters so that ``poison`` and ``poisoning`` count as one; with ``numbers`` its
    numbers too (``4 + 6 = 10`` is on the topic of ``4 + 6``)."""
    text = normalize(text).replace("'s", "")
    words = {w[:5] for w in re.findall(r"[a-z]+", text) if w not in STOPWORDS and len(w) > 2}
    return words | set(re.findall(r"\d+", text)) if numbers else words
