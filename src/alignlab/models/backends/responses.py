"""Reading a chat-completions response into a :class:`~alignlab.models.backends.base.Completion`.

A response is read only when every field the completion takes has its documented
type: ``choices`` a non-empty list of objects, each ``message`` an object whose
``content`` is a string, ``finish_reason`` a string or ``null``, ``index`` an
integer. Anything else is an :class:`InvalidResponse` naming the field and what
it held, so the sample is recorded with that cause and never scored; in
particular an answer whose ``content`` is ``null``, missing, or not a string is
never read as an empty reply.

An answer the provider withheld is no answer either: a ``finish_reason`` in
:data:`WITHHELD_FINISH_REASONS` (a content filter and the like), or a ``refusal``
field in place of content, is an :class:`InvalidResponse` naming that finish
reason. ``finish_reason="length"`` (the answer hit ``max_tokens``) is an answer,
and stays visible on :attr:`Completion.finish_reasons` and in each record's calls.

A completion is cut where the first of the request's stop strings appears in it, so its
text never holds one, whatever the server did with ``stop``: OpenAI's API and vLLM leave
the stop string out, ``transformers serve`` leaves it at the end of the content, and a
server that ignores ``stop`` writes past it. :attr:`Completion.stopped_at` names the stop
string a completion was cut at (also when the server left it out but named it, as vLLM's
``stop_reason`` does), so a caller can rebuild the tokens that were sampled.

The caller validates a response before caching it, so a cache never holds one
that cannot be read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from alignlab.models.backends.base import Completion
from alignlab.models.backends.retries import EndpointError

WITHHELD_FINISH_REASONS = frozenset(
    {
        "content_filter",  # OpenAI, Azure OpenAI, Gemini's OpenAI-compatible API
        "refusal",  # Anthropic's stop reason, as OpenAI-compatible proxies pass it on
        "safety",
        "prohibited_content",
        "blocklist",
        "spii",
        "recitation",
        "error",  # OpenRouter and some vLLM versions: generation failed mid-way
    }
)
"""Finish reasons by which a provider says it withheld or lost the model's answer."""


class InvalidResponse(EndpointError):
    """A response that arrived (HTTP 2xx) but holds no answer to score.

    ``withheld`` is the finish reason (or ``"refusal"``) when the provider withheld
    the answer, ``None`` when the response is malformed.
    """

    def __init__(self, message: str, withheld: str | None = None):
        self.withheld = withheld
        super().__init__(message)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _choice_text(i: int, choice: Any, redact: Callable[[str], str]) -> tuple[str, str | None]:
    """One choice's ``(text, finish_reason)``, or an :class:`InvalidResponse` saying why not."""
    where = f"choices[{i}]"
    if not isinstance(choice, dict):
        raise InvalidResponse(f"{where}: expected an object, got {_kind(choice)}")
    reason = choice.get("finish_reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidResponse(f"{where}.finish_reason: expected a string, got {_kind(reason)}")
    if reason in WITHHELD_FINISH_REASONS:
        raise InvalidResponse(
            f"{where}.finish_reason is {reason!r}: the provider withheld the answer; "
            "recorded as an error, not scored",
            withheld=reason,
        )
    message = choice.get("message")
    if not isinstance(message, dict):
        raise InvalidResponse(f"{where}.message: expected an object, got {_kind(message)}")
    content = message.get("content")
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal and not (isinstance(content, str) and content):
        shown = redact(refusal)[:200]
        raise InvalidResponse(
            f"{where}.message.refusal is set in place of content ({shown!r}): the provider "
            "withheld the answer; recorded as an error, not scored",
            withheld="refusal",
        )
    if "content" not in message:
        raise InvalidResponse(f"{where}.message has no content (finish_reason {reason!r})")
    if not isinstance(content, str):
        raise InvalidResponse(
            f"{where}.message.content: expected a string, got {_kind(content)} "
            f"(finish_reason {reason!r}); not scored as an empty reply"
        )
    return redact(content), reason


def _index(i: int, choice: dict[str, Any]) -> int:
    index = choice.get("index", i)
    if not isinstance(index, int) or isinstance(index, bool):
        raise InvalidResponse(f"choices[{i}].index: expected an integer, got {_kind(index)}")
    return index


def cut_at_stop(
    text: str, reason: str | None, stop: Sequence[str], stop_reason: Any = None
) -> tuple[str, str | None, str | None]:
    """``(text, finish_reason, stop string)`` of a choice: ``text`` up to the first of ``stop``
    that appears in it (finishing with ``"stop"``), else as it came, with the stop string the
    server named in ``stop_reason`` when it is one of ``stop``."""
    hits = [(text.find(s), i) for i, s in enumerate(stop) if s in text]
    if hits:
        at, i = min(hits)
        return text[:at], "stop", stop[i]
    named = stop_reason if isinstance(stop_reason, str) and stop_reason in stop else None
    return text, reason, named


def read_completion(
    response: Any,
    *,
    n: int,
    model: str,
    cached: bool,
    redact: Callable[[str], str],
    stop: Sequence[str] = (),
) -> Completion:
    """The completion in ``response``, with ``n`` choices; :class:`InvalidResponse` if none.

    ``model`` names the model when the response does not; ``redact`` removes the API
    key from every text taken from the response; each text is cut at the first of the
    request's ``stop`` strings (see the module docstring).
    """
    if not isinstance(response, dict):
        raise InvalidResponse(f"the response is {_kind(response)}, not a JSON object")
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        error = response.get("error")
        said = f"; it says: {redact(str(error))[:300]}" if error else ""
        if choices is None:
            shown = "no choices"
        elif choices == []:
            shown = "an empty list of choices"
        else:
            shown = f"choices that are {_kind(choices)}, not a list"
        raise InvalidResponse(f"the response has {shown}{said}")
    if len(choices) != n:
        raise InvalidResponse(
            f"asked for n={n} completions, the endpoint returned {len(choices)}; "
            "send n separate requests with n=1 instead"
        )
    stop = tuple(stop)
    read = [
        cut_at_stop(*_choice_text(i, choice, redact), stop, choice.get("stop_reason"))
        for i, choice in enumerate(choices)
    ]
    order = sorted(range(len(choices)), key=lambda i: _index(i, choices[i]))
    usage = response.get("usage")
    served = response.get("model")
    return Completion(
        texts=tuple(read[i][0] for i in order),
        finish_reasons=tuple(read[i][1] for i in order),
        stopped_at=tuple(read[i][2] for i in order),
        cached=cached,
        model=served if isinstance(served, str) and served else model,
        usage={
            k: v
            for k, v in (usage.items() if isinstance(usage, dict) else ())
            if isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        },
    )


def first_token_logprobs(response: dict[str, Any]) -> list[tuple[str, float]]:
    """``(token, logprob)`` pairs for the first generated token; empty when none came back.

    ``response`` has passed :func:`read_completion`; the ``logprobs`` part is optional
    and read leniently: entries of the wrong shape are skipped.
    """
    logprobs = response["choices"][0].get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        return []
    first = content[0]
    alternatives = first.get("top_logprobs")
    pairs: dict[str, float] = {}
    for entry in [*(alternatives if isinstance(alternatives, list) else []), first]:
        if not isinstance(entry, dict):
            continue
        token, logprob = entry.get("token"), entry.get("logprob")
        if (
            isinstance(token, str)
            and isinstance(logprob, int | float)
            and not isinstance(logprob, bool)
            and math.isfinite(logprob)
        ):
            pairs.setdefault(token, min(float(logprob), 0.0))
    return list(pairs.items())


def redact_json(value: Any, redact: Callable[[str], str]) -> Any:
    """``value`` (parsed JSON) with ``redact`` applied to every string in it, keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_json(v, redact) for v in value]
    if isinstance(value, dict):
        return {
            redact(k) if isinstance(k, str) else k: redact_json(v, redact) for k, v in value.items()
        }
    return value
