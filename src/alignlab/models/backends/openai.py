"""Generation over any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, hosted APIs).

Requests go to ``POST {base_url}/chat/completions``, at most ``concurrency`` at a
time. Status 429 and 5xx, timeouts and connection errors are retried with
exponential backoff and jitter, or after the server's ``Retry-After``; any other
4xx fails at once with the server's message (:mod:`~alignlab.models.backends.retries`
holds that policy and :class:`EndpointError`, re-exported here). ``timeout`` bounds
each whole request, connecting to the last byte, so a server that sends its answer
one byte at a time is cut off like one that never answers.

Every response is checked by :mod:`~alignlab.models.backends.responses` before it
is used or cached: a malformed one, an answer whose ``content`` is ``null`` or not
a string, or one the provider withheld (``finish_reason="content_filter"``) is an
:class:`EndpointError` naming the cause, so the evaluation records that sample as
failed, never scores it, and ``--resume`` asks for it again. In a batch, one
failed request does not cancel the others: they finish (and are cached) first.

Every request also carries the backend's own ``stop`` strings, as a local
:class:`~alignlab.models.backends.hf.HFBackend` adds its tokenizer's dialogue stop
strings, and each answer is cut at the first stop string in it, so a served model's text
is the text the same model gives locally
(:func:`~alignlab.models.backends.servers.served_backend` builds a backend for a model
directory that way, with the fields a server needs to sample plainly).

The API key is read from the environment variable the user names and sent only in
the ``Authorization`` header: it is never kept on the backend, logged, cached, or
put into an error, and is replaced by ``<redacted>`` in any server text taken in
(answers, error bodies), before that text is shortened.

``generate`` is synchronous and runs its own event loop; called where a loop is
already running (a notebook), it runs that loop in a worker thread and blocks.
Async code should ``await agenerate(...)`` and ``await aoption_probs(...)`` instead.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

from alignlab.data.records import Text
from alignlab.models.backends.base import (
    Completion,
    GenerationRequest,
    OptionProbs,
    as_messages,
    check_options,
    first_token_probs,
    run_sync,
    vote_probs,
)
from alignlab.models.backends.cache import ResponseCache, cache_key
from alignlab.models.backends.responses import (
    InvalidResponse,
    first_token_logprobs,
    read_completion,
    redact_json,
)
from alignlab.models.backends.retries import (
    BACKOFF_CAP,
    RETRY_AFTER_LIMIT,
    EndpointError,
    backoff_seconds,
    post_with_retries,
    retry_after_seconds,
)
from alignlab.progress import progress_bar

__all__ = [
    "BACKOFF_CAP",
    "RETRY_AFTER_LIMIT",
    "EndpointError",
    "InvalidResponse",
    "OpenAIChatBackend",
    "backoff_seconds",
    "retry_after_seconds",
]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONVENTIONAL_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_RESERVED_BODY_KEYS = frozenset({"model", "messages", "stream"})
_sleep = asyncio.sleep  # looked up at call time, so tests can skip the waits


@functools.cache
def _ssl_context():
    """httpx's default TLS context, built once: loading the CA bundle takes ~40 ms a client."""
    return httpx.create_ssl_context()


class OpenAIChatBackend:
    """A :class:`~alignlab.models.backends.base.Backend` over ``POST {base_url}/chat/completions``.

    Args:
        base_url: The API root, such as ``http://localhost:8000/v1``.
        model: The model name the endpoint serves.
        api_key_env: Name of the environment variable holding the API key; ``None``
            sends no ``Authorization`` header (most local servers need none).
        concurrency: Most requests in flight at once.
        timeout: Seconds one whole HTTP request may take, from connecting to the last
            byte of the answer, before it is abandoned and retried (a deadline over the
            request, not a limit on each read).
        max_retries: Retries per request after the first attempt.
        cache: Where responses are kept so reruns do not repeat requests.
        extra_body: Extra request fields (``top_k``, ``repetition_penalty``, ...),
            merged last into every request body; ``transformers serve`` samples only with
            ``{"generation_config": "{\"do_sample\": true}"}`` here
            (:data:`~alignlab.models.backends.servers.SAMPLING_FIELDS` holds each server's).
        stop: Stop strings sent with every request beside the request's own (a base model
            in alignlab's dialogue format ends its turn at ``stop_strings(tokenizer)``).
        top_logprobs: Alternatives per token asked for by :meth:`option_probs`.
        transport: An ``httpx`` transport to send requests through (tests, proxies).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 6,
        cache: ResponseCache | None = None,
        extra_body: dict[str, Any] | None = None,
        top_logprobs: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
        stop: Sequence[str] = (),
    ):
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                f"base_url: expected an http(s) URL such as http://host:8000/v1, got {base_url!r}"
            )
        if url.userinfo:
            raise ValueError("base_url: must not hold credentials; name a variable in api_key_env")
        if not model:
            raise ValueError("model: must name the model the endpoint serves")
        if concurrency < 1:
            raise ValueError(f"concurrency: must be at least 1, got {concurrency}")
        if not timeout > 0:
            raise ValueError(f"timeout: must be > 0 seconds, got {timeout}")
        if max_retries < 0:
            raise ValueError(f"max_retries: must be >= 0, got {max_retries}")
        if top_logprobs < 1:
            raise ValueError(f"top_logprobs: must be at least 1, got {top_logprobs}")
        if isinstance(stop, str) or not all(isinstance(s, str) and s for s in stop):
            raise ValueError(f"stop: expected a sequence of non-empty strings, got {stop!r}")
        extra_body = dict(extra_body or {})
        if reserved := sorted(_RESERVED_BODY_KEYS & extra_body.keys()):
            raise ValueError(f"extra_body: may not set {reserved}; the backend sets them")
        if api_key_env is not None and not (
            isinstance(api_key_env, str) and _ENV_NAME.fullmatch(api_key_env)
        ):
            raise ValueError(
                "api_key_env: must be the name of the environment variable that holds the key "
                "(letters, digits, underscores), not the key itself"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.cache = cache
        self.extra_body = extra_body
        self.top_logprobs = top_logprobs
        self.stop = tuple(stop)
        self._transport = transport
        self._api_key()  # fail now, not at the first request, when the variable is unset

    def __repr__(self) -> str:
        return (
            f"OpenAIChatBackend(base_url={self.base_url!r}, model={self.model!r}, "
            f"api_key_env={self.api_key_env!r}, concurrency={self.concurrency}, "
            f"cache={self.cache!r})"
        )

    @property
    def name(self) -> str:
        return f"{self.model}@{self.base_url}"

    def generate(
        self, requests: Sequence[GenerationRequest], *, progress: bool = False
    ) -> list[Completion]:
        """One completion per request, in request order, fetched concurrently."""
        return run_sync(self.agenerate(requests, progress=progress))

    def option_probs(
        self, prompt: Text, options: Sequence[str], *, votes: int = 8, seed: int | None = None
    ) -> OptionProbs:
        """Probabilities that the answer to ``prompt`` begins with each option.

        First-token log-probabilities when the endpoint returns them and a top token
        matches an option; else ``votes`` completions sampled at temperature 1 (seeds
        ``seed``, ``seed + 1``, ... when given). The matching rules are in
        :mod:`alignlab.models.backends.base`.
        """
        return run_sync(self.aoption_probs(prompt, options, votes=votes, seed=seed))

    async def agenerate(
        self, requests: Sequence[GenerationRequest], *, progress: bool = False
    ) -> list[Completion]:
        """:meth:`generate`, for code already inside an event loop."""
        requests = list(requests)
        for i, request in enumerate(requests):
            if not isinstance(request, GenerationRequest):
                raise TypeError(
                    f"requests[{i}]: expected a GenerationRequest, got {type(request).__name__}"
                )
        bodies = [self._body(request) for request in requests]
        draws: Counter[str] = Counter()
        jobs = []
        for request, body in zip(requests, bodies, strict=True):
            sample = 0
            if request.sampled:
                base_key = cache_key(self.base_url, self.model, body)
                sample, draws[base_key] = draws[base_key], draws[base_key] + 1
            jobs.append((cache_key(self.base_url, self.model, body, sample), body))
        return [completion for _, completion in await self._fetch(jobs, progress)]

    async def aoption_probs(
        self, prompt: Text, options: Sequence[str], *, votes: int = 8, seed: int | None = None
    ) -> OptionProbs:
        """:meth:`option_probs`, for code already inside an event loop."""
        options = check_options(options)
        if votes < 1:
            raise ValueError(f"votes: must be at least 1, got {votes}")
        # Temperature 1 so the returned log-probabilities are the model's own distribution.
        first_token = GenerationRequest(prompt, max_new_tokens=1, temperature=1.0, seed=seed)
        body = {**self._body(first_token), "logprobs": True, "top_logprobs": self.top_logprobs}
        [(response, _)] = await self._fetch([(cache_key(self.base_url, self.model, body), body)])
        probs = first_token_probs(first_token_logprobs(response), options)
        if probs is not None:
            return probs
        # Room for leading whitespace tokens, the option, and the character after it.
        max_new_tokens = max(len(option.strip()) for option in options) + 4
        samples = [
            GenerationRequest(
                prompt,
                max_new_tokens=max_new_tokens,
                temperature=1.0,
                seed=None if seed is None else seed + i,
            )
            for i in range(votes)
        ]
        completions = await self.agenerate(samples)
        return vote_probs([completion.text for completion in completions], options)

    def _api_key(self) -> str | None:
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            shown = (
                self.api_key_env
                if _CONVENTIONAL_ENV_NAME.fullmatch(self.api_key_env)
                else "named by api_key_env (name not shown: it may be a key)"
            )
            raise ValueError(f"api_key_env: the environment variable {shown} is not set or empty")
        return key

    def _redact(self, text: str) -> str:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return text.replace(key, "<redacted>") if key else text

    def _read(self, response: Any, n: int, cached: bool, stop: Sequence[str] = ()) -> Completion:
        """``response`` as a completion, or an :class:`InvalidResponse` naming the endpoint."""
        try:
            return read_completion(
                response, n=n, model=self.model, cached=cached, redact=self._redact, stop=stop
            )
        except InvalidResponse as error:
            raise InvalidResponse(f"{self.name}: {error}", error.withheld) from None

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": as_messages(request.prompt),
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "n": request.n,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if stop := tuple(dict.fromkeys((*self.stop, *request.stop))):
            body["stop"] = list(stop)
        body.update(self.extra_body)
        return body

    async def _fetch(
        self, jobs: list[tuple[str, dict[str, Any]]], progress: bool = False
    ) -> list[tuple[dict[str, Any], Completion]]:
        """Each ``(key, body)`` job's response, checked, with its completion.

        Jobs sharing a key are sent once. A response is cached only once it has been
        read as a completion, so a cache never replays a malformed one (one stored
        by an older version is asked for again). A failed job lets the others
        finish, and each is cached as it arrives, before the first failure is raised.
        """
        uses = Counter(key for key, _ in jobs)
        unique = dict(jobs)
        results: dict[str, tuple[dict[str, Any], Completion]] = {}
        semaphore = asyncio.Semaphore(self.concurrency)
        key = self._api_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        url = f"{self.base_url}/chat/completions"
        with progress_bar(len(jobs), self.name, enabled=progress, unit="req") as advance:
            async with httpx.AsyncClient(
                headers=headers,
                timeout=self.timeout,
                transport=self._transport,
                verify=_ssl_context(),
            ) as client:

                async def one(job_key: str, body: dict[str, Any]) -> None:
                    n, stop = body.get("n", 1), body.get("stop") or ()
                    hit = self.cache.get(job_key) if self.cache is not None else None
                    if hit is not None:
                        try:
                            results[job_key] = (hit, self._read(hit, n, cached=True, stop=stop))
                        except InvalidResponse:
                            hit = None
                    if hit is None:
                        async with semaphore:
                            response = await self._post(client, url, body)
                        if self.api_key_env is not None:
                            response = redact_json(response, self._redact)
                        completion = self._read(response, n, cached=False, stop=stop)
                        if self.cache is not None:
                            self.cache.put(job_key, response)
                        results[job_key] = (response, completion)
                    advance(uses[job_key])

                tasks = [asyncio.ensure_future(one(k, body)) for k, body in unique.items()]
                try:
                    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
                except BaseException:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return [results[job_key] for job_key, _ in jobs]

    async def _post(
        self, client: httpx.AsyncClient, url: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """One request's JSON response, retrying what a retry can fix."""
        return await post_with_retries(
            client,
            url,
            body,
            max_retries=self.max_retries,
            deadline=self.timeout,
            redact=self._redact,
            sleep=_sleep,
        )
