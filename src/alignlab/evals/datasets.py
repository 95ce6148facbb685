"""The suites' datasets: JSONL files of Samples shipped in ``alignlab/evals/data/``.

Every dataset is written by alignlab, from code: each suite module's
``build_samples()`` documents how its samples are made, and
``python -m alignlab.evals.write_data`` (:mod:`alignlab.evals.write_data`) rewrites the
files from it (a test
checks that the files are what the code makes).
"""

from __future__ import annotations

from pathlib import Path

from alignlab.data.io import read_records
from alignlab.data.records import Sample

DATA_DIR = Path(__file__).parent / "data"


def load_samples(name: str, directory: Path = DATA_DIR) -> tuple[Sample, ...]:
    """The samples of the dataset ``name`` (``sycophancy``, ``refusal``, ...)."""
    path = directory / f"{name}.jsonl"
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no such dataset; rebuild with `python -m alignlab.evals.write_data`"
        )
    return tuple(read_records(path, "sample"))
