"""The OpenAI-compatible backend on responses without a text answer, on secrets and deadlines.

Malformed and withheld answers are errors, never empty replies, and are never
cached; one failed request lets its batch finish; the API key is redacted before
any text is shortened; ``timeout`` bounds the whole request.
"""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from alignlab.models.backends import EndpointError, GenerationRequest, ResponseCache
from alignlab.models.backends import openai as openai_backend
from alignlab.models.backends.cache import cache_key
from test_backends_openai import BASE_URL, SECRET, FakeServer, chat_response, echo, waits

__all__ = ["waits"]  # the fixture, shared with test_backends_openai


def one_choice(**choice: Any) -> Callable[[dict], dict]:
    """A reply whose only choice is ``choice`` (a message and finish reason as given)."""
    return lambda body: {"model": "m", "choices": [{"index": 0, **choice}]}


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (one_choice(message={"content": None}, finish_reason="stop"), "got null"),
        (one_choice(message={"role": "assistant"}, finish_reason="stop"), "has no content"),
        (one_choice(message={"content": 42}, finish_reason="stop"), "string, got int"),
        (one_choice(message={"content": ["a"]}, finish_reason="stop"), "string, got list"),
        (one_choice(message="a string", finish_reason="stop"), "message: expected an object"),
        (one_choice(message={"content": ""}, finish_reason="content_filter"), "'content_filter'"),
        (one_choice(message={"content": "x"}, finish_reason=7), "finish_reason: expected a str"),
        (
            one_choice(message={"content": None, "refusal": "I can't."}, finish_reason="stop"),
            "refusal is set in place of content",
        ),
        (lambda body: {"choices": []}, "an empty list of choices"),
        (lambda body: {"error": {"message": "overloaded"}}, "no choices; it says:"),
        (lambda body: {"choices": {"0": {}}}, "choices that are dict"),
        (lambda body: {"choices": ["text"]}, r"choices\[0\]: expected an object, got str"),
        (
            lambda body: {"choices": [{"index": "0", "message": {"content": "x"}}]},
            r"choices\[0\].index: expected an integer",
        ),
    ],
)
def test_a_response_without_a_text_answer_is_an_error_never_an_empty_reply(
    reply, problem, tmp_path
):
    server = FakeServer(reply=reply)
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        with pytest.raises(EndpointError, match=problem) as error:
            server.backend(cache=cache).generate([GenerationRequest("hi")])
        assert len(cache) == 0  # never cached, so a rerun asks again
    assert str(error.value).startswith("test-model@http://llm.test/v1: ")


def test_a_withheld_answer_names_its_finish_reason():
    server = FakeServer(reply=one_choice(message={"content": ""}, finish_reason="content_filter"))
    with pytest.raises(openai_backend.InvalidResponse) as error:
        server.backend().generate([GenerationRequest("hi")])
    assert error.value.withheld == "content_filter"


def test_a_length_finish_is_an_answer_and_stays_visible():
    server = FakeServer(reply=one_choice(message={"content": "cut sh"}, finish_reason="length"))
    [completion] = server.backend().generate([GenerationRequest("hi")])
    assert completion.text == "cut sh" and completion.finish_reasons == ("length",)


def test_odd_optional_fields_are_ignored_not_fatal():
    reply = one_choice(message={"content": "ok"}, finish_reason=None)

    def odd(body: dict) -> dict:
        return {**reply(body), "usage": "lots", "model": 5}

    [completion] = FakeServer(reply=odd).backend().generate([GenerationRequest("hi")])
    assert (completion.text, completion.usage, completion.model) == ("ok", {}, "test-model")


def test_a_malformed_response_cached_by_an_older_version_is_asked_for_again(tmp_path):
    server = FakeServer()
    request = GenerationRequest("hi")
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        backend = server.backend(cache=cache)
        key = cache_key(BASE_URL, "test-model", backend._body(request))
        cache.put(key, {"choices": [{"message": "a string"}]})
        [completion] = backend.generate([request])
        assert completion.text == "hi #0" and not completion.cached
        assert cache.get(key)["choices"][0]["message"]["content"] == "hi #0"
    assert len(server.requests) == 1


def test_one_failed_request_lets_the_others_finish_and_be_cached(tmp_path):
    def reply(body: dict) -> dict:
        if body["messages"][-1]["content"] == "bad":
            return {"choices": [{"message": {"content": None}}]}
        return echo(body)

    server = FakeServer(reply=reply, delay=0.01)
    requests = [GenerationRequest(p) for p in ("a", "bad", "b", "c")]
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        with pytest.raises(EndpointError, match="got null"):
            server.backend(cache=cache, concurrency=4).generate(requests)
        assert len(cache) == 3
        good = server.backend(cache=cache).generate([requests[0], requests[2], requests[3]])
    assert [c.cached for c in good] == [True, True, True] and len(server.requests) == 4


def test_the_key_is_redacted_before_a_body_is_shortened(monkeypatch, tmp_path):
    """A 200 body echoing the key across the 200-character cut: no part of it is kept."""
    monkeypatch.setenv("ALIGNLAB_TEST_KEY", SECRET)
    server = FakeServer()
    server.script = [httpx.Response(200, text="x" * 190 + SECRET + " not json")]
    with pytest.raises(EndpointError) as error:
        server.backend(api_key_env="ALIGNLAB_TEST_KEY").generate([GenerationRequest("hi")])
    assert SECRET[:4] not in str(error.value) and "<redacted>" in str(error.value)
    server.script = [httpx.Response(500, text="y" * 495 + SECRET)] * 7
    with pytest.raises(EndpointError) as error:
        server.backend(api_key_env="ALIGNLAB_TEST_KEY", max_retries=0).generate(
            [GenerationRequest("hi")]
        )
    assert SECRET[:4] not in str(error.value)


def test_an_answer_echoing_the_key_is_redacted_in_the_text_and_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("ALIGNLAB_TEST_KEY", SECRET)
    server = FakeServer(reply=lambda body: chat_response([f"your key is {SECRET}"]))
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        backend = server.backend(api_key_env="ALIGNLAB_TEST_KEY", cache=cache)
        [completion] = backend.generate([GenerationRequest("hi")])
    assert completion.text == "your key is <redacted>"
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir())


def test_the_timeout_bounds_the_whole_request_not_each_read(waits):
    """A server sending one byte every 50 ms never trips a read timeout; the deadline cuts it."""

    async def dribble():
        for byte in json.dumps(chat_response(["slow"])).encode():
            await asyncio.sleep(0.05)
            yield bytes([byte])

    server = FakeServer()
    server.script = [httpx.Response(200, content=dribble())]
    start = time.monotonic()
    with pytest.raises(EndpointError, match=r"no complete answer within the 0.2 s timeout"):
        server.backend(timeout=0.2, max_retries=0).generate([GenerationRequest("hi")])
    assert time.monotonic() - start < 2


def test_first_token_logprobs_of_the_wrong_shape_are_skipped():
    def reply(body: dict) -> dict:
        response = chat_response(["(A"])
        entries = [{"token": "(A", "logprob": 1e6}, {"token": "(B", "logprob": "-1"}]
        response["choices"][0]["logprobs"] = {
            "content": [{"token": "(A", "logprob": -0.1, "top_logprobs": 5}]
        }
        if body.get("top_logprobs") == 2:
            response["choices"][0]["logprobs"]["content"][0]["top_logprobs"] = entries
        return response

    probs = FakeServer(reply=reply).backend().option_probs("?", ["(A)", "(B)"])
    assert probs.method == "logprobs" and probs.probs == pytest.approx((1.0, 0.0))
    probs = FakeServer(reply=reply).backend(top_logprobs=2).option_probs("?", ["(A)", "(B)"])
    assert probs.probs == pytest.approx((1.0, 0.0)) and probs.coverage == 1.0
