"""Records that flow between pipeline stages, and their files.

``Demonstration`` (SFT data), ``Comparison`` (preference data) and ``Sample``
(evaluation items), read from and written to JSONL, Parquet and HF ``datasets``
directories with line-numbered validation.
"""

from alignlab.data.io import (
    Problem,
    RecordFileError,
    detect_format,
    iter_records,
    read_records,
    sniff_kind,
    write_records,
)
from alignlab.data.records import (
    Comparison,
    Demonstration,
    FieldProblem,
    Labelled,
    Message,
    Record,
    RecordError,
    Sample,
    Text,
    detect_kind,
    text_of,
)
from alignlab.data.validate import ValidationReport, validate

__all__ = [
    "Comparison",
    "Demonstration",
    "FieldProblem",
    "Labelled",
    "Message",
    "Problem",
    "Record",
    "RecordError",
    "RecordFileError",
    "Sample",
    "Text",
    "ValidationReport",
    "detect_format",
    "detect_kind",
    "iter_records",
    "read_records",
    "sniff_kind",
    "text_of",
    "validate",
    "write_records",
]
