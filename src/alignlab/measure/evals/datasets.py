"""The suites' datasets: JSONL files of Samples shipped in ``alignlab/measure/evals/data/``.

Every dataset is written by alignlab, from code: each suite module's
``build_samples()`` documents how its samples are made, and
``python -m alignlab.measure.evals.write_data`` rewrites the files from it (a test
checks that the files are what the code makes).
"""

from __future__ import annotations

from pathlib import Path

from alignlab.data.io import read_records, write_records
from alignlab.data.records import Sample

DATA_DIR = Path(__file__).parent / "data"


def load_samples(name: str, directory: Path = DATA_DIR) -> tuple[Sample, ...]:
    """The samples of the dataset ``name`` (``sycophancy``, ``refusal``, ...)."""
    path = directory / f"{name}.jsonl"
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no such dataset; rebuild with `python -m alignlab.measure.evals.write_data`"
        )
    return tuple(read_records(path, "sample"))


def builders() -> dict:
    """Each shipped dataset's name and the function that builds it."""
    from alignlab.measure.evals.suites import (
        agreement,
        bias,
        honesty,
        jailbreak,
        refusal,
        sycophancy,
        verbosity,
    )

    modules = (sycophancy, refusal, honesty, bias, jailbreak, verbosity, agreement)
    return {m.DATASET: m.build_samples for m in modules}


def write_datasets(directory: Path = DATA_DIR) -> dict[str, int]:
    """Rewrite every dataset file in ``directory``; returns the sample count of each."""
    return {
        name: write_records(directory / f"{name}.jsonl", build())
        for name, build in builders().items()
    }
