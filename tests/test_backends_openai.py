import asyncio
import json
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from alignlab.models.backends import (
    EndpointError,
    GenerationRequest,
    OpenAIChatBackend,
    ResponseCache,
    backoff_seconds,
    retry_after_seconds,
)
from alignlab.models.backends import openai as openai_backend

BASE_URL = "http://llm.test/v1"
SECRET = "sk-test-0123456789abcdef"


def chat_response(texts: list[str], **extra: Any) -> dict[str, Any]:
    choices = [
        {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
        for i, t in enumerate(texts)
    ]
    return {"model": "served-model", "choices": choices, "usage": {"prompt_tokens": 3}, **extra}


def echo(body: dict[str, Any]) -> dict[str, Any]:
    """Answers each prompt with its own last message, one choice per sample asked for."""
    prompt = body["messages"][-1]["content"]
    return chat_response([f"{prompt} #{i}" for i in range(body.get("n", 1))])


class FakeServer:
    """An OpenAI-compatible endpoint behind ``httpx.MockTransport``.

    Scripted answers (responses or exceptions to raise) come first, then ``reply``.
    """

    def __init__(self, reply: Callable[[dict], dict] = echo, delay: float = 0.0):
        self.reply = reply
        self.delay = delay
        self.script: list[httpx.Response | Exception] = []
        self.requests: list[httpx.Request] = []
        self.in_flight = 0
        self.most_in_flight = 0

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if self.script:
                answer = self.script.pop(0)
                if isinstance(answer, Exception):
                    raise answer
                return answer
            return httpx.Response(200, json=self.reply(json.loads(request.content)))
        finally:
            self.in_flight -= 1

    def backend(self, **options: Any) -> OpenAIChatBackend:
        return OpenAIChatBackend(
            BASE_URL, "test-model", transport=httpx.MockTransport(self), **options
        )


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The retry waits the backend asked for; nothing actually sleeps."""
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)

    monkeypatch.setattr(openai_backend, "_sleep", sleep)
    return asked


def test_request_body_and_completion():
    server = FakeServer()
    backend = server.backend(extra_body={"top_k": 40})
    request = GenerationRequest(
        "hi", max_new_tokens=5, temperature=0.5, top_p=0.9, seed=3, stop=["\n"], n=2
    )
    [completion] = backend.generate([request])
    [sent] = server.requests
    assert sent.method == "POST" and str(sent.url) == f"{BASE_URL}/chat/completions"
    assert "authorization" not in sent.headers
    assert server.bodies == [
        {
            "model": "test-model",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 5,
            "temperature": 0.5,
            "top_p": 0.9,
            "n": 2,
            "seed": 3,
            "stop": ["\n"],
            "top_k": 40,
        }
    ]
    assert completion.texts == ("hi #0", "hi #1")
    assert completion.finish_reasons == ("stop", "stop")
    assert (completion.model, completion.usage, completion.cached) == (
        "served-model",
        {"prompt_tokens": 3},
        False,
    )


def test_chat_prompts_pass_through_and_unset_fields_are_left_out():
    server = FakeServer()
    chat = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    server.backend().generate([GenerationRequest(chat)])
    [body] = server.bodies
    assert body["messages"] == chat
    assert "seed" not in body and "stop" not in body


def test_completions_come_back_in_request_order_within_the_concurrency_limit():
    server = FakeServer(delay=0.01)
    requests = [GenerationRequest(f"q{i}") for i in range(12)]
    completions = server.backend(concurrency=3).generate(requests)
    assert [c.text for c in completions] == [f"q{i} #0" for i in range(12)]
    assert server.most_in_flight == 3


def test_retry_after_429_waits_as_the_server_says(waits):
    server = FakeServer()
    server.script = [httpx.Response(429, headers={"Retry-After": "2"}, json={"error": "slow"})]
    [completion] = server.backend().generate([GenerationRequest("hi")])
    assert completion.text == "hi #0"
    assert len(server.requests) == 2 and waits == [2.0]


def test_retry_after_503_and_dropped_connections_backs_off_exponentially(waits):
    server = FakeServer()
    server.script = [
        httpx.Response(503, text="overloaded"),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
    ]
    [completion] = server.backend().generate([GenerationRequest("hi")])
    assert completion.text == "hi #0" and len(server.requests) == 4
    assert all(low <= w <= 2 * low for low, w in zip([0.5, 1.0, 2.0], waits, strict=True))


def test_a_request_that_keeps_failing_reports_the_last_failure(waits):
    server = FakeServer()
    server.script = [httpx.Response(503, json={"error": {"message": "overloaded"}})] * 3
    with pytest.raises(EndpointError, match=r"failed 3 times; last failure: HTTP 503: overloaded"):
        server.backend(max_retries=2).generate([GenerationRequest("hi")])
    assert len(server.requests) == 3 and len(waits) == 2


def test_a_server_asking_for_a_very_long_wait_is_reported(waits):
    server = FakeServer()
    server.script = [httpx.Response(429, headers={"Retry-After": "3600"})]
    with pytest.raises(EndpointError, match="retry after 3600 s") as error:
        server.backend().generate([GenerationRequest("hi")])
    assert error.value.status == 429 and waits == []


def test_a_400_fails_at_once_with_the_servers_message(waits):
    server = FakeServer()
    message = "max_tokens is too large: 99999. This model's maximum context length is 4096."
    server.script = [httpx.Response(400, json={"error": {"message": message, "code": None}})]
    with pytest.raises(EndpointError) as error:
        server.backend().generate([GenerationRequest("hi")])
    assert str(error.value) == f"{BASE_URL}/chat/completions answered HTTP 400: {message}"
    assert error.value.status == 400
    assert len(server.requests) == 1 and waits == []


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 30.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_backoff_grows_exponentially_up_to_a_cap():
    for attempt, ceiling in [(0, 1.0), (3, 8.0), (10, 60.0)]:
        assert ceiling / 2 <= backoff_seconds(attempt) <= ceiling


def test_the_api_key_goes_only_into_the_authorization_header(monkeypatch, tmp_path):
    monkeypatch.setenv("ALIGNLAB_TEST_KEY", SECRET)
    server = FakeServer()
    cache = ResponseCache(tmp_path / "cache.sqlite")
    backend = server.backend(api_key_env="ALIGNLAB_TEST_KEY", cache=cache)
    [completion] = backend.generate([GenerationRequest("hi")])
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in repr(backend) + backend.name + repr(completion)

    server.script = [
        httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {SECRET}"}})
    ]
    with pytest.raises(EndpointError) as error:
        backend.generate([GenerationRequest("again")])
    assert SECRET not in str(error.value) and "<redacted>" in str(error.value)
    cache.close()
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert b"hi #0" in stored and SECRET.encode() not in stored


def test_an_unset_key_variable_is_named(monkeypatch):
    monkeypatch.delenv("ALIGNLAB_MISSING_KEY", raising=False)
    with pytest.raises(ValueError, match="variable ALIGNLAB_MISSING_KEY is not set"):
        FakeServer().backend(api_key_env="ALIGNLAB_MISSING_KEY")


@pytest.mark.parametrize("literal", [SECRET, "gsk_abcDEF0123456789xyz"])
def test_a_key_given_in_place_of_a_variable_name_is_never_echoed(literal):
    with pytest.raises(ValueError, match=r"^api_key_env:") as error:
        FakeServer().backend(api_key_env=literal)
    assert literal not in str(error.value)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"base_url": "localhost:8000"}, "base_url: expected an http"),
        ({"base_url": "http://user:pw@host/v1"}, "base_url: must not hold credentials"),
        ({"concurrency": 0}, "concurrency:"),
        ({"extra_body": {"stream": True}}, r"extra_body: may not set \['stream'\]"),
    ],
)
def test_bad_settings_are_refused(options, problem):
    settings = {"base_url": BASE_URL, "model": "m", **options}
    with pytest.raises(ValueError, match=f"^{problem}"):
        OpenAIChatBackend(**settings)


def test_fewer_choices_than_asked_for_is_an_error():
    server = FakeServer(reply=lambda body: chat_response(["only one"]))
    with pytest.raises(EndpointError, match="asked for n=3 completions, the endpoint returned 1"):
        server.backend().generate([GenerationRequest("hi", n=3)])


def test_a_second_identical_call_is_served_from_the_cache(tmp_path):
    server = FakeServer()
    requests = [GenerationRequest("a"), GenerationRequest("b", temperature=0.7, seed=1)]
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        first = server.backend(cache=cache).generate(requests)
    with ResponseCache(tmp_path / "cache.sqlite") as cache:  # a rerun, as after a crash
        second = server.backend(cache=cache).generate(requests)
    assert len(server.requests) == 2
    assert [c.texts for c in second] == [c.texts for c in first]
    assert [c.cached for c in first + second] == [False, False, True, True]


def test_unseeded_samples_stay_distinct_in_the_cache(tmp_path):
    drawn = iter(range(100))
    server = FakeServer(reply=lambda body: chat_response([f"sample {next(drawn)}"]))
    requests = [GenerationRequest("hi", temperature=1.0)] * 3
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        backend = server.backend(cache=cache)
        first = [c.text for c in backend.generate(requests)]
        second = [c.text for c in backend.generate(requests)]
        assert len(cache) == 3
    assert first == second == ["sample 0", "sample 1", "sample 2"]
    assert len(server.requests) == 3


def test_identical_deterministic_requests_are_sent_once():
    server = FakeServer()
    completions = server.backend().generate([GenerationRequest("same")] * 4)
    assert [c.text for c in completions] == ["same #0"] * 4 and len(server.requests) == 1


def logprob_reply(top: list[tuple[str, float]]) -> Callable[[dict], dict]:
    def reply(body: dict) -> dict:
        entries = [{"token": t, "logprob": math.log(p), "bytes": None} for t, p in top]
        logprobs = {"content": [{**entries[0], "top_logprobs": entries}]}
        response = chat_response([top[0][0]])
        response["choices"][0]["logprobs"] = logprobs
        return response

    return reply


def test_option_probs_from_first_token_logprobs():
    server = FakeServer(reply=logprob_reply([("(A", 0.6), (" (B", 0.2), ("(", 0.1), ("I", 0.1)]))
    probs = server.backend().option_probs("Which is better?", ["(A)", "(B)"], seed=5)
    assert probs.method == "logprobs" and probs.votes == 0
    assert probs.probs == pytest.approx((0.75, 0.25)) and probs.coverage == pytest.approx(0.8)
    [body] = server.bodies
    assert (body["max_tokens"], body["logprobs"], body["top_logprobs"], body["seed"]) == (
        1,
        True,
        20,
        5,
    )


def test_option_probs_fall_back_to_votes_without_logprobs():
    answers = iter(["", "(A) it is", "(B)", " (A)", "I cannot say"])
    server = FakeServer(reply=lambda body: chat_response([next(answers)]))
    probs = server.backend().option_probs("Which is better?", ["(A)", "(B)"], votes=4, seed=10)
    assert (probs.method, probs.votes, probs.coverage) == ("votes", 4, 0.75)
    assert probs.probs == pytest.approx((2 / 3, 1 / 3))
    votes = server.bodies[1:]
    assert [b["seed"] for b in votes] == [10, 11, 12, 13]
    assert all(b["temperature"] == 1.0 and "logprobs" not in b for b in votes)


def test_generate_works_from_a_thread_and_inside_a_running_loop():
    server = FakeServer()
    backend = server.backend()
    from_thread: list[str] = []
    thread = threading.Thread(
        target=lambda: from_thread.extend(
            c.text for c in backend.generate([GenerationRequest("t")])
        )
    )
    thread.start()
    thread.join()

    async def notebook_cell() -> tuple[str, str]:
        [blocking] = backend.generate([GenerationRequest("sync")])
        [awaited] = await backend.agenerate([GenerationRequest("async")])
        return blocking.text, awaited.text

    assert from_thread == ["t #0"]
    assert asyncio.run(notebook_cell()) == ("sync #0", "async #0")


def test_progress_bar_counts_requests(capsys, monkeypatch):
    monkeypatch.delenv("CI", raising=False)  # bars are silent under CI without a terminal
    server = FakeServer()
    requests = [GenerationRequest(f"q{i}") for i in range(3)]
    completions = server.backend().generate(requests, progress=True)
    assert len(completions) == 3
    assert "3/3" in capsys.readouterr().err
