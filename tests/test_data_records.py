import gzip
import json

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
