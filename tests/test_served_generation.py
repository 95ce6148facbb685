"""Served generation: stop strings sent and cut as local generation cuts them, each server's
sampling fields, and served texts tokenized into the generations local sampling gives."""

import json

import httpx
import pytest

from alignlab.models.backends import (
    SAMPLING_FIELDS,
    Completion,
    GenerationRequest,
    OpenAIChatBackend,
    model_stop_strings,
    served_backend,
)
from alignlab.models.dialogue import STOP_STRINGS
from alignlab.models.generation import generate_samples
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.models.sequences import encode_prompt
from alignlab.models.served import generate_served, served_generation
from tiny_models import SPECIAL_TOKENS, write_tiny_causal_lm

URL = "http://llm.test/v1"
PROMPTS = [f"what is {a} + {b} ?" for a in range(3) for b in range(3)]


def replying(*choices: dict):
    """A transport answering every request with ``choices``, keeping the bodies sent."""
    bodies = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"choices": list(choices)})

    return httpx.MockTransport(handle), bodies


def choice(content: str, finish: str = "stop", **extra) -> dict:
    message = {"role": "assistant", "content": content}
    return {"index": 0, "message": message, "finish_reason": finish, **extra}


@pytest.mark.parametrize(
    ("answer", "text", "finish", "stopped"),
    [
        (choice(" yes.\n\nUser:"), " yes.\n", "stop", "\nUser:"),  # transformers serve
        (choice(" yes.\n", stop_reason="\nUser:"), " yes.\n", "stop", "\nUser:"),  # vLLM
        (choice(" yes.\nAssistant: no\nUser: hm", "length"), " yes.", "stop", "\nAssistant:"),
        (choice(" yes."), " yes.", "stop", None),  # an end of turn
        (choice(" yes and", "length"), " yes and", "length", None),
    ],
)
def test_a_served_answer_is_cut_at_the_first_stop_string(answer, text, finish, stopped):
    transport, bodies = replying(answer)
    backend = OpenAIChatBackend(URL, "m", stop=STOP_STRINGS, transport=transport)
    [completion] = backend.generate([GenerationRequest("q", stop=["\nUser:", "!"])])
    assert bodies[0]["stop"] == ["\nUser:", "\nAssistant:", "!"]
    assert (completion.text, completion.finish_reasons[0]) == (text, finish)
    assert completion.stopped_at == (stopped,)


def test_without_stop_strings_the_text_is_left_as_it_came():
    transport, bodies = replying(choice("a\nUser: b"))
    [completion] = OpenAIChatBackend(URL, "m", transport=transport).generate(
        [GenerationRequest("q")]
    )
    assert "stop" not in bodies[0] and completion.text == "a\nUser: b"
    with pytest.raises(ValueError, match="stop"):
        OpenAIChatBackend(URL, "m", stop="\n")


@pytest.mark.parametrize("server", list(SAMPLING_FIELDS))
def test_each_server_is_sent_its_own_sampling_fields(server):
    transport, bodies = replying(choice("ok"))
    backend = served_backend(URL, "m", server=server, stop=["\nUser:"], transport=transport)
    backend.generate([GenerationRequest("q", temperature=1.0, seed=4)])
    for key, value in SAMPLING_FIELDS[server].items():
        assert bodies[0][key] == value
    assert bodies[0]["seed"] == 4 and bodies[0]["stop"] == ["\nUser:"]
    if server == "transformers":
        settings = json.loads(bodies[0]["generation_config"])
        assert settings["do_sample"] is True and settings["top_k"] == 0
    with pytest.raises(ValueError, match="server"):
        served_backend(URL, "m", server="tgi")


def test_a_model_directory_gives_the_stop_strings_of_its_dialogue_format(lm_dir, tmp_path):
    base = write_tiny_causal_lm(tmp_path / "base", chat_template=False)
    assert model_stop_strings(base) == STOP_STRINGS  # the few-shot format of base models
    assert model_stop_strings(lm_dir) == ()  # a template of its own ends turns with EOS
    assert model_stop_strings("served-name") == ()


class Replay:
    """A backend answering each request with the next of ``completions``."""

    name = "replay"

    def __init__(self, completions):
        self.completions, self.asked = list(completions), []

    def generate(self, requests, *, progress=False):
        self.asked.extend(requests)
        return [self.completions.pop(0) for _ in requests]


@pytest.fixture(scope="module")
def local(lm_dir):
    return load_causal_lm(lm_dir, device="cpu"), load_tokenizer(lm_dir)


def clean(generation) -> bool:
    """Whether a sample holds no special token but a final EOS (text says all of it)."""
    specials = set(range(len(SPECIAL_TOKENS)))
    ids = generation.response_ids[:-1] if generation.finished else generation.response_ids
    return bool(ids) and not specials & set(ids)


def as_completion(generation) -> Completion:
    return Completion((generation.text,), ("stop" if generation.finished else "length",))


def test_served_texts_become_the_ids_local_generation_gave(local):
    model, tokenizer = local
    groups = generate_samples(model, tokenizer, PROMPTS, max_new_tokens=6, seed=1)
    generations = [group[0] for group in groups]
    compared = 0
    for prompt, g in zip(PROMPTS, generations, strict=True):
        served = served_generation(tokenizer, prompt, g.prompt_ids, as_completion(g))
        assert (served.text, served.finished) == (g.text, g.finished)
        if clean(g):
            assert served.response_ids == g.response_ids
            compared += 1
    assert compared >= 3
    # A served answer that ended its turn ends with EOS, as a local one does.
    hi = encode_prompt(tokenizer, "hi")
    ended = served_generation(tokenizer, "hi", hi, Completion(("yes no",), ("stop",)))
    assert ended.finished and ended.response_ids == [
        *tokenizer("yes no", add_special_tokens=False)["input_ids"],
        tokenizer.eos_token_id,
    ]


def test_a_served_stop_string_stays_in_the_ids_as_local_generation_keeps_it(local):
    _, tokenizer = local
    stopped = Completion(("yes",), ("stop",), stopped_at=(" no",))
    g = served_generation(tokenizer, "hi", encode_prompt(tokenizer, "hi"), stopped)
    assert g.text == "yes" and g.finished
    assert g.response_ids == tokenizer("yes no", add_special_tokens=False)["input_ids"]


def test_served_requests_are_seeded_one_per_prompt_with_the_dialogue_stops(tmp_path):
    base = write_tiny_causal_lm(tmp_path / "base", chat_template=False)
    tokenizer = load_tokenizer(base)
    backend = Replay([Completion(("ok",), ("stop",))] * 2)
    generate_served(backend, tokenizer, ["a", "b"], [5, 6], max_new_tokens=3)
    assert [(r.seed, r.stop, r.temperature) for r in backend.asked] == [
        (5, STOP_STRINGS, 1.0),
        (6, STOP_STRINGS, 1.0),
    ]
    with pytest.raises(ValueError, match="one per prompt"):
        generate_served(backend, tokenizer, ["a"], [1, 2], max_new_tokens=3)
