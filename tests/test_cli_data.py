import gzip
import json

import pytest
from typer.testing import CliRunner

from alignlab.cli import app
from alignlab.data import Comparison, RecordFileError, read_records, validate

runner = CliRunner()


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_help_lists_the_command_groups():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "data" in result.output and "organism" in result.output


def test_validate_names_both_bad_lines_and_fails(tmp_path):
    good = {"prompt": "p", "chosen": "a", "rejected": "b"}
    rows = [
        good,
        good,
        {"prompt": "p", "chosen": "a", "rejected": "a"},
        good,
        good,
        good,
        {"prompt": "p", "chosen": 7, "rejected": "b"},
        good,
    ]
    path = write_jsonl(tmp_path / "prefs.jsonl", rows)
    result = runner.invoke(app, ["data", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3: rejected: identical to chosen" in result.output
    assert f"{path}:7: chosen: expected a string or a message list, got int" in result.output
    assert "2 of 8 records are bad" in result.output


def test_validate_accepts_trl_style_files(tmp_path):
    strings = write_jsonl(
        tmp_path / "s.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}] * 3
    )
    user = {"role": "user", "content": "hi"}
    chats = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {
                "chosen": [user, {"role": "assistant", "content": "hello"}],
                "rejected": [user, {"role": "assistant", "content": "no"}],
            },
            {
                "prompt": [user],
                "chosen": [{"role": "assistant", "content": "a"}],
                "rejected": [{"role": "assistant", "content": "b"}],
            },
        ],
    )
    for path in (strings, chats):
        result = runner.invoke(app, ["data", "validate", str(path)])
        assert result.exit_code == 0, result.output
        assert "ok" in result.output


def test_validate_missing_file_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["data", "validate", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_stats_reports_counts_lengths_duplicates_and_agreement(tmp_path):
    rows = [
        {"prompt": "p", "chosen": "a b", "rejected": "c", "annotator": "x"},
        {"prompt": "p", "chosen": "a b", "rejected": "c", "annotator": "y"},
        {"prompt": "p", "chosen": "c", "rejected": "a b", "annotator": "z"},
        {"prompt": "q", "chosen": "d", "rejected": "e e e", "annotator": "x"},
        {"prompt": "q", "chosen": "d", "rejected": "e e e", "annotator": "x"},
    ]
    path = write_jsonl(tmp_path / "prefs.jsonl", rows)
    result = runner.invoke(app, ["data", "stats", str(path), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["n_records"] == 5
    assert stats["duplicate_rate"] == 0.2
    assert stats["lengths"]["chosen"]["max"] == 2
    assert stats["annotators"] == {"x": 3, "y": 1, "z": 1}
    # One pair labelled by x, y (agree) and z (disagrees): 2 of 3 annotator pairs differ.
    assert stats["agreement"]["n_units"] == 1
    assert abs(stats["agreement"]["disagreement_rate"] - 2 / 3) < 1e-9


def test_stats_counts_tokens_with_a_tokenizer(tmp_path):
    from alignlab.organisms.assistant.language import build_tokenizer

    build_tokenizer().save_pretrained(tmp_path / "tok")
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "what is 3 + 4 ?", "response": "7 ."}])
    result = runner.invoke(
        app, ["data", "stats", str(path), "--tokenizer", str(tmp_path / "tok"), "--json"]
    )
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["length_unit"] == "tokens"
    assert stats["lengths"]["prompt"]["max"] == 6
    assert stats["lengths"]["response"]["max"] == 2


GOOD = {"prompt": "p", "chosen": "a", "rejected": "b"}


def test_validate_names_the_file_of_a_broken_gzip_and_never_just_aborts(tmp_path):
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress((json.dumps(GOOD) + "\n").encode() * 500)[:-30])
    plain = write_jsonl(tmp_path / "plain.jsonl.gz", [GOOD])
    for path, pattern in ((cut, f"{cut}:"), (plain, f"{plain}: <file>: not a gzip file")):
        result = runner.invoke(app, ["data", "validate", str(path)])
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert pattern in result.output
        assert "cannot be read on" in result.output
        assert "Aborted" not in result.output


def test_validate_reports_encodings_with_file_and_line(tmp_path):
    utf16 = tmp_path / "u16.jsonl"
    utf16.write_text(json.dumps(GOOD) + "\n", encoding="utf-16")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"prompt": "\xff"}\n')
    result = runner.invoke(app, ["data", "validate", str(utf16)])
    assert result.exit_code == 1 and f"{utf16}:1: <encoding>: UTF-16/32 text" in result.output
    result = runner.invoke(app, ["data", "validate", str(bad)])
    assert result.exit_code == 1 and f"{bad}:2: <encoding>: not UTF-8" in result.output


def test_validate_refuses_what_used_to_pass_silently(tmp_path):
    rows = [
        '{"prompt": "p", "chosen": "a", "rejected": "b", "chosen": "c"}',
        {**GOOD, "prompt": [{"role": "assistant", "content": "x"}]},
        {**GOOD, "wieght": 0.7},
        {**GOOD, "weight": 0},
        {**GOOD, "chosen": "a\u0000"},
        {"prompt": "q", "response": "a"},
    ]
    path = write_jsonl(tmp_path / "prefs.jsonl", [GOOD, *rows])
    result = runner.invoke(app, ["data", "validate", str(path)])
    assert result.exit_code == 1
    for line, field in [
        (2, "chosen: duplicate key"),
        (3, "prompt[0].role: a prompt must end with a user turn"),
        (4, "wieght: unknown field; did you mean 'weight'?"),
        (5, "weight: 0 < 0.5"),
        (6, "chosen: NUL character"),
        (7, "<record>: a demonstration record in a file of comparison records"),
    ]:
        assert f"{path}:{line}: {field}" in result.output
    assert "6 of 7 records are bad" in result.output


def test_validate_an_empty_file_says_no_records(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    result = runner.invoke(app, ["data", "validate", str(path)])
    assert result.exit_code == 1 and "no records" in result.output


# -- the readers behind `data validate`: a file that cannot be read names the file


def test_a_file_that_is_not_gzip_or_is_truncated_names_the_file(tmp_path):
    plain = write_jsonl(tmp_path / "plain.jsonl.gz", [GOOD])
    with pytest.raises(RecordFileError, match=r"plain.jsonl.gz: <file>: not a gzip file"):
        read_records(plain)
    report = validate(plain)
    assert not report.ok and not report.readable
    assert [(p.line, p.field) for p in report.problems] == [(None, "<file>")]

    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress((json.dumps(GOOD) + "\n").encode() * 500)[:-30])
    with pytest.raises(RecordFileError, match=r"cut.jsonl.gz:\d+: <file>: compressed data ends"):
        read_records(cut)
    report = validate(cut)
    assert not report.readable and report.n_records > 0 and report.problems[-1].field == "<file>"


def test_bad_encodings_name_file_and_line(tmp_path):
    path = tmp_path / "prefs.jsonl"
    path.write_bytes(b"\n" + json.dumps(GOOD).encode().replace(b'"a"', b'"\xffa"') + b"\n")
    [problem] = validate(path, "comparison").problems
    assert (problem.line, problem.field, problem.message) == (
        2,
        "<encoding>",
        "not UTF-8: byte 0xff at column 28",
    )
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_text(json.dumps(GOOD) + "\n", encoding="utf-16")
    with pytest.raises(RecordFileError, match=r"utf16.jsonl:1: <encoding>: UTF-16/32 text"):
        read_records(utf16)
    bom = tmp_path / "bom.jsonl"
    bom.write_text(json.dumps(GOOD) + "\n", encoding="utf-8-sig")
    assert read_records(bom) == [Comparison("p", "a", "b")]


def test_a_file_that_is_not_parquet_names_the_file(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(RecordFileError, match=r"x.parquet: <file>: unreadable Parquet"):
        read_records(path)
