import gzip
import json
import re

import pytest

from alignlab.data import (
    Comparison,
    Demonstration,
    RecordFileError,
    Sample,
    detect_kind,
    read_records,
    validate,
    write_records,
)
from alignlab.data.records import RecordError


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_comparison_from_strings_and_defaults():
    c = Comparison.from_dict({"prompt": "p", "chosen": "a", "rejected": "b"})
    assert (c.prompt, c.chosen, c.rejected, c.annotator, c.weight, c.meta) == (
        "p",
        "a",
        "b",
        None,
        1.0,
        {},
    )


def test_comparison_implicit_prompt_is_split_at_last_shared_turn():
    user = {"role": "user", "content": "hi"}
    chosen = [user, {"role": "assistant", "content": "hello"}]
    rejected = [user, {"role": "assistant", "content": "go away"}]
    c = Comparison.from_dict({"chosen": chosen, "rejected": rejected})
    assert c.prompt == [user]
    assert c.chosen == chosen[1:] and c.rejected == rejected[1:]


def test_every_problem_of_a_record_is_reported_at_once():
    with pytest.raises(RecordError) as e:
        Comparison.from_dict(
            {"prompt": "", "chosen": 3, "rejected": [{"role": "bot", "content": "x"}], "weight": 2}
        )
    fields = [p.field for p in e.value.problems]
    assert fields == ["chosen", "rejected[0].role", "prompt", "weight"]


def test_chosen_identical_to_rejected_is_an_error():
    with pytest.raises(RecordError, match="rejected: identical to chosen"):
        Comparison.from_dict({"prompt": "p", "chosen": "a", "rejected": "a"})


def test_demonstration_from_messages():
    d = Demonstration.from_dict(
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    )
    assert d.prompt == [{"role": "user", "content": "q"}]
    assert d.response == [{"role": "assistant", "content": "a"}]
    with pytest.raises(RecordError, match="last message must be the assistant"):
        Demonstration.from_dict({"messages": [{"role": "user", "content": "q"}]})


def test_detect_kind():
    assert detect_kind({"prompt": "p", "chosen": "a"}) == "comparison"
    assert detect_kind({"prompt": "p", "completion": "a"}) == "demonstration"
    assert detect_kind({"input": "x"}) == "sample"
    assert detect_kind({"text": "x"}) is None


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".parquet", ""])
def test_round_trip_in_every_format(tmp_path, suffix):
    user = [{"role": "user", "content": "q"}]
    records = [
        Comparison(user, "a", "b", "ann-1", 0.8, {"k": 1}),
        Comparison(user, "x", "y", None, 1.0, {"other": [1, 2]}),
    ]
    path = tmp_path / f"prefs{suffix}"
    assert write_records(path, records) == 2
    assert read_records(path) == records


def test_columnar_formats_refuse_mixed_text_kinds(tmp_path):
    records = [Comparison("p", "a", "b"), Comparison([{"role": "user", "content": "q"}], "x", "y")]
    with pytest.raises(ValueError, match="column 'prompt' mixes plain strings and chat-message"):
        write_records(tmp_path / "x.parquet", records)
    write_records(tmp_path / "x.jsonl", records)
    assert read_records(tmp_path / "x.jsonl") == records


def test_samples_and_demonstrations_round_trip(tmp_path):
    samples = [Sample("what ?", "x", ["x", "y"], "id-1", {"family": "f"})]
    write_records(tmp_path / "s.jsonl", samples)
    assert read_records(tmp_path / "s.jsonl") == samples
    demos = [Demonstration("q", "a", {"n": 1})]
    write_records(tmp_path / "d.jsonl", demos)
    assert read_records(tmp_path / "d.jsonl") == demos


def test_reader_names_file_and_line_of_the_first_bad_record(tmp_path):
    path = write_jsonl(
        tmp_path / "x.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}, "{oops"]
    )
    with pytest.raises(RecordFileError, match=r"x.jsonl:2: <json>: bad JSON"):
        read_records(path)


def test_validate_finds_every_bad_line_and_keeps_going(tmp_path):
    good = {"prompt": "p", "chosen": "a", "rejected": "b"}
    rows = [good, good, {"prompt": "p", "chosen": "a"}, good, good, good, "not json", good]
    path = write_jsonl(tmp_path / "prefs.jsonl", rows)
    report = validate(path)
    assert not report.ok
    assert (report.n_records, report.n_bad) == (8, 2)
    assert [(p.line, p.field) for p in report.problems] == [(3, "rejected"), (7, "<json>")]
    assert str(report.problems[0]) == f"{path}:3: rejected: missing field"


def test_validate_reads_gzip(tmp_path):
    path = tmp_path / "prefs.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    assert validate(path).ok


def test_write_is_atomic_on_failure(tmp_path):
    path = tmp_path / "out.jsonl"
    write_records(path, [Demonstration("q", "a")])

    def broken():
        yield Demonstration("q", "b")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        write_records(path, broken())
    assert read_records(path) == [Demonstration("q", "a")]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_complete_lines_drop_and_cut_a_torn_last_line(tmp_path):
    from alignlab.data.io import complete_lines

    path = tmp_path / "journal.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"a": 2}\n{"a": ')
    assert complete_lines(path, repair=False) == [(1, '{"a": 1}'), (3, '{"a": 2}')]
    assert path.read_bytes().endswith(b'{"a": ')
    assert complete_lines(path) == [(1, '{"a": 1}'), (3, '{"a": 2}')]
    assert path.read_bytes() == b'{"a": 1}\n\n{"a": 2}\n'


# -- issue 24: malformed files get file:line:field, never silence or a traceback

GOOD = {"prompt": "p", "chosen": "a", "rejected": "b"}
USER = {"role": "user", "content": "q"}
ANSWER = {"role": "assistant", "content": "a"}
OTHER = {"role": "assistant", "content": "b"}


def problems_of(path):
    return [(p.line, p.field, p.message) for p in validate(path).problems]


def one_bad_line(tmp_path, bad: str | bytes, name="prefs.jsonl"):
    """A file of a good record, then ``bad`` at line 2."""
    path = tmp_path / name
    bad = bad if isinstance(bad, bytes) else bad.encode("utf-8", "surrogatepass")
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + bad + b"\n")
    return path


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"prompt": "p", "chosen": "a", "rejected": "b", "chosen": "c"}', "chosen"),
        ('{"prompt": "p", "chosen": "a", "rejected": "b", "meta": {"x": 1, "x": 2}}', "meta.x"),
        (
            '{"prompt": [{"role": "user", "role": "assistant", "content": "q"}], '
            '"chosen": "a", "rejected": "b"}',
            "prompt[0].role",
        ),
    ],
)
def test_duplicate_keys_are_rejected_with_their_path(tmp_path, line, field):
    path = one_bad_line(tmp_path, line)
    [(line_no, got, message)] = problems_of(path)
    assert (line_no, got) == (2, field)
    assert "duplicate key" in message
    with pytest.raises(RecordFileError, match=rf"prefs.jsonl:2: {re.escape(field)}: duplicate"):
        read_records(path)


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"prompt": [ANSWER]}, "prompt[0].role", "a prompt must end with a user turn"),
        (
            {"prompt": [USER, ANSWER]},
            "prompt[1].role",
            "a prompt must end with a user turn, got 'assistant'",
        ),
        (
            {"prompt": [{"role": "system", "content": "be brief"}]},
            "prompt[0].role",
            "got 'system'",
        ),
        (
            {"prompt": [USER], "chosen": [{"role": "user", "content": "a"}]},
            "chosen[0].role",
            "a response is the assistant's turns only, got 'user'",
        ),
        (
            {"prompt": [USER], "rejected": [OTHER, {"role": "tool", "content": "x"}]},
            "rejected[1].role",
            "got 'tool'",
        ),
    ],
)
def test_chat_turns_must_be_a_prompt_then_the_assistants_reply(record, field, message):
    with pytest.raises(RecordError) as e:
        Comparison.from_dict({**GOOD, **record})
    assert [p.field for p in e.value.problems] == [field]
    assert message in e.value.problems[0].message


def test_implicit_prompt_split_checks_the_turns_at_their_written_index():
    user2 = {"role": "user", "content": "again"}
    with pytest.raises(RecordError) as e:
        Comparison.from_dict({"chosen": [USER, user2, ANSWER], "rejected": [USER, OTHER]})
    assert [p.field for p in e.value.problems] == ["chosen[1].role"]
    sys_turn = {"role": "system", "content": "s"}
    with pytest.raises(RecordError, match=r"prompt: missing field .*share no opening user turn"):
        Comparison.from_dict({"chosen": [sys_turn, USER, ANSWER], "rejected": [sys_turn, OTHER]})


def test_demonstrations_and_samples_check_their_turns_too():
    with pytest.raises(RecordError, match=r"messages\[1\]\.role: a prompt must end with a user"):
        Demonstration.from_dict({"messages": [USER, ANSWER, OTHER]})
    with pytest.raises(RecordError, match=r"response\[0\]\.role: a response is the assistant"):
        Demonstration.from_dict({"prompt": "q", "response": [USER]})
    with pytest.raises(RecordError, match=r"input\[0\]\.role: a prompt must end with a user"):
        Sample.from_dict({"input": [ANSWER]})
    assert Demonstration.from_dict({"prompt": [USER], "response": [ANSWER, OTHER]}).response == [
        ANSWER,
        OTHER,
    ]


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"chosen": "a\u0000"}, "chosen", "NUL character at position 1"),
        ({"prompt": [{"role": "user", "content": "\x00q"}]}, "prompt[0].content", "NUL"),
        ({"rejected": "b\ud800"}, "rejected", "lone surrogate '\\ud800' at position 1"),
        ({"meta": {"note": ["ok", "\udfff"]}}, "meta.note[1]", "lone surrogate"),
        ({"meta": {"k\x00": 1}}, "meta.k\x00", "field name: NUL"),
    ],
)
def test_nul_and_lone_surrogates_are_rejected_where_they_are(tmp_path, record, field, message):
    with pytest.raises(RecordError) as e:
        Comparison.from_dict({**GOOD, **record})
    assert [p.field for p in e.value.problems] == [field]
    assert message in e.value.problems[0].message
    path = one_bad_line(tmp_path, json.dumps({**GOOD, **record}))
    assert [(line, f) for line, f, _ in problems_of(path)] == [(2, field)]


@pytest.mark.parametrize(
    ("extra", "guess"),
    [
        ({"wieght": 0.6}, "weight"),
        ({"Weight": 0.6}, "weight"),
        ({"annotater": "x"}, "annotator"),
        ({"rejceted": "c"}, "rejected"),
        ({"meta ": {}}, "meta"),
    ],
)
def test_near_misses_of_known_fields_are_errors_with_a_did_you_mean(extra, guess):
    with pytest.raises(RecordError) as e:
        Comparison.from_dict({**GOOD, **extra})
    [problem] = e.value.problems
    assert (problem.field, problem.message) == (
        next(iter(extra)),
        f"unknown field; did you mean {guess!r}?",
    )


def test_other_extra_fields_are_allowed_as_datasets_carry_them():
    # UltraFeedback-style columns: ids, scores, the whole conversation.
    record = {
        **GOOD,
        "prompt_id": "p-1",
        "score_chosen": 8.0,
        "score_rejected": 3.0,
        "messages": [USER, ANSWER],
        "source": "x",
    }
    assert Comparison.from_dict(record) == Comparison("p", "a", "b")
    message = {"role": "user", "content": "q", "name": "alice"}
    assert Sample.from_dict({"input": [message]}).input == [message]
    with pytest.raises(RecordError, match=r"input\[0\]\.contnet: unknown field; did you mean"):
        Sample.from_dict({"input": [{"role": "user", "content": "q", "contnet": "x"}]})


def test_fields_of_another_kind_and_records_of_another_kind_are_rejected(tmp_path):
    with pytest.raises(RecordError, match="response: a demonstration field in this record"):
        Comparison.from_dict({**GOOD, "response": "a"})
    with pytest.raises(RecordError, match="chosen: a comparison field in this record"):
        Demonstration.from_dict({"prompt": "q", "response": "a", "chosen": "a"})
    with pytest.raises(RecordError, match="completion: given with response"):
        Demonstration.from_dict({"prompt": "q", "response": "a", "completion": "b"})
    path = one_bad_line(tmp_path, json.dumps({"prompt": "q", "response": "a"}))
    assert problems_of(path)[0] == (
        2,
        "<record>",
        "a demonstration record in a file of comparison records",
    )


def test_a_weight_below_half_reverses_the_label_and_is_refused(tmp_path):
    for weight in (0, 0.0, 0.49):
        with pytest.raises(RecordError, match=r"weight: .* < 0\.5 says rejected is the better"):
            Comparison.from_dict({**GOOD, "weight": weight})
    assert Comparison.from_dict({**GOOD, "weight": 0.5}).weight == 0.5
    path = write_jsonl(tmp_path / "zeros.jsonl", [{**GOOD, "weight": 0}] * 3)
    report = validate(path)
    assert not report.ok and report.n_bad == 3
    assert [(p.line, p.field) for p in report.problems] == [
        (1, "weight"),
        (2, "weight"),
        (3, "weight"),
    ]


def test_deep_nesting_is_a_clear_error_not_a_recursion_error(tmp_path):
    deep = json.dumps(GOOD)[:-1] + ', "meta": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}"
    path = one_bad_line(tmp_path, deep)
    assert problems_of(path) == [(2, "<json>", "nested too deeply for the JSON parser")]
    with pytest.raises(RecordFileError, match=r"prefs\.jsonl:2: <json>: nested too deeply"):
        read_records(path)
    # Under the parser's limit but over the records' own.
    meta: dict = {}
    inner = meta
    for _ in range(100):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(RecordError, match=r"meta(\.a)+: nested more than 64 levels deep"):
        Comparison.from_dict({**GOOD, "meta": meta})


@pytest.mark.parametrize("suffix", [".parquet", ""])
def test_columnar_writers_keep_fields_first_seen_in_a_later_row(tmp_path, suffix):
    # Arrow and datasets take their columns from the first row; a later annotator was lost.
    records = [Comparison("p", "a", "b"), Comparison("q", "c", "d", "ann-1", 0.7, {"k": 1})]
    path = tmp_path / f"late{suffix}"
    write_records(path, records)
    assert read_records(path) == records


def test_implicit_prompt_split_keeps_shared_assistant_turns_in_the_replies():
    # chosen's reply is a prefix of rejected's: the prompt still ends at the user turn.
    a2 = {"role": "assistant", "content": "more"}
    c = Comparison.from_dict({"chosen": [USER, ANSWER], "rejected": [USER, ANSWER, a2]})
    assert (c.prompt, c.chosen, c.rejected) == ([USER], [ANSWER], [ANSWER, a2])


def test_iter_objects_names_file_line_and_field_of_a_bad_row(tmp_path):
    from alignlab.data.io import iter_objects

    path = tmp_path / "rows.jsonl"
    path.write_text('{"q": "a", "n": 1}\n\n{"q": "b"}\n')
    assert [(w, r["q"]) for w, r in iter_objects(path, ("q",))] == [
        (f"{path}:1", "a"),
        (f"{path}:3", "b"),
    ]
    for bad, message in (
        ('{"q": " "}', r":2: q: expected a non-empty string"),
        ("[1, 2]", r":2: expected an object"),
        ('{"q": ', r":2: <json>: bad JSON"),
    ):
        path.write_text('{"q": "a"}\n' + bad + "\n")
        with pytest.raises(ValueError, match=message):
            list(iter_objects(path, ("q",)))
