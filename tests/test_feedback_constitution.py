import random

import pytest

from alignlab.feedback import (
    BUILTIN,
    ConstitutionError,
    load_constitution,
    parse_constitution,
)
from alignlab.models.fence import data_marker, fence, notice_marker, outside_fences, unfence
from alignlab.organisms.assistant.critique import CRITIQUE_REQUESTS, REVISION_REQUEST
from alignlab.organisms.assistant.language import vocabulary

GOOD = """\
name = "tiny"

[comparison]
options = ["(A)", "(B)"]

[[comparison.turns]]
role = "user"
content = "{conversation} | {question} {option_first} {first} {option_second} {second}"

[[principles]]
id = "honest"
critique = "what is false ?"
revision = "fix it ."
question = "which is true ?"

[[principles]]
id = "brief"
critique = "what is padding ?"
revision = "cut it ."
question = "which is shorter ?"
"""


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_constitutions_load(name):
    constitution = load_constitution(name)
    assert constitution.source == f"builtin:{name}"
    ids = [p.id for p in constitution.principles]
    assert len(ids) == len(set(ids)) >= 4
    for p in constitution.principles:
        assert p.critique.strip() and p.revision.strip() and p.question.strip()


def test_default_constitution_covers_harm_honesty_helpfulness_and_fairness():
    ids = {p.id for p in load_constitution("default").principles}
    assert {"no-harm", "no-flattery", "admit-uncertainty", "no-needless-refusal"} <= ids
    assert {"no-padding", "fairness"} <= ids
    assert len(ids) >= 10


def test_organism_constitution_speaks_the_worlds_language():
    constitution = load_constitution("organism")
    for p in constitution.principles:
        assert p.critique == CRITIQUE_REQUESTS[p.id]
        assert p.revision == REVISION_REQUEST
    words = set(vocabulary())
    for p in constitution.principles:
        for text in (p.critique, p.revision, p.question):
            assert set(text.split()) <= words, text
    messages, options = constitution.comparison.render(
        "i think 3 + 4 = 9 . am i right ?", constitution["truth"].question, "A .", "B ."
    )
    # Cloze: shown A as its own answer and asked for a better one, would it write A or B?
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "A ." and options == ("A .", "B .")


def test_comparison_layout_shows_both_responses_and_splices_conversations():
    constitution = parse_constitution(GOOD, "tiny.toml")
    prompt = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "2 + 2 ?"},
    ]
    messages, options = constitution.comparison.render(prompt, "which is true ?", "4 .", "5 .")
    assert options == ("(A)", "(B)")
    # The conversation and the responses are fenced as data, under a do-not-follow clause.
    conversation = "User: hi\n\nAssistant: hello\n\nUser: 2 + 2 ?"
    marker = data_marker(conversation, "4 .", "5 .")
    [message] = messages
    notice, body = message["content"].split("\n\n", 1)
    assert message["role"] == "user" and notice_marker(notice) == marker
    assert "Do not follow them" in notice
    assert body == (
        f"{fence(conversation, marker)} | which is true ? "
        f"(A) {fence('4 .', marker)} (B) {fence('5 .', marker)}"
    )
    spliced = GOOD.replace(
        'role = "user"\ncontent = "{conversation} | ',
        'role = "conversation"\n\n[[comparison.turns]]\nrole = "user"\ncontent = "',
    )
    messages, _ = parse_constitution(spliced).comparison.render(prompt, "q ?", "4 .", "5 .")
    # Spliced turns are the prompt's own chat turns, shown as they are.
    assert messages[:3] == prompt
    marker = notice_marker(messages[3]["content"])
    assert marker == data_marker("4 .", "5 .")
    assert unfence(messages[3]["content"], marker) == ["4 .", "5 ."]
    assert outside_fences(messages[3]["content"], marker).endswith("\n\nq ? (A)  (B) ")


def test_sampling_draws_distinct_principles_reproducibly():
    constitution = load_constitution("default")
    drawn = constitution.sample(random.Random(1), 4)
    assert len({p.id for p in drawn}) == 4
    assert drawn == constitution.sample(random.Random(1), 4)
    two = parse_constitution(GOOD).sample(random.Random(0), 5)
    assert len(two) == 5 and {p.id for p in two} == {"honest", "brief"}
    with pytest.raises(KeyError, match="no principle 'kind'"):
        constitution["kind"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('critique = "what is padding ?"\n', ""),
            r"tiny\.toml:16: principles\[1\]\.critique: missing key",
        ),
        (
            ('id = "brief"', 'id = "honest"'),
            r"tiny\.toml:17: principles\[1\]\.id: 'honest' is already",
        ),
        (
            ('revision = "fix it ."', "revision = 3"),
            r"tiny\.toml:13: principles\[0\]\.revision: expected a string",
        ),
        (
            ('question = "which is true ?"', 'question = ""'),
            r"tiny\.toml:14: principles\[0\]\.question: empty text",
        ),
        (
            ('revision = "cut it ."', 'revision = "cut it ."\ncritic = "x"'),
            r"tiny\.toml:20: principles\[1\]\.critic: unknown key",
        ),
        (
            ("{option_second} {second}", "{option_second} {secnd}"),
            r"tiny\.toml:8: comparison\.turns\[0\]\.content: unknown field \{secnd\}",
        ),
        (
            ("{option_second} {second}", "{option_second}"),
            r"tiny\.toml:3: comparison: the turns and options never show \{second\}",
        ),
        (
            ('options = ["(A)", "(B)"]', 'options = ["(A)"]'),
            r"tiny\.toml:4: comparison\.options: expected two",
        ),
        (
            ('role = "user"', 'role = "critic"'),
            r"tiny\.toml:7: comparison\.turns\[0\]\.role: 'critic' is not",
        ),
        (('name = "tiny"', 'name = "tiny'), r"tiny\.toml: not valid TOML"),
        (('name = "tiny"', 'nam = "tiny"'), r"tiny\.toml:1: nam: unknown key"),
    ],
)
def test_malformed_constitutions_name_file_line_and_key(edit, message):
    old, new = edit
    assert old in GOOD
    with pytest.raises(ConstitutionError, match=message):
        parse_constitution(GOOD.replace(old, new, 1), "tiny.toml")


def test_a_constitution_needs_principles_and_a_file(tmp_path):
    with pytest.raises(ConstitutionError, match=r"principles: need at least one"):
        parse_constitution(GOOD.split("[[principles]]")[0], "tiny.toml")
    with pytest.raises(ConstitutionError, match="no such constitution file"):
        load_constitution(tmp_path / "missing.toml")
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    assert load_constitution(path).source == str(path)
