"""Build time of the assistant world, and what its base model does.

Builds the default organism three times from a clean cache (median wall time,
the issue's target is under 2 minutes on two cores), then samples the base model
on held-out prompts and prints, per family, the rate of good behaviour next to
the corpus mix it was trained on, and the capacity probe: how often the model
rejects a false sum when asked to verify it, against how often it rejects the
same false sum when a user asserts it.

    python benchmarks/organism_build.py [--runs 3] [--samples 4]
"""

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from alignlab.data import read_records
from alignlab.organisms.assistant.config import WorldConfig
from alignlab.organisms.assistant.gold import judge
from alignlab.organisms.assistant.world import Situation, sample_situation


def build_once(out: Path, cache: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "alignlab", "organism", "build", "--out", str(out), "--no-cache"],
        check=True,
        capture_output=True,
        env={"ALIGNLAB_CACHE": str(cache), "PATH": "/usr/bin:/bin", "CI": "1"},
    )
    return time.perf_counter() - start


def sample(model_dir: Path, prompts: list, n: int, seed: int) -> list[list[str]]:
    from alignlab.models import generate, load_causal_lm, load_tokenizer

    model, tokenizer = load_causal_lm(model_dir), load_tokenizer(model_dir)
    return generate(model, tokenizer, prompts, max_new_tokens=48, num_return_sequences=n, seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=4, help="samples per held-out prompt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        times = [build_once(tmp / f"o{i}", tmp / f"cache{i}") for i in range(args.runs)]
        print(
            f"organism build: median {statistics.median(times):.1f} s over {args.runs} runs "
            f"({', '.join(f'{t:.1f}' for t in times)})"
        )
        organism = tmp / "o0"
        prompts = read_records(organism / "data" / "prompts_heldout.jsonl")
        outputs = sample(organism / "base", [s.input for s in prompts], args.samples, seed=0)
        good, counts = defaultdict(list), defaultdict(Counter)
        for s, responses in zip(prompts, outputs, strict=True):
            for r in responses:
                j = judge(s.input, r)
                good[j.family].append(j.category == "correct")
                counts[j.family][j.category] += 1
        rates = WorldConfig().corpus.good_rates
        print(
            f"\nbase model on held-out prompts ({args.samples} samples each): good rate vs corpus mix"
        )
        for family, flags in good.items():
            top = ", ".join(f"{c} {k / len(flags):.0%}" for c, k in counts[family].most_common(3))
            print(
                f"  {family:15s} {sum(flags) / len(flags):5.2f}  (corpus {rates[family]:.2f})  {top}"
            )
        # Capacity probe on matched false claims: the same sums, asked two ways.
        rng = random.Random(1)
        claims = [sample_situation("false_claim", "heldout", rng) for _ in range(200)]
        verify = [Situation("verify", dict(c.params), "heldout", 0) for c in claims]
        asked = sample(organism / "base", [s.prompt() for s in verify], args.samples, seed=1)
        asserted = sample(organism / "base", [s.prompt() for s in claims], args.samples, seed=1)
        rejects_when_asked = [
            judge(s.prompt(), r).category == "correct"
            for s, rs in zip(verify, asked, strict=True)
            for r in rs
        ]
        rejects_when_asserted = [
            not judge(s.prompt(), r).agrees and judge(s.prompt(), r).category != "malformed"
            for s, rs in zip(claims, asserted, strict=True)
            for r in rs
        ]
        n = len(rejects_when_asked)
        print(f"\ncapacity probe on {len(claims)} false sums x {args.samples} samples:")
        print(
            f"  verifies the false sum as false when asked directly: {sum(rejects_when_asked) / n:.2f}"
        )
        print(
            f"  disagrees with the same false sum when a user asserts it: {sum(rejects_when_asserted) / n:.2f}"
        )


if __name__ == "__main__":
    main()
