"""The generation protocol that evaluation and AI feedback call models through.

A :class:`Backend` turns :class:`GenerationRequest` s into :class:`Completion` s and
turns a multiple-choice prompt into :class:`OptionProbs`, the normalized
probabilities of options such as ``"(A)"`` and ``"(B)"`` (Bai et al. 2022 label
AI-feedback comparisons this way). A local HF model and an OpenAI-compatible
endpoint implement the same protocol, so an evaluation runs the same on both.

Option probabilities come from one of two methods:

- ``"logprobs"``: the probabilities of the first generated token. A token counts
  towards an option when the token, stripped of whitespace, is a non-empty prefix
  of exactly one option (also stripped), so ``" (A"`` and ``"(A)"`` both count for
  ``"(A)"``. Tokens that match several options (``"("`` for ``"(A)"`` and
  ``"(B)"``) or none are left out; several tokens matching one option add up.
- ``"votes"``: sampled completions, each voting for the option its stripped text
  begins with. An option ending in a letter or digit must be followed by a
  non-alphanumeric character or the end, so ``"As an AI"`` is no vote for ``"A"``;
  when several options match, the longest wins.
"""

from __future__ import annotations

import asyncio
import json
import math
import zlib
from collections.abc import Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import numpy as np

from alignlab.data.records import ROLES, Message, Text

OptionMethod = Literal["logprobs", "votes"]
T = TypeVar("T")


def as_messages(prompt: Text) -> list[Message]:
    """The chat-message list of a prompt; a string is one user message.

    Raises ``ValueError`` naming the first thing wrong with the prompt.
    """
    if isinstance(prompt, str):
        if not prompt.strip():
            raise ValueError("prompt: empty text")
        return [{"role": "user", "content": prompt}]
    if not isinstance(prompt, list) or not prompt:
        raise ValueError(
            f"prompt: expected a string or a non-empty message list, got {prompt!r:.80}"
        )
    for i, message in enumerate(prompt):
        if not isinstance(message, dict):
            raise ValueError(
                f"prompt[{i}]: expected a message object, got {type(message).__name__}"
            )
        if message.get("role") not in ROLES:
            raise ValueError(
                f"prompt[{i}].role: {message.get('role')!r} is not one of {sorted(ROLES)}"
            )
        if not isinstance(message.get("content"), str):
            raise ValueError(f"prompt[{i}].content: expected a string")
    return [{"role": m["role"], "content": m["content"]} for m in prompt]


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One prompt to complete, with its sampling settings."""

    prompt: Text
    """A string (one user message) or a chat-message list."""
    max_new_tokens: int = 256
    """Most tokens to generate per completion."""
    temperature: float = 0.0
    """Sampling temperature; 0 is greedy decoding."""
    top_p: float = 1.0
    """Nucleus-sampling mass, in (0, 1]."""
    seed: int | None = None
    """Sampling seed; backends that support one make sampled completions repeatable."""
    stop: tuple[str, ...] = ()
    """Strings that end a completion where they first appear (not included)."""
    n: int = 1
    """Completions to sample for this prompt."""

    def __post_init__(self) -> None:
        as_messages(self.prompt)
        if isinstance(self.stop, str):
            raise ValueError(f"stop: expected a sequence of strings, got the string {self.stop!r}")
        object.__setattr__(self, "stop", tuple(self.stop))
        if not all(isinstance(s, str) and s for s in self.stop):
            raise ValueError(
                f"stop: every stop sequence must be a non-empty string, got {self.stop}"
            )
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens: must be at least 1, got {self.max_new_tokens}")
        if not self.temperature >= 0.0:  # also refuses NaN
            raise ValueError(f"temperature: must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p: must be in (0, 1], got {self.top_p}")
        if self.n < 1:
            raise ValueError(f"n: must be at least 1, got {self.n}")

    @property
    def sampled(self) -> bool:
        """Whether repeating the request may give a different answer (sampling, no seed)."""
        return self.temperature > 0 and self.seed is None


@dataclass(frozen=True, slots=True)
class Completion:
    """The completions of one :class:`GenerationRequest`."""

    texts: tuple[str, ...]
    """The ``n`` completion texts, in sample order."""
    finish_reasons: tuple[str | None, ...]
    """Why each completion ended (``"stop"``, ``"length"``, ...), ``None`` when unknown."""
    cached: bool = False
    """Whether the completion was read from a response cache instead of generated."""
    model: str = ""
    """The model that produced it, as the backend names it."""
    usage: dict[str, int] = field(default_factory=dict)
    """Token counts as the backend reports them (``prompt_tokens``, ...); empty if unknown."""
    stopped_at: tuple[str | None, ...] = ()
    """Per completion, the stop string it was cut at (left out of its text), ``None`` where
    it ended otherwise or the backend could not tell; empty when the backend does not say."""

    @property
    def text(self) -> str:
        """The first completion's text."""
        return self.texts[0]


@dataclass(frozen=True, slots=True)
class OptionProbs:
    """A model's probabilities over answer options, normalized over the options."""

    options: tuple[str, ...]
    """The options, as given."""
    probs: tuple[float, ...]
    """One probability per option, summing to 1 (uniform when no option was seen)."""
    method: OptionMethod
    """``"logprobs"`` (first-token probabilities) or ``"votes"`` (sampled completions)."""
    coverage: float
    """Share of the model's answer that named an option before normalizing: the first
    token's probability mass on the options, or the fraction of votes that matched."""
    votes: int = 0
    """Completions sampled when ``method == "votes"``; 0 otherwise."""

    def __getitem__(self, option: str) -> float:
        try:
            return self.probs[self.options.index(option)]
        except ValueError:
            raise KeyError(f"{option!r} is not one of the options {list(self.options)}") from None

    @property
    def best(self) -> str:
        """The most probable option (the first one on ties)."""
        return self.options[max(range(len(self.probs)), key=self.probs.__getitem__)]


@runtime_checkable
class Backend(Protocol):
    """What evaluation and AI feedback need from a model."""

    @property
    def name(self) -> str:
        """A short name for reports, such as the model id and where it runs."""
        ...

    def generate(
        self, requests: Sequence[GenerationRequest], *, progress: bool = False
    ) -> list[Completion]:
        """One completion per request, in request order."""
        ...

    def option_probs(
        self, prompt: Text, options: Sequence[str], *, votes: int = 8, seed: int | None = None
    ) -> OptionProbs:
        """Probabilities that the answer to ``prompt`` begins with each option."""
        ...


def sample_seed(seed: int, request: GenerationRequest, sample: int) -> int:
    """The seed of sample ``sample`` of ``request``: from ``(seed, the request's own seed or a
    CRC of its prompt, sample)``, so a request's samples never depend on its batch."""
    own = request.seed
    if own is None:
        own = zlib.crc32(json.dumps(request.prompt, sort_keys=True).encode())
    return int(np.random.SeedSequence([seed, own, sample]).generate_state(1)[0] >> 1)


def sample_requests(
    requests: Sequence[GenerationRequest], n: int, *, temperature: float, seed: int
) -> list[GenerationRequest]:
    """``n`` requests of one sample each per request, at ``temperature``, seeded by
    :func:`sample_seed`: ``n`` samples from a server that ignores ``n``
    (``transformers serve``), the same whatever else is asked with them."""
    return [
        replace(r, temperature=temperature, seed=sample_seed(seed, r, k))
        for r in requests
        for k in range(n)
    ]


def check_options(options: Sequence[str]) -> tuple[str, ...]:
    """The options as a tuple, after checking there are two or more distinct ones."""
    if isinstance(options, str):
        raise ValueError(f"options: expected a sequence of strings, got the string {options!r}")
    options = tuple(options)
    if len(options) < 2:
        raise ValueError(f"options: need at least two, got {list(options)}")
    stripped = [o.strip() if isinstance(o, str) else "" for o in options]
    if not all(stripped):
        raise ValueError(f"options: every option must be a non-blank string, got {list(options)}")
    if len(set(stripped)) < len(stripped):
        raise ValueError(f"options: must differ after stripping whitespace, got {list(options)}")
    return options


def _normalized(weights: Sequence[float]) -> tuple[float, ...]:
    total = sum(weights)
    if total <= 0:
        return tuple(1.0 / len(weights) for _ in weights)
    return tuple(w / total for w in weights)


def first_token_probs(
    top_logprobs: Iterable[tuple[str, float]], options: Sequence[str]
) -> OptionProbs | None:
    """Option probabilities from the first generated token's ``(token, logprob)`` pairs.

    Returns ``None`` when no token matches exactly one option, so the caller can
    fall back to votes. The matching rule is in this module's docstring.
    """
    options = check_options(options)
    stripped = [o.strip() for o in options]
    mass = [0.0] * len(options)
    for token, logprob in top_logprobs:
        token = token.strip()
        hits = [i for i, option in enumerate(stripped) if token and option.startswith(token)]
        if len(hits) == 1:
            mass[hits[0]] += math.exp(logprob)
    if not any(mass):
        return None
    return OptionProbs(options, _normalized(mass), "logprobs", coverage=min(sum(mass), 1.0))


def vote_for(text: str, options: Sequence[str]) -> int | None:
    """Index of the option ``text`` begins with, or ``None`` (rule in the module docstring)."""
    text = text.lstrip()
    best = None
    for i, option in enumerate(o.strip() for o in options):
        if not text.startswith(option):
            continue
        rest = text[len(option) : len(option) + 1]
        if option[-1].isalnum() and rest.isalnum():
            continue
        if best is None or len(option) > len(options[best].strip()):
            best = i
    return best


def vote_probs(texts: Sequence[str], options: Sequence[str]) -> OptionProbs:
    """Option probabilities from sampled completions, one vote each."""
    options = check_options(options)
    if not texts:
        raise ValueError("texts: need at least one sampled completion to count votes")
    counts = [0] * len(options)
    for text in texts:
        choice = vote_for(text, options)
        if choice is not None:
            counts[choice] += 1
    return OptionProbs(
        options,
        _normalized(counts),
        "votes",
        coverage=sum(counts) / len(texts),
        votes=len(texts),
    )


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run an async backend's coroutine from synchronous code, and return its result.

    Where an event loop is already running (a notebook cell), the coroutine runs on
    its own loop in a worker thread while the caller blocks; async code should
    await the backend's async methods instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
