import tomllib
from dataclasses import dataclass, field
from typing import Literal

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
from alignlab.config.docs import config_template, field_docs


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


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("step", "; did you mean 'steps'?"),
        ("modes", "; did you mean 'mode'?"),
        ("zzz", " (known: inner, mode, path, rates, steps)"),
    ],
)
def test_an_unknown_key_is_answered_with_the_closest_field(key, hint):
    with pytest.raises(ConfigError) as e:
        from_dict(Outer, {key: 1}, source="run.toml")
    assert str(e.value) == f"run.toml: unknown key {key!r} for Outer{hint}"
    with pytest.raises(ConfigError) as e:
        from_dict(Outer, {"inner": {"lr_rate": 1}}, source="run.toml")
    assert str(e.value) == "run.toml: inner: unknown key 'lr_rate' for Inner; did you mean 'lr'?"


@dataclass(frozen=True)
class Adapter:
    """Low-rank adapters."""

    r: int = 16
    """Rank."""
    modules: str | tuple[str, ...] = "all-linear"


@dataclass
class Base:
    """Shared options."""

    lr: float = 1e-4
    """Peak learning rate,
    over two lines."""
    schedule: Literal["constant", "linear"] = "linear"
    """Learning rate after warm-up."""


@dataclass
class Stage(Base):
    """A stage with every kind of field.

    More prose that the template leaves out."""

    lr: float = 3e-5
    steps: int | None = None
    """Steps; unset: one epoch."""
    inner: Inner = field(default_factory=lambda: Inner(0.5))
    """The inner table."""
    adapter: Adapter | None = None
    """Adapters; unset: none."""
    rates: dict[str, float] = field(default_factory=lambda: {"a b": 0.5, "c": float("inf")})
    """Per-family rates."""
    empty: dict = field(default_factory=dict)
    """Nothing."""
    tags: list[str] = field(default_factory=lambda: ["x", 'say "hi"'])


def test_field_docs_read_the_source_of_the_class_and_its_bases():
    docs = {d.name: d for d in field_docs(Stage)}
    assert list(docs) == [
        *["lr", "schedule", "steps", "inner", "inner.lr", "inner.names"],
        *["adapter", "adapter.r", "adapter.modules", "rates", "empty", "tags"],
    ]
    lr = docs["lr"]
    # The subclass's default and annotation; the base's doc, since it redeclares none.
    assert (lr.type, lr.default, lr.doc) == ("float", 3e-5, "Peak learning rate,\nover two lines.")
    assert docs["schedule"].type == 'Literal["constant", "linear"]'
    assert (docs["steps"].type, docs["steps"].default) == ("int | None", None)
    assert docs["inner"].table and docs["inner"].doc == "The inner table."
    assert (docs["inner.lr"].default, docs["inner.lr"].doc) == (0.5, "learning rate")
    assert (docs["inner.names"].default, docs["inner.names"].doc) == (["a"], "")
    assert docs["adapter"].table and docs["adapter"].default is None
    assert (docs["adapter.r"].type, docs["adapter.r"].default) == ("int", 16)
    assert docs["adapter.modules"].type == "str | tuple[str, ...]"
    assert docs["tags"].doc == "" and not docs["tags"].table


def test_the_template_documents_every_field_and_loads_back_as_the_defaults(tmp_path):
    text = config_template(Stage)
    assert text.startswith("# Stage: A stage with every kind of field.\n")
    assert "More prose" not in text
    assert "# Peak learning rate,\n# over two lines.\n# type: float\nlr = 3e-05\n" in text
    assert "# Steps; unset: one epoch.\n# type: int | None\n# steps = ...\n" in text
    assert "# The inner table.\n# type: Inner\n[inner]\n# learning rate\n" in text
    assert "# type: Adapter | None\n# [adapter]\n# # Rank.\n# # type: int\n# r = 16\n" in text
    assert '[rates]\n"a b" = 0.5\nc = inf\n' in text
    assert "empty = {}\n" in text
    # Keys before tables, as TOML needs; tables in field order.
    assert text.index("tags = ") < text.index("[inner]") < text.index("[rates]")
    path = tmp_path / "stage.toml"
    path.write_text(text)
    assert load_config(Stage, path) == Stage()
    # Uncommenting an unset table switches it on at its defaults.
    lines = text.splitlines()
    start = lines.index("# [adapter]")
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    lines[start:end] = [line[2:] for line in lines[start:end]]
    path.write_text("\n".join(lines) + "\n")
    assert load_config(Stage, path) == Stage(adapter=Adapter())


def test_to_toml_quotes_keys_and_writes_lists_of_tables(tmp_path):
    data = {"a b": 1, "rows": [{"x": 1}, {"y": [2.5]}], "t": {"u": {"v": "w"}}}
    text = to_toml(data)
    assert text == '"a b" = 1\nrows = [{x = 1}, {y = [2.5]}]\n\n[t]\n[t.u]\nv = "w"\n'
    assert tomllib.loads(text) == data


@dataclass
class WithTable:
    classifier: dict[str, float] = field(default_factory=lambda: {"lr": 1e-3, "epochs": 8.0})


def test_a_table_setting_goes_over_the_default_table_instead_of_replacing_it(tmp_path):
    # --set classifier.lr=0.01 must not drop the table's other defaults (epochs 8 -> 1).
    config = load_config(WithTable, None, ["classifier.lr=0.01"])
    assert config.classifier == {"lr": 0.01, "epochs": 8.0}
    assert load_config(Outer, None, ["rates.a=0.5"]).rates == {"a": 0.5}
    assert from_dict(WithTable, to_dict(config)) == config
