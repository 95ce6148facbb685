"""Rewrite the suites' dataset files: ``python -m alignlab.measure.evals.write_data [DIR]``."""

import sys
from pathlib import Path

from alignlab.measure.evals.datasets import DATA_DIR, write_datasets

if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR
    for name, n in write_datasets(target).items():
        print(f"{target / name}.jsonl: {n} samples")
