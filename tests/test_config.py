from dataclasses import dataclass, field

import pytest

from alignlab.config import (
    ConfigError,
    changed_fields,
    fingerprint,
    from_dict,
    load_config,
    to_dict,
    to_toml,
)


@dataclass
class Inner:
    lr: float = 1e-3
    """learning rate"""
    names: list[str] = field(default_factory=lambda: ["a"])


@dataclass
class Outer:
    steps: int = 10
    mode: str = "fast"
    inner: Inner = field(default_factory=Inner)
    path: str | None = None
    rates: dict[str, float] = field(default_factory=dict)


def test_defaults_file_and_overrides(tmp_path):
    assert load_config(Outer) == Outer()
    path = tmp_path / "c.toml"
    path.write_text('steps = 3\n[inner]\nlr = 2\nnames = ["x", "y"]\n')
    config = load_config(Outer, path, ["inner.lr=5e-4", "mode=slow", "rates.a=0.5", "path=/tmp/x"])
    assert config == Outer(3, "slow", Inner(5e-4, ["x", "y"]), "/tmp/x", {"a": 0.5})
    assert isinstance(config.inner.lr, float)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"step": 3}, "unknown key 'step' for Outer"),
        ({"steps": "3"}, "steps: expected int, got str '3'"),
        ({"inner": {"lr": "x"}}, "inner.lr: expected float, got str"),
        ({"inner": 3}, "inner: expected a table"),
        ({"inner": {"names": ["a", 1]}}, r"inner.names\[1\]: expected str"),
        ({"steps": True}, "steps: expected int, got bool"),
    ],
)
def test_errors_name_the_source_and_key(data, message):
    with pytest.raises(ConfigError, match=message) as e:
        from_dict(Outer, data, source="run.toml")
    assert str(e.value).startswith("run.toml: ")


def test_bad_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(Outer, tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = = 3")
    with pytest.raises(ConfigError, match=f"{bad}: not valid TOML"):
        load_config(Outer, bad)
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(Outer, None, ["steps"])


def test_toml_round_trip_and_fingerprint(tmp_path):
    config = Outer(7, "x", Inner(0.25, ["p"]), None, {"k": 1.5})
    path = tmp_path / "c.toml"
    path.write_text(to_toml(to_dict(config)))
    assert load_config(Outer, path) == config
    assert fingerprint(to_dict(config)) == fingerprint(
        to_dict(Outer(7, "x", Inner(0.25, ["p"]), None, {"k": 1.5}))
    )
    assert fingerprint(to_dict(config)) != fingerprint(to_dict(Outer()))


def test_changed_fields_names_every_key_that_differs_or_is_missing():
    old = {"lr": 0.1, "steps": 10, "nested": {"a": 1}, "gone": True}
    new = {"lr": 0.1, "steps": 20, "nested": {"a": 2}, "added": 0}
    assert changed_fields(old, new) == ["added", "gone", "nested", "steps"]
    assert changed_fields(new, new) == []
