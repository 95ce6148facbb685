def test_json_once_computes_a_step_once_and_write_json_leaves_no_partial_file(tmp_path):
    from alignlab.data.io import json_once, write_json

    calls = []
    path = tmp_path / "deep" / "step.json"
    first = json_once(path, lambda: calls.append(1) or {"value": "é", "n": 3})
    again = json_once(path, lambda: calls.append(1) or {"value": "other"})
    assert first == again == {"value": "é", "n": 3} and calls == [1]
    assert json_once(path, lambda: {"value": "new"}, replace=True) == {"value": "new"}
    write_json(path, [1, 2], indent=2)
    assert path.read_text(encoding="utf-8") == "[\n  1,\n  2\n]\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["step.json"]
