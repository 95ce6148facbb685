"""Posting one request to an OpenAI-compatible endpoint, retrying what a retry can fix.

Status 429 and 5xx, timeouts and connection errors are retried with exponential
backoff and jitter (:func:`backoff_seconds`), or after the server's ``Retry-After``
(:func:`retry_after_seconds`) unless it asks for more than :data:`RETRY_AFTER_LIMIT`;
any other 4xx fails at once with the server's own message. Each attempt runs under
a deadline (``deadline`` seconds for the whole request, headers and body), so a
server that dribbles its answer cannot hold a request longer than that. Every
failure is an :class:`EndpointError` whose text has passed through the caller's
``redact`` before it was shortened, so no part of the API key reaches it.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

RETRY_AFTER_LIMIT = 600.0
"""Seconds; a server asking to wait longer than this is reported, not waited for."""
BACKOFF_CAP = 60.0
"""Seconds; the longest wait between retries when the server gives no ``Retry-After``."""


class EndpointError(RuntimeError):
    """The endpoint refused a request, or kept failing through every retry."""

    def __init__(self, message: str, status: int | None = None):
        self.status = status
        super().__init__(message)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay seconds or an HTTP date.

    ``None`` when the header is absent or unreadable; a date in the past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if not math.isnan(seconds) else None


def backoff_seconds(attempt: int) -> float:
    """Wait before retry ``attempt`` (0-based) when the server names none.

    Exponential backoff with equal jitter: uniform in ``[d/2, d]`` with
    ``d = min(BACKOFF_CAP, 2**attempt)`` seconds, so clients that failed together
    do not all retry together.
    """
    ceiling = min(BACKOFF_CAP, 2.0**attempt)
    return random.uniform(ceiling / 2, ceiling)


async def post_with_retries(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    max_retries: int,
    redact: Callable[[str], str],
    sleep: Callable[[float], Awaitable[object]],
    deadline: float | None = None,
) -> dict[str, Any]:
    """One request's JSON response, after at most ``max_retries`` retries.

    ``deadline`` bounds each attempt as a whole, in seconds (``None``: only the
    client's own per-operation timeouts apply); ``redact`` removes secrets from any
    server text put into an error; ``sleep`` waits between attempts
    (``asyncio.sleep``, or a stand-in in tests).
    """
    for attempt in range(max_retries + 1):
        status, retry_after = None, None
        try:
            async with asyncio.timeout(deadline):
                response = await client.post(url, json=body)
        except TimeoutError:
            failure = f"no complete answer within the {deadline:g} s timeout"
        except httpx.TransportError as error:  # timeouts, refused and dropped connections
            failure = redact(f"{type(error).__name__}: {error}")
        else:
            status = response.status_code
            if status < 300:
                return read_json(response, redact)
            message = server_message(response, redact)
            if status != 429 and status < 500:
                raise EndpointError(f"{url} answered HTTP {status}: {message}", status)
            failure = f"HTTP {status}: {message}"
            retry_after = retry_after_seconds(response.headers.get("retry-after"))
        if attempt == max_retries:
            break
        wait = retry_after if retry_after is not None else backoff_seconds(attempt)
        if wait > RETRY_AFTER_LIMIT:
            raise EndpointError(
                f"{url} asked to retry after {wait:.0f} s, more than the "
                f"{RETRY_AFTER_LIMIT:.0f} s alignlab waits; last failure: {failure}",
                status,
            )
        await sleep(wait)
    raise EndpointError(f"{url} failed {max_retries + 1} times; last failure: {failure}", status)


def read_json(response: httpx.Response, redact: Callable[[str], str]) -> dict[str, Any]:
    """A successful response's body, which must be a JSON object."""
    try:
        data = response.json()
    except ValueError:
        raise EndpointError(
            f"{response.url} answered HTTP {response.status_code} with a body that is not "
            f"JSON: {redact(response.text)[:200]!r}",
            response.status_code,
        ) from None
    if not isinstance(data, dict):
        raise EndpointError(f"{response.url} answered with JSON that is not an object")
    return data


def server_message(response: httpx.Response, redact: Callable[[str], str]) -> str:
    """The server's own explanation of an error, shortened and with the key removed."""
    try:
        data = response.json()
    except ValueError:
        data = None
    message = response.text
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            message = str(error)
    return " ".join(redact(message).split())[:500] or response.reason_phrase
