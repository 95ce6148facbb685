"""Reading and writing record files: JSONL (optionally gzipped), Parquet, HF datasets.

Every reader streams: JSONL line by line, Parquet batch by batch, a ``datasets``
directory through its memory-mapped Arrow table, so files larger than memory
validate and convert. Positions are reported as 1-based line numbers for JSONL
and 1-based row numbers for the other formats.

JSONL is read as bytes and decoded line by line, so a line that is not UTF-8 is
reported with its number; a duplicate key, a NUL byte or nesting deeper than the
parser allows is a problem of that line, never a silent last-value-wins or a
traceback. A file that cannot be read as a whole (not gzip, truncated, UTF-16,
not Parquet) raises :class:`RecordFileError` naming the file.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import json
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alignlab.data.jsonlines import BadLine, decode_line
from alignlab.data.records import (
    RECORD_TYPES,
    FieldProblem,
    Kind,
    Record,
    RecordError,
    detect_kind,
)

_UTF16_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

Format = Literal["jsonl", "parquet", "datasets"]


@dataclass(frozen=True, slots=True)
class Problem:
    """A located problem: ``file:line: field: message``, or ``file: field: message``
    when no line applies (``line`` is ``None``: the file cannot be read at all)."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}"


class RecordFileError(ValueError):
    """A record file holds a record that cannot be parsed."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


def complete_lines(path: str | Path, *, repair: bool = True) -> list[tuple[int, str]]:
    """The non-blank complete lines of an append-only JSONL journal, with their 1-based
    line numbers. A last line cut off by a killed writer is dropped and, with ``repair``,
    cut from the file so that appending continues cleanly."""
    path = Path(path)
    raw = path.read_bytes()
    complete = raw[: raw.rfind(b"\n") + 1]
    if repair and len(complete) < len(raw):
        with open(path, "r+b") as f:
            f.truncate(len(complete))
    lines = enumerate(complete.decode("utf-8").splitlines(), start=1)
    return [(line_no, line) for line_no, line in lines if line.strip()]


def detect_format(path: str | Path) -> Format:
    """File format from the path: a directory is a ``datasets`` save, else by suffix."""
    path = Path(path)
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            return "datasets"
        raise ValueError(f"{path}: a directory, but not a dataset saved with `save_to_disk`")
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise ValueError(
        f"{path}: unknown record file type (expected .jsonl, .jsonl.gz, .parquet, "
        "or a directory saved with datasets' `save_to_disk`)"
    )


def iter_raw(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(position, object)`` for every record; a JSONL line that is not valid
    JSON yields a :class:`BadLine` in place of the object. Blank lines are skipped."""
    fmt = detect_format(path)
    if fmt == "jsonl":
        yield from _iter_jsonl(Path(path))
    elif fmt == "parquet":
        yield from _iter_parquet(Path(path))
    else:
        yield from _iter_datasets(Path(path))


def _iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    name = str(path)
    gz = path.name.lower().endswith(".gz")
    line_no = 0
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as f:
            for line_no, raw in enumerate(f, start=1):
                if line_no == 1:
                    if raw.startswith(_UTF16_BOMS):
                        raise RecordFileError(
                            [Problem(name, 1, "<encoding>", "UTF-16/32 text: save it as UTF-8")]
                        )
                    raw = raw.removeprefix(codecs.BOM_UTF8)
                if b"\x00" in raw:
                    column = raw.index(b"\x00") + 1
                    yield (
                        line_no,
                        BadLine(
                            "<encoding>", f"NUL byte at column {column} (UTF-16 or binary data?)"
                        ),
                    )
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    yield (
                        line_no,
                        BadLine(
                            "<encoding>",
                            f"not UTF-8: byte {raw[e.start]:#04x} at column {e.start + 1}",
                        ),
                    )
                    continue
                if text.strip():
                    yield line_no, decode_line(text)
    except gzip.BadGzipFile as e:
        raise RecordFileError(
            [Problem(name, None, "<file>", f"not a gzip file ({e}); is it plain JSONL?")]
        ) from None
    except (EOFError, zlib.error) as e:
        raise RecordFileError(
            [
                Problem(
                    name,
                    line_no + 1,
                    "<file>",
                    f"compressed data ends or breaks after line {line_no}: truncated or "
                    f"corrupt ({e or 'unexpected end of stream'})",
                )
            ]
        ) from None


def _iter_parquet(path: Path) -> Iterator[tuple[int, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = 0
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=8192)
        for batch in batches:
            for obj in batch.to_pylist():
                row += 1
                yield row, _drop_nulls(obj)
    except (pa.ArrowException, OSError) as e:
        raise RecordFileError(
            [Problem(str(path), row + 1 if row else None, "<file>", f"unreadable Parquet: {e}")]
        ) from None


def _iter_datasets(path: Path) -> Iterator[tuple[int, Any]]:
    import datasets

    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        raise ValueError(
            f"{path}: a DatasetDict with splits {list(ds)}; pass one split's directory, "
            f"e.g. {path / next(iter(ds))}"
        )
    row = 0
    for batch in ds.iter(batch_size=8192):
        columns = list(batch)
        for values in zip(*(batch[c] for c in columns), strict=True):
            row += 1
            yield row, _drop_nulls(dict(zip(columns, values, strict=True)))


def _drop_nulls(obj: dict) -> dict:
    # Columnar formats give every row every column; a null stands for "absent".
    obj = {k: v for k, v in obj.items() if v is not None}
    if isinstance(obj.get("meta"), str):
        # alignlab writes ``meta`` as JSON text in columnar files (see write_records).
        # Text that is not JSON stays text; validation reports it as the wrong type.
        with contextlib.suppress(json.JSONDecodeError):
            obj["meta"] = json.loads(obj["meta"])
    return obj


def _columnar(rows: list[dict], path: Path) -> list[dict]:
    """Rows ready for Arrow: every row with every column, ``meta`` as JSON text (its keys
    vary from record to record), and a clear error when a text column mixes plain
    strings and chat lists."""
    kinds: dict[str, set] = {}
    for row in rows:
        for key, value in row.items():
            if isinstance(value, (str, list)):
                kinds.setdefault(key, set()).add(type(value))
    mixed = sorted(k for k, types in kinds.items() if len(types) > 1)
    if mixed:
        raise ValueError(
            f"{path}: column {mixed[0]!r} mixes plain strings and chat-message lists, which "
            "Parquet and datasets cannot hold in one column; write .jsonl instead"
        )
    # Arrow and datasets take their columns from the first row alone: give every row
    # every column (null: absent), or a field first seen in a later row would be lost.
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return [
        {
            key: json.dumps(row[key], sort_keys=True)
            if key == "meta" and key in row
            else row.get(key)
            for key in columns
        }
        for row in rows
    ]


def parse(obj: Any, kind: Kind | None) -> Record:
    """Parse one raw object into a record of ``kind`` (detected when ``None``)."""
    if isinstance(obj, BadLine):
        raise RecordError([FieldProblem(obj.field, obj.message)])
    looks = detect_kind(obj)
    if kind is not None and looks not in (None, kind):
        try:
            return RECORD_TYPES[kind].from_dict(obj)
        except RecordError as e:
            hint = FieldProblem("<record>", f"a {looks} record in a file of {kind} records")
            raise RecordError([hint, *e.problems]) from None
    kind = kind or looks
    if kind is None:
        raise RecordError(
            [
                FieldProblem(
                    "<record>",
                    "cannot tell the record kind: expected prompt/chosen/rejected, "
                    "prompt/response, messages, or input fields",
                )
            ]
        )
    return RECORD_TYPES[kind].from_dict(obj)


def iter_objects(path: str | Path, text_fields: Iterable[str] = ()) -> Iterator[tuple[str, dict]]:
    """Yield ``(where, row)`` for each row of a file of plain objects that are no record
    kind of their own (a passage file, a statement set), ``where`` naming file and line;
    a line that is no JSON object, or whose ``text_fields`` are not non-empty strings,
    raises ``ValueError`` naming file, line and field."""
    for number, row in iter_raw(path):
        where = f"{path}:{number}"
        if isinstance(row, BadLine):
            raise ValueError(f"{where}: {row.field}: {row.message}")
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected an object")
        for name in text_fields:
            if not isinstance(row.get(name), str) or not row[name].strip():
                raise ValueError(f"{where}: {name}: expected a non-empty string")
        yield where, row


def iter_records(path: str | Path, kind: Kind | None = None) -> Iterator[Record]:
    """Stream parsed records; the first bad record raises :class:`RecordFileError`
    naming its file, line and fields. Use :func:`alignlab.data.validate.validate`
    to see every problem at once."""
    if kind is None:
        kind = sniff_kind(path)
    for line, obj in iter_raw(path):
        try:
            yield parse(obj, kind)
        except RecordError as e:
            raise RecordFileError(
                [Problem(str(path), line, p.field, p.message) for p in e.problems]
            ) from None


def read_records(path: str | Path, kind: Kind | None = None) -> list[Record]:
    """All records of a file, in order."""
    return list(iter_records(path, kind))


def sniff_kind(path: str | Path, max_records: int = 100) -> Kind | None:
    """The record kind of a file, from its first records that have a recognisable kind."""
    for i, (_, obj) in enumerate(iter_raw(path)):
        kind = detect_kind(obj)
        if kind is not None or i >= max_records:
            return kind
    return None


def write_records(path: str | Path, records: Iterable[Record | dict]) -> int:
    """Write records (or plain dicts) to ``path``, format chosen by suffix or
    ``datasets`` for a path without one; returns the number written.

    JSONL is written to a temporary file and renamed into place, so a crash never
    leaves a half-written file where a finished one is expected.
    """
    path = Path(path)
    rows = (r if isinstance(r, dict) else r.to_dict() for r in records)
    name = path.name.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return _write_jsonl(path, rows)
    rows = _columnar(list(rows), path)
    if name.endswith((".parquet", ".pq")):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    elif not path.suffix:
        import datasets

        datasets.Dataset.from_list(rows).save_to_disk(str(path))
    else:
        raise ValueError(f"{path}: cannot write records to {path.suffix!r} files")
    return len(rows)


def write_json(path: str | Path, value: Any, *, indent: int | None = None) -> None:
    """Write ``value`` as one JSON document to ``path`` (its directory made), whole or not
    at all: a temporary file renamed into place, so a killed run leaves no half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def json_once(path: str | Path, compute: Callable[[], Any], *, replace: bool = False) -> Any:
    """``path``'s JSON when it exists (and not ``replace``); else ``compute()``, written to
    ``path`` (:func:`write_json`) and returned: a step computed once and reused on a rerun."""
    path = Path(path)
    if path.exists() and not replace:
        return json.loads(path.read_text(encoding="utf-8"))
    value = compute()
    write_json(path, value)
    return value


def _write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    n = 0
    try:
        with opener(tmp, "wt", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False))
                out.write("\n")
                n += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n
