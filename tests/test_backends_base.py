import math
import re

import pytest

from alignlab.models.backends import (
    Backend,
    Completion,
    GenerationRequest,
    OpenAIChatBackend,
    OptionProbs,
    as_messages,
    check_options,
    first_token_probs,
    vote_for,
    vote_probs,
)


def test_a_string_prompt_is_one_user_message():
    assert as_messages("hi") == [{"role": "user", "content": "hi"}]


def test_a_chat_prompt_keeps_its_turns():
    chat = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert as_messages(chat) == chat


@pytest.mark.parametrize(
    ("prompt", "where"),
    [
        ("  ", "prompt: empty text"),
        ([], "prompt: expected"),
        ([{"role": "robot", "content": "x"}], "prompt[0].role"),
        ([{"role": "user"}], "prompt[0].content"),
        (["hi"], "prompt[0]: expected a message object"),
    ],
)
def test_bad_prompts_name_the_problem(prompt, where):
    with pytest.raises(ValueError, match="^" + re.escape(where)):
        as_messages(prompt)


def test_request_defaults_are_greedy_and_deterministic():
    request = GenerationRequest("hi")
    assert (request.max_new_tokens, request.temperature, request.top_p, request.n) == (
        256,
        0.0,
        1.0,
        1,
    )
    assert request.stop == () and request.seed is None and not request.sampled
    assert GenerationRequest("hi", temperature=1.0).sampled
    assert not GenerationRequest("hi", temperature=1.0, seed=0).sampled


def test_request_stop_becomes_a_tuple():
    assert GenerationRequest("hi", stop=["\n", "User:"]).stop == ("\n", "User:")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_new_tokens", 0),
        ("temperature", -0.1),
        ("temperature", math.nan),
        ("top_p", 0.0),
        ("top_p", 1.5),
        ("n", 0),
        ("stop", "\n"),
        ("stop", [""]),
    ],
)
def test_bad_request_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"^{field}:"):
        GenerationRequest("hi", **{field: value})


def test_completion_text_is_the_first_sample():
    completion = Completion(texts=("a", "b"), finish_reasons=("stop", "length"))
    assert completion.text == "a" and not completion.cached and completion.usage == {}


def test_option_probs_lookup_and_best():
    probs = OptionProbs(("(A)", "(B)"), (0.25, 0.75), "logprobs", coverage=0.5)
    assert probs["(B)"] == 0.75 and probs.best == "(B)"
    with pytest.raises(KeyError, match=r"'\(C\)' is not one of the options"):
        probs["(C)"]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ("AB", "got the string"),
        (["(A)"], "at least two"),
        (["A", " "], "non-blank"),
        (["A", " A"], "must differ"),
    ],
)
def test_bad_options_are_refused(options, problem):
    with pytest.raises(ValueError, match=f"^options: .*{problem}"):
        check_options(options)


def test_first_token_probs_sum_matches_and_skip_ambiguous_tokens():
    top = [("(A", math.log(0.4)), (" (A", math.log(0.2)), ("(B", math.log(0.2)), ("(", 0.0)]
    probs = first_token_probs(top, ["(A)", "(B)"])
    assert probs.method == "logprobs" and probs.votes == 0
    assert probs.probs == pytest.approx((0.75, 0.25))
    assert probs.coverage == pytest.approx(0.8)


def test_first_token_probs_need_a_token_longer_than_the_shared_prefix():
    assert first_token_probs([("(", 0.0), ("I", math.log(0.5))], ["(A)", "(B)"]) is None
    assert first_token_probs([], ["A", "B"]) is None


def test_a_token_must_be_a_prefix_of_the_option():
    top = [("As", math.log(0.9)), ("B", math.log(0.1))]
    assert first_token_probs(top, ["A", "B"]).probs == pytest.approx((0.0, 1.0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(A) because", 0),
        ("  (B)", 1),
        ("A.", 2),
        ("A", 2),
        ("As an AI", None),
        ("AB", 3),
        ("I think (A)", None),
    ],
)
def test_vote_for_the_option_a_completion_begins_with(text, expected):
    assert vote_for(text, ["(A)", "(B)", "A", "AB"]) == expected


def test_vote_probs_count_matching_votes():
    probs = vote_probs(["(A)", "(A) yes", "(B)", "no idea"], ["(A)", "(B)"])
    assert probs.probs == pytest.approx((2 / 3, 1 / 3))
    assert (probs.method, probs.votes, probs.coverage) == ("votes", 4, 0.75)


def test_vote_probs_without_a_match_are_uniform():
    probs = vote_probs(["hmm", "well"], ["(A)", "(B)", "(C)"])
    assert probs.probs == pytest.approx((1 / 3, 1 / 3, 1 / 3)) and probs.coverage == 0.0


def test_vote_probs_need_votes():
    with pytest.raises(ValueError, match=r"^texts: need at least one"):
        vote_probs([], ["A", "B"])


def test_the_http_backend_implements_the_protocol():
    assert isinstance(OpenAIChatBackend("http://localhost:8000/v1", "m"), Backend)
    assert not isinstance(object(), Backend)
