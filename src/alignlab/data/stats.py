"""Descriptive statistics of a record file: counts, lengths, duplicates, annotator agreement.

Inter-annotator agreement treats each (prompt, unordered response pair) as a
unit and the response an annotator preferred as the label, so Krippendorff's
alpha (nominal) and the raw pairwise disagreement rate are those of the
annotator pool on the pairs it labelled more than once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from alignlab.data.io import iter_records, sniff_kind
from alignlab.data.records import Comparison, Kind, Record, Text, text_of
from alignlab.stats.reliability import (
    disagreement_rate,
    krippendorff_alpha,
    reliability_from_labels,
)

LengthFn = Callable[[str], int]

TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "comparison": ("prompt", "chosen", "rejected"),
    "demonstration": ("prompt", "response"),
    "sample": ("input",),
}


@dataclass(frozen=True)
class LengthSummary:
    """Distribution of one text field's lengths (in ``unit``s)."""

    mean: float
    p50: float
    p90: float
    p99: float
    max: int

    @classmethod
    def of(cls, lengths: np.ndarray) -> LengthSummary:
        if lengths.size == 0:
            return cls(0.0, 0.0, 0.0, 0.0, 0)
        p50, p90, p99 = np.percentile(lengths, [50, 90, 99])
        return cls(float(lengths.mean()), float(p50), float(p90), float(p99), int(lengths.max()))


@dataclass(frozen=True)
class AnnotatorAgreement:
    """Agreement of a pool of annotators on the units several of them labelled."""

    n_annotators: int
    n_units: int  # units (prompt + response pair) labelled by two or more annotators
    disagreement_rate: float  # fraction of annotator pairs on a unit that disagree
    krippendorff_alpha: float  # nominal; 1 = perfect agreement, 0 = chance


@dataclass(frozen=True)
class DatasetStats:
    path: str
    kind: Kind
    n_records: int
    length_unit: str  # "words" or "tokens"
    lengths: dict[str, LengthSummary]
    duplicate_rate: float  # records that repeat an earlier record exactly (annotator included)
    annotators: Counter = field(default_factory=Counter)
    agreement: AnnotatorAgreement | None = None

    def to_json(self) -> str:
        # asdict would rebuild the Counter from (key, value) pairs and count the pairs.
        data = asdict(replace(self, annotators=None))
        data["annotators"] = dict(self.annotators)
        return json.dumps(data, indent=2, allow_nan=True)


def _key(value: Text) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def word_count(text: str) -> int:
    return len(text.split())


def token_counter(tokenizer) -> LengthFn:
    """Length function counting a tokenizer's tokens (no special tokens)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def compute_stats(
    path: str | Path, kind: Kind | None = None, *, length: LengthFn | None = None
) -> DatasetStats:
    """Stream ``path`` once and summarize it; ``length`` counts tokens (default: words)."""
    kind = kind or sniff_kind(path)
    if kind is None:
        raise ValueError(f"{path}: cannot tell the record kind from the first records")
    return summarize(
        iter_records(path, kind),
        kind,
        path=str(path),
        length=length,
        length_unit="words" if length is None else "tokens",
    )


def summarize(
    records: Iterable[Record],
    kind: Kind,
    *,
    path: str = "<records>",
    length: LengthFn | None = None,
    length_unit: str = "words",
) -> DatasetStats:
    length = length or word_count
    fields = TEXT_FIELDS[kind]
    lengths: dict[str, list[int]] = {f: [] for f in fields}
    seen: set[int] = set()
    n = duplicates = 0
    annotators: Counter = Counter()
    labels: list[tuple[tuple[str, str, str], str, int]] = []
    for record in records:
        n += 1
        texts = [getattr(record, f) for f in fields]
        for f, text in zip(fields, texts, strict=True):
            lengths[f].append(length(text_of(text)))
        keys = tuple(_key(t) for t in texts)
        fingerprint = hash((*keys, getattr(record, "annotator", None)))
        if fingerprint in seen:
            duplicates += 1
        seen.add(fingerprint)
        if isinstance(record, Comparison) and record.annotator is not None:
            annotators[record.annotator] += 1
            prompt, chosen, rejected = keys
            first, second = sorted((chosen, rejected))
            # The label is which member of the unordered pair won.
            labels.append(((prompt, first, second), record.annotator, int(chosen == first)))
    return DatasetStats(
        path=path,
        kind=kind,
        n_records=n,
        length_unit=length_unit,
        lengths={f: LengthSummary.of(np.asarray(v)) for f, v in lengths.items()},
        duplicate_rate=duplicates / n if n else 0.0,
        annotators=annotators,
        agreement=_agreement(labels, len(annotators)) if len(annotators) > 1 else None,
    )


def _agreement(labels: list, n_annotators: int) -> AnnotatorAgreement | None:
    matrix, _, _ = reliability_from_labels(labels)
    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    if not pairable.any():
        return AnnotatorAgreement(n_annotators, 0, float("nan"), float("nan"))
    matrix = matrix[:, pairable]
    return AnnotatorAgreement(
        n_annotators=n_annotators,
        n_units=int(pairable.sum()),
        disagreement_rate=float(disagreement_rate(matrix)),
        krippendorff_alpha=float(krippendorff_alpha(matrix, level="nominal")),
    )
