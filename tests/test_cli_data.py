import json

from typer.testing import CliRunner

from alignlab.cli import app

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
