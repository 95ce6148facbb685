"""Fuzzing the record readers and `alignlab data validate` (issue 24).

Every generated file (valid comparisons, mutated ones, random JSON, random bytes;
as .jsonl, .jsonl.gz, sometimes truncated, and Parquet) must either load or get
:class:`RecordFileError` / validation problems that name the file, the line (where
one applies) and a field: never another exception, and never a silent change of
meaning. "Valid" means loadable by the trainers: every accepted comparison
round-trips through the writer unchanged and encodes under a chat template.

The counts are printed by the last test (run with ``-s`` to see them).
"""

from __future__ import annotations

import functools
import gzip
import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from alignlab.data import Comparison, RecordFileError, read_records, validate, write_records
from alignlab.data.io import iter_raw, parse

COUNTS: Counter = Counter()
FIELDS = ("prompt", "chosen", "rejected", "annotator", "weight", "meta")
TEMPLATE_ROLES = {"system", "user", "assistant"}  # what the organism's chat template knows

text = st.text(min_size=1, max_size=10).filter(lambda s: s.strip() and "\x00" not in s)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


def turn(role: str):
    return st.builds(lambda c: {"role": role, "content": c}, text)


prompt_turns = st.tuples(
    st.lists(turn("system") | turn("user") | turn("assistant"), max_size=2), turn("user")
).map(lambda t: [*t[0], t[1]])
reply_turns = st.lists(turn("assistant"), min_size=1, max_size=2)


@st.composite
def comparisons(draw) -> dict:
    """A valid comparison as a JSON object, in one of the accepted layouts."""
    form = draw(st.sampled_from(["strings", "chat", "implicit"]))
    prompt = draw(text if form == "strings" else prompt_turns)
    reply = text if form == "strings" else reply_turns
    chosen, rejected = draw(reply), draw(reply)
    if chosen == rejected:
        rejected = rejected + "!" if isinstance(rejected, str) else [*rejected, rejected[-1]]
    if form == "implicit":
        obj = {"chosen": prompt + chosen, "rejected": prompt + rejected}
    else:
        obj = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    if draw(st.booleans()):
        obj["annotator"] = draw(text)
    if draw(st.booleans()):
        obj["weight"] = draw(st.floats(0.5, 1.0))
    if draw(st.booleans()):
        obj["meta"] = draw(st.dictionaries(text, json_values, max_size=3))
    if draw(st.booleans()):
        obj["prompt_id"] = draw(text)  # extra fields datasets carry are allowed
    return obj


def misspell(name: str, how: int) -> str:
    variants = [
        name[1] + name[0] + name[2:],  # swap
        name[:-1],  # drop
        name + "s",  # add
        name.capitalize(),
        name[:2] + "x" + name[3:],  # substitute
    ]
    return variants[how % len(variants)]


def strings_of(obj, path=()):
    """Paths to every string value of ``obj``."""
    if isinstance(obj, str):
        yield path
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from strings_of(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from strings_of(v, (*path, i))


def set_at(obj, path, value):
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


def get_at(obj, path):
    for key in path:
        obj = obj[key]
    return obj


def _not_none(value) -> bool:
    return value is not None


MUST_REJECT = {
    "drop",
    "misspell",
    "near-miss",
    "duplicate",
    "nul",
    "surrogate",
    "low-weight",
    "foreign",
    "truncate",
}


@st.composite
def mutated(draw) -> tuple[object, str]:
    """A valid comparison, mutated: ``(object or JSON text, mutation name)``."""
    obj = json.loads(json.dumps(draw(comparisons())))
    how = draw(
        st.sampled_from(
            [*sorted(MUST_REJECT), "role", "value", "deep", "none"],
        )
    )
    keys = [k for k in FIELDS if k in obj]
    key = draw(st.sampled_from(keys))
    strings = list(strings_of(obj))
    if how == "drop":
        del obj[draw(st.sampled_from([k for k in ("prompt", "chosen", "rejected") if k in obj]))]
    elif how == "misspell":
        obj[misspell(key, draw(st.integers(0, 4)))] = obj.pop(key)
    elif how == "near-miss":
        # (a null is "absent" in columnar files, so the near-miss carries a value)
        obj[misspell(key, draw(st.integers(0, 4)))] = draw(json_values.filter(_not_none))
    elif how == "duplicate":
        line = json.dumps(obj)
        return line[:-1] + f", {json.dumps(key)}: {json.dumps(draw(json_values))}}}", how
    elif how in ("nul", "surrogate"):
        path = draw(st.sampled_from(strings))
        value = get_at(obj, path)
        bad = "\x00" if how == "nul" else chr(draw(st.integers(0xD800, 0xDFFF)))
        at = draw(st.integers(0, len(value)))
        set_at(obj, path, value[:at] + bad + value[at:])
    elif how == "low-weight":
        obj["weight"] = draw(st.floats(0.0, 0.5, exclude_max=True))
    elif how == "foreign":
        obj[draw(st.sampled_from(["response", "completion"]))] = draw(text)
    elif how == "truncate":
        line = json.dumps(obj)
        return line[: draw(st.integers(0, len(line) - 1))], how
    elif how == "role":
        roles = [p for p in strings if p and p[-1] == "content"]
        if roles:
            path = (*draw(st.sampled_from(roles))[:-1], "role")
            set_at(obj, path, draw(st.sampled_from(["system", "user", "assistant", "tool", "x"])))
    elif how == "value":
        obj[key] = draw(json_values)
    elif how == "deep":
        # As text: a test's own json.dumps would overflow where the reader must not.
        depth = draw(st.integers(1, 3000))
        obj.pop("meta", None)
        nested = '{"a": ' * depth + "1" + "}" * depth
        return json.dumps(obj)[:-1] + f', "meta": {nested}}}', how
    return obj, how


random_bytes = st.binary(max_size=40).map(lambda b: (b.replace(b"\n", b" "), "bytes"))
random_json = json_values.map(lambda v: (v, "json"))
entries = st.lists(mutated() | comparisons().map(lambda o: (o, "valid")) | random_json, max_size=6)


def encode_line(value, ascii_only: bool) -> bytes:
    if isinstance(value, bytes):
        return value
    line = value if isinstance(value, str) else json.dumps(value, ensure_ascii=ascii_only)
    return line.encode("utf-8", "surrogatepass")


@functools.cache
def tokenizer():
    from alignlab.organisms.assistant.language import build_tokenizer

    return build_tokenizer()


def expected_meaning(obj: dict, record: Comparison) -> None:
    """An accepted record says what its JSON says: no field dropped, folded or guessed."""
    for name in FIELDS:
        assert all(k == name or k.casefold() != name for k in obj), "case near-miss accepted"
    if "prompt" in obj:
        assert (record.prompt, record.chosen, record.rejected) == (
            obj["prompt"],
            obj["chosen"],
            obj["rejected"],
        )
    else:
        assert record.prompt and isinstance(record.prompt, list)
        assert record.prompt + record.chosen == obj["chosen"]
        assert record.prompt + record.rejected == obj["rejected"]
    weight = obj.get("weight")
    assert record.weight == (1.0 if weight is None else weight)
    assert 0.5 <= record.weight <= 1.0
    annotator = obj.get("annotator")
    assert record.annotator == (None if annotator is None else str(annotator))
    assert record.meta == (obj.get("meta") or {})


def loads_in_trainers(records: list[Comparison]) -> None:
    """The trainers' encoding (chat template) takes every accepted record."""
    from alignlab.models.sequences import encode_pairs

    def roles(text) -> set:
        return {m["role"] for m in text} if isinstance(text, list) else set()

    usable = [
        r
        for r in records
        if roles(r.prompt) | roles(r.chosen) | roles(r.rejected) <= TEMPLATE_ROLES
    ]
    if usable:
        prompts = [r.prompt for r in usable]
        encode_pairs(tokenizer(), prompts, [r.chosen for r in usable])
        encode_pairs(tokenizer(), prompts, [r.rejected for r in usable])


def write_file(root: Path, suffix: str, lines: list[bytes], rows: list) -> Path | None:
    """The file, or ``None`` for rows that Parquet cannot hold (mixed column types)."""
    path = root / f"fuzz{suffix}"
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = list(dict.fromkeys(k for r in rows for k in r))  # Arrow reads row 1 only
        rows = [
            {k: json.dumps(r[k]) if k == "meta" and k in r else r.get(k) for k in columns}
            for r in rows
        ]
        try:
            pq.write_table(pa.Table.from_pylist(rows), path)
        except (pa.ArrowException, OverflowError, UnicodeEncodeError):
            return None
        return path
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if suffix == ".jsonl.gz" else data)
    return path


def blank(line: bytes, first: bool) -> bool:
    """Whether the reader skips ``line`` as blank (it strips Unicode whitespace)."""
    if first:
        line = line.removeprefix(b"\xef\xbb\xbf")
    return not line.decode("utf-8", "replace").strip()


def check_located(problems, path: Path, n_lines: int) -> None:
    for p in problems:
        assert p.file == str(path) and p.field, p
        assert p.line is None or 1 <= p.line <= n_lines + 1, p
        assert str(p).startswith(f"{path}:" if p.line is None else f"{path}:{p.line}: ")


def check_file(root: Path, items: list, suffix: str, ascii_only: bool, cut: int | None) -> None:
    lines = [encode_line(v, ascii_only) for v, _ in items]
    path = write_file(root, suffix, lines, [v for v, _ in items])
    if path is None:
        COUNTS["parquet unwritable"] += 1
        return
    if cut is not None:
        data = path.read_bytes()
        path.write_bytes(data[: cut % max(len(data), 1)])
    report = validate(path, "comparison")
    check_located(report.problems, path, len(lines))
    bad = {p.line for p in report.problems}
    COUNTS["files"] += 1
    COUNTS["inputs"] += len(items)
    COUNTS["clear errors"] += len(bad)
    try:
        read_records(path, "comparison")
        assert report.ok or report.n_records == 0, "read_records loads what validate refuses"
    except RecordFileError as e:
        assert not report.ok
        check_located(e.problems, path, len(lines))
        assert str(path) in str(e)
    if cut is not None or not report.readable:
        return
    # What the readers make of every line validate accepted (read_records is these two).
    records = [parse(obj, "comparison") for line, obj in iter_raw(path) if line not in bad]
    for i, (value, how) in enumerate(items):
        if blank(lines[i], first=i == 0):
            COUNTS["blank lines"] += 1  # a cut to nothing: no record, nothing to reject
            continue
        COUNTS[f"{'must-reject' if how in MUST_REJECT else how} inputs"] += 1
        COUNTS["must-reject rejected"] += how in MUST_REJECT and i + 1 in bad
        if how == "valid" and i + 1 in bad:
            COUNTS["valid refused"] += 1
            pytest.fail(f"a valid record refused: {value!r}: {report.problems}")
    accepted = [
        (value, how)
        for i, (value, how) in enumerate(items)
        if i + 1 not in bad and not blank(lines[i], first=i == 0)
    ]
    assert len(records) == len(accepted)
    for (value, how), record in zip(accepted, records, strict=True):
        COUNTS["accepted"] += 1
        if how in MUST_REJECT:
            COUNTS["silent"] += 1
            pytest.fail(f"{how} accepted: {value!r}")
        obj = json.loads(value) if isinstance(value, (str, bytes)) else value
        try:
            expected_meaning(obj, record)
        except AssertionError:
            COUNTS["silent"] += 1
            raise
    loads_in_trainers(records)
    again = root / "again.jsonl"
    write_records(again, records)
    assert read_records(again, "comparison") == records


@pytest.mark.slow
@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    items=entries,
    extra_bytes=st.lists(random_bytes, max_size=2),
    suffix=st.sampled_from([".jsonl", ".jsonl.gz", ".parquet"]),
    ascii_only=st.booleans(),
    cut=st.none() | st.integers(1, 10_000),
)
def test_every_input_loads_or_gets_a_located_error(items, extra_bytes, suffix, ascii_only, cut):
    if suffix == ".parquet":
        # Parquet holds objects only (our writer refuses mixed columns), and is not cut.
        items = [(v, h) for v, h in items if isinstance(v, dict) and v]
        cut = None
    else:
        items = items + extra_bytes
        if suffix == ".jsonl":
            cut = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            check_file(Path(tmp), items, suffix, ascii_only, cut)
        except (AssertionError, pytest.fail.Exception):
            raise
        except Exception:
            COUNTS["tracebacks"] += 1
            raise


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=entries, extra_bytes=st.lists(random_bytes, max_size=2), gz=st.booleans())
def test_the_cli_never_crashes_and_names_the_file(items, extra_bytes, gz):
    from alignlab.cli import app

    lines = [encode_line(v, False) for v, _ in items + extra_bytes]
    data = b"".join(line + b"\n" for line in lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("f.jsonl.gz" if gz else "f.jsonl")
        path.write_bytes(gzip.compress(data) if gz else data)
        result = CliRunner().invoke(app, ["data", "validate", str(path)])
    COUNTS["cli runs"] += 1
    if not (result.exception is None or isinstance(result.exception, SystemExit)):
        COUNTS["tracebacks"] += 1
        raise result.exception
    assert result.exit_code in (0, 1), result.output
    assert "Aborted" not in result.output
    if result.exit_code == 1:
        assert str(path) in result.output


def test_fuzz_counts():
    print(
        "\nfuzz: "
        + ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items()))
        + " (tracebacks and silent must be 0)"
    )
    assert COUNTS["tracebacks"] == 0 and COUNTS["silent"] == 0
