"""Evaluation throughput against a local OpenAI-compatible server, and through a local
HF model: samples per second.

Starts the test server (``tests/openai_server.py``) on a tiny random model,
batching up to 32 concurrent requests, and runs the verbosity suite through
:class:`~alignlab.models.backends.OpenAIChatBackend` at concurrency 1, 8 and 32,
each into a fresh run directory (no response cache), printing samples per
second. Then runs the same suite, sampled at temperature 1 (every request carries its
own seed), through :class:`~alignlab.models.backends.HFBackend` on the same model, at
batch sizes 1 and 32. Run it from the repository root::

    python benchmarks/eval_throughput.py [--samples 96] [--max-new-tokens 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from alignlab.evals import RunConfig, SuiteOptions, build_tasks, run_eval
from alignlab.models.backends import HFBackend, OpenAIChatBackend
from openai_server import serve
from tiny_models import write_tiny_causal_lm


def timed(tasks, backend, out: Path, config: RunConfig) -> str:
    """Run the verbosity suite into ``out``; its samples per second, as a line's tail."""
    start = time.perf_counter()
    summary = run_eval(tasks, backend, out, config)
    seconds = time.perf_counter() - start
    done = summary["suites"]["verbosity"]["n_finished"]
    return f"{done / seconds:8.1f} samples/s ({done} in {seconds:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=96, help="Samples per run (at most 120).")
    parser.add_argument("--max-new-tokens", type=int, default=16, help="Tokens per answer.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    tasks = build_tasks("verbosity", SuiteOptions(max_new_tokens=args.max_new_tokens))
    with tempfile.TemporaryDirectory() as tmp:
        model = write_tiny_causal_lm(Path(tmp) / "model")
        with serve(model, "--max-batch", "32") as url:
            print(f"server {url}, {args.samples} samples, {args.max_new_tokens} tokens per answer")
            for concurrency in args.concurrency:
                backend = OpenAIChatBackend(url, "tiny", concurrency=concurrency)
                config = RunConfig(
                    limit=args.samples, chunk_size=max(16, 2 * concurrency), progress=False
                )
                rate = timed(tasks, backend, Path(tmp) / f"run-{concurrency}", config)
                print(f"concurrency {concurrency:>3}: {rate}")
        sampled = build_tasks(
            "verbosity", SuiteOptions(max_new_tokens=args.max_new_tokens, temperature=1.0)
        )
        print("local HF model, sampled at temperature 1, each request seeded:")
        for batch_size in (1, 32):
            backend = HFBackend.load(model, device="cpu", batch_size=batch_size)
            config = RunConfig(limit=args.samples, chunk_size=64, progress=False)
            rate = timed(sampled, backend, Path(tmp) / f"hf-{batch_size}", config)
            print(f"batch size  {batch_size:>3}: {rate}")


if __name__ == "__main__":
    main()
