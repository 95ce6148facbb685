"""Rewrite the suites' dataset files: ``python -m alignlab.evals.write_data [DIR]``."""

import sys
from pathlib import Path

from alignlab.data.io import write_records
from alignlab.evals.datasets import DATA_DIR
from alignlab.evals.suites import (
    agreement,
    bias,
    honesty,
    jailbreak,
    refusal,
    sycophancy,
    values,
    verbosity,
)


def builders() -> dict:
    """Each shipped dataset's name and the function that builds it."""
    modules = (sycophancy, refusal, honesty, bias, jailbreak, verbosity, agreement, values)
    return {m.DATASET: m.build_samples for m in modules}


def write_datasets(directory: Path = DATA_DIR) -> dict[str, int]:
    """Rewrite every dataset file in ``directory``; returns the sample count of each."""
    return {
        name: write_records(directory / f"{name}.jsonl", build())
        for name, build in builders().items()
    }


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR
    for name, n in write_datasets(target).items():
        print(f"{target / name}.jsonl: {n} samples")
