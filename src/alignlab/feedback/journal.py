"""Output files that grow as work finishes, so a feedback run resumes where it stopped.

A run writes its records (``Demonstration`` or ``Comparison``) to one JSONL file,
appending each chunk's records when the chunk finishes and flushing them to disk; each
record carries its item's id in ``meta["id"]``. Next to it, ``OUTPUT.run.json`` holds the
settings a resumed run must match. A killed run loses at most the chunk in flight: on
resume, an unfinished last line is cut off and every id already written is skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alignlab.config import to_dict
from alignlab.data.io import complete_lines
from alignlab.data.records import RECORD_TYPES, Kind, Record, RecordError


class ResumeError(ValueError):
    """An output file that this run may not continue or overwrite."""


RUNTIME = frozenset(
    {"resume", "cache", "threads", "progress", "concurrency", "timeout", "max_retries"}
)
"""Config fields that change how a run goes, not what it writes: a resumed run may differ in them."""


@dataclass
class JournalRunConfig:
    """What every feedback run that writes a journal shares: how it runs, not what it writes."""

    chunk_size: int = 64
    """Items worked on together; their records are appended when the chunk finishes."""
    resume: bool = False
    """Continue the run in ``output``, skipping the items it finished."""
    cache: bool = True
    """Keep endpoint responses in OUTPUT.cache.sqlite, so a rerun does not pay again."""
    threads: int = 0
    """Torch CPU threads for local models; 0 keeps torch's default."""
    progress: bool = True
    """Show a progress bar on stderr."""

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size: must be at least 1, got {self.chunk_size}")
        if self.threads < 0:
            raise ValueError(f"threads: must be >= 0, got {self.threads}")


def run_settings(config) -> dict:
    """A run config as plain data, without its :data:`RUNTIME` fields (at any depth)."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in RUNTIME}
        return value

    return strip(to_dict(config))


def settings_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".run.json")


class Journal:
    """The output file of a resumable run: which ids are done, and appending more.

    Args:
        output: The JSONL file of records.
        kind: The kind of record it holds.
        settings: Plain data describing the run; a resumed run must have the same.
        resume: Continue an existing file (otherwise an existing, non-empty file is an error).
    """

    def __init__(self, output: str | Path, kind: Kind, settings: dict, *, resume: bool):
        self.path = Path(output)
        self.kind = kind
        self.records: list[Record] = []
        has_records = self.path.exists() and self.path.stat().st_size > 0
        if has_records and not resume:
            raise ResumeError(
                f"{self.path}: already holds records; resume the run (resume = true, or "
                "--resume) or choose another output"
            )
        settings = json.loads(json.dumps(settings))
        previous_file = settings_path(self.path)
        if has_records and previous_file.exists():
            previous = json.loads(previous_file.read_text())
            for key, value in settings.items():
                if previous.get(key) != value:
                    raise ResumeError(
                        f"{previous_file}: {key} is {previous.get(key)!r} but this run has "
                        f"{value!r}; resume with the same settings or choose another output"
                    )
        if has_records:
            self.records = self._read()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        previous_file.write_text(json.dumps(settings, indent=2) + "\n")
        self.done = {r.meta.get("id") for r in self.records}

    def _read(self) -> list[Record]:
        records = []
        for line_no, line in complete_lines(self.path):
            try:
                records.append(RECORD_TYPES[self.kind].from_dict(json.loads(line)))
            except json.JSONDecodeError as e:
                raise ResumeError(f"{self.path}:{line_no}: <json>: {e.msg}") from None
            except RecordError as e:
                raise ResumeError(f"{self.path}:{line_no}: {e}") from None
        return records

    def append(self, records: Iterable[Record]) -> None:
        """Append finished records and flush them to disk before returning."""
        records = list(records)
        with open(self.path, "a", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        self.records += records
        self.done |= {r.meta.get("id") for r in records}
