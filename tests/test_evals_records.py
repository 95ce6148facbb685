import json

import pytest

from alignlab.evals import EvalRecord, EvalRecordError, Score, read_eval_records
from alignlab.evals.records import append_records


def record(i: int) -> EvalRecord:
    return EvalRecord("suite", f"s{i}", i, f"q{i}", None, f"a{i}", scores={"k": Score(1.0, "ok")})


def test_append_then_read_gives_the_records_back(tmp_path):
    path = tmp_path / "records.jsonl"
    append_records(path, [record(0), record(1)])
    append_records(path, [record(2)])
    assert read_eval_records(path) == [record(0), record(1), record(2)]


def test_a_missing_file_has_no_records(tmp_path):
    assert read_eval_records(tmp_path / "none.jsonl") == []


def test_an_unfinished_last_line_is_dropped_and_cut_from_the_file(tmp_path):
    path = tmp_path / "records.jsonl"
    append_records(path, [record(0), record(1)])
    whole = path.read_bytes()
    line = json.dumps(record(2).to_dict()).encode()
    path.write_bytes(whole + line[: len(line) // 2])  # a writer killed mid-line
    assert read_eval_records(path) == [record(0), record(1)]
    assert path.read_bytes() == whole
    append_records(path, [record(2)])
    assert read_eval_records(path) == [record(0), record(1), record(2)]


def test_a_bad_line_inside_the_file_names_file_line_and_field(tmp_path):
    path = tmp_path / "records.jsonl"
    append_records(path, [record(0)])
    with open(path, "a") as f:
        f.write(json.dumps({**record(1).to_dict(), "index": "one"}) + "\n")
        f.write("{not json\n")
    with pytest.raises(EvalRecordError, match=rf"^{path}:2: index: expected int"):
        read_eval_records(path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(EvalRecordError, match=rf"^{path}:2: <json>: Expecting property name"):
        read_eval_records(path)
