"""How long `alignlab data validate` takes on a file of 1,000,000 comparisons.

Writes a TRL-style JSONL (string and chat-list prompts, annotators, soft labels) to a
temporary directory, then times the validator and the CLI end to end.

    python benchmarks/validate_throughput.py [--n 1000000]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alignlab.data import validate


def write_file(path: Path, n: int) -> None:
    with path.open("w") as f:
        for i in range(n):
            if i % 2:
                prompt = [{"role": "user", "content": f"question number {i} about sums"}]
            else:
                prompt = f"question number {i} about sums"
            record = {
                "prompt": prompt,
                "chosen": f"a careful answer {i}",
                "rejected": f"a careless answer {i}",
                "annotator": f"annotator-{i % 8}",
                "weight": 0.9,
            }
            f.write(json.dumps(record) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prefs.jsonl"
        write_file(path, args.n)
        size = path.stat().st_size / 2**20
        start = time.perf_counter()
        report = validate(path)
        library = time.perf_counter() - start
        assert report.ok and report.n_records == args.n
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "alignlab.cli", "data", "validate", str(path)],
            check=True,
            capture_output=True,
        )
        cli = time.perf_counter() - start
    print(f"records: {args.n:,} ({size:.0f} MiB)")
    print(f"validate (library): {library:.1f} s ({args.n / library:,.0f} records/s)")
    print(f"alignlab data validate (CLI, incl. start-up): {cli:.1f} s")


if __name__ == "__main__":
    main()
