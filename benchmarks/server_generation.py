"""Generation through ``transformers serve`` against local generation, on one model:
verdict agreement at temperature 0, and rollout samples per second at temperature 1.

Starts ``transformers serve`` on loopback (127.0.0.1, a free port of 8790-8799, no model
pinned: requests name the model directory), then:

(a) runs eval suites (default ``sycophancy,refusal``, ``--limit`` samples each) at
    temperature 0 with the local :class:`~alignlab.models.backends.hf.HFBackend` and with
    :func:`~alignlab.models.backends.served_backend` on the same weights, each into its own
    run directory, and compares every verdict label of the two ``records.jsonl``
    (suite, sample, scorer), printing the agreement with n and a Wilson 95% interval, and
    how many answers were the same text;
(b) samples one response to each of ``--rollout-prompts`` prompts (the suites' inputs) at
    temperature 1, as a PPO rollout does: locally (:func:`generate_samples`, batched) and
    through the server (:func:`~alignlab.models.served.generate_served`, one seeded
    request each, ``--concurrency`` at a time), printing samples/s and tokens/s with n;
(c) times one ``reload`` weight sync: saving the policy and the server's first answer
    from the saved directory (what each PPO step through a server adds).

The organism (its base model serves as itself)::

    nice -n 10 python benchmarks/server_generation.py --model /work/organism/base

Gemma 3 270M: the server reads a directory holding alignlab's few-shot chat template
(``chat_template.jinja``) beside the weights; locally the base model gets the same
template from ``load_tokenizer``::

    nice -n 10 python benchmarks/server_generation.py --model /work/gemma_runs/serve-test \\
        --local-model /work/gemma_runs/gemma-270m --limit 8 --rollout-prompts 8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch

from alignlab.evals import RunConfig, SuiteOptions, build_tasks, run_eval
from alignlab.evals.records import read_eval_records
from alignlab.models.backends import GenerationRequest, model_stop_strings, served_backend
from alignlab.models.backends.hf import HFBackend
from alignlab.models.generation import generate_samples
from alignlab.models.served import generate_served
from alignlab.stats import wilson
from alignlab.trainers.weight_sync import RolloutServer
from transformers_serve import transformers_serve


def labels(out: Path) -> dict[tuple[str, str, str], str | None]:
    """Each (suite, sample id, scorer)'s verdict label in a run directory."""
    found = {}
    for record in read_eval_records(out / "records.jsonl"):
        for scorer, score in record.scores.items():
            found[(record.suite, record.id, scorer)] = score.label
    return found


def outputs(out: Path) -> dict[tuple[str, str], str]:
    return {(r.suite, r.id): r.output for r in read_eval_records(out / "records.jsonl")}


def agreement(local_dir: Path, served_dir: Path) -> None:
    here, there = labels(local_dir), labels(served_dir)
    keys = [k for k in here if k in there and (here[k] is not None or there[k] is not None)]
    same = sum(here[k] == there[k] for k in keys)
    lo, hi = wilson(same, len(keys))
    print(
        f"(a) verdict agreement: {same}/{len(keys)} = {same / max(1, len(keys)):.3f} "
        f"[Wilson 95%: {float(lo):.3f}, {float(hi):.3f}]"
    )
    for k in keys:
        if here[k] != there[k]:
            print(f"    differs: {k}: local {here[k]!r}, served {there[k]!r}")
    texts_here, texts_there = outputs(local_dir), outputs(served_dir)
    common = [k for k in texts_here if k in texts_there]
    equal = sum(texts_here[k] == texts_there[k] for k in common)
    print(f"    identical answer texts: {equal}/{len(common)} samples")


def evaluate(backend, suites: list[str], options: SuiteOptions, out: Path, limit: int) -> float:
    start = time.perf_counter()
    run_eval(build_tasks(suites, options), backend, out, RunConfig(limit=limit, progress=False))
    return time.perf_counter() - start


def rollout_rates(local: HFBackend, served, prompts, max_new_tokens: int, batch_size: int):
    tokenizer = local.tokenizer
    start = time.perf_counter()
    groups = generate_samples(
        local.model,
        tokenizer,
        prompts,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        seed=0,
    )
    local_s = time.perf_counter() - start
    local_tokens = sum(len(g[0].response_ids) for g in groups)
    start = time.perf_counter()
    served_gens = generate_served(
        served, tokenizer, prompts, list(range(len(prompts))), max_new_tokens=max_new_tokens
    )
    served_s = time.perf_counter() - start
    served_tokens = sum(len(g.response_ids) for g in served_gens)
    n = len(prompts)
    print(f"(b) rollout sampling, T=1, max_new_tokens={max_new_tokens}, n={n} prompts:")
    print(
        f"    local (batch {batch_size}): {n / local_s:.2f} samples/s, "
        f"{local_tokens / local_s:.1f} tokens/s ({local_s:.1f} s)"
    )
    print(
        f"    served (concurrency {served.concurrency}): {n / served_s:.2f} samples/s, "
        f"{served_tokens / served_s:.1f} tokens/s ({served_s:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="The model directory the server serves.")
    parser.add_argument("--local-model", help="The same weights locally (default: --model).")
    parser.add_argument("--suites", default="sycophancy,refusal")
    parser.add_argument("--limit", type=int, default=16, help="Samples per suite.")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--rollout-prompts", type=int, default=32)
    parser.add_argument("--rollout-max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16, help="Local generation batch.")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="Local torch threads.")
    parser.add_argument("--server-threads", type=int, default=1, help="The server's threads.")
    parser.add_argument("--serve-args", default="", help="More transformers serve options.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    suites = args.suites.split(",")
    local = HFBackend.load(args.local_model or args.model, device="cpu", batch_size=args.batch_size)
    options = SuiteOptions(max_new_tokens=args.max_new_tokens, temperature=0.0)
    prompts = [s.input for t in build_tasks(suites, options) for s in t.samples]
    prompts = prompts[:: max(1, len(prompts) // args.rollout_prompts)][: args.rollout_prompts]
    print(
        f"model {args.model} (local: {args.local_model or args.model}); torch threads: local "
        f"{torch.get_num_threads()}, server {args.server_threads}; suites {suites}, "
        f"limit {args.limit}"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        transformers_serve(
            None, *args.serve_args.split(), model_timeout=60, threads=args.server_threads
        ) as url,
    ):
        tmp = Path(tmp)
        served = served_backend(
            url, str(Path(args.model).resolve()), stop=model_stop_strings(args.model),
            concurrency=args.concurrency, timeout=600,
        )  # fmt: skip
        start = time.perf_counter()
        served.generate([GenerationRequest("Hello", max_new_tokens=1)])  # loads the model
        print(f"    the server loaded the model in {time.perf_counter() - start:.1f} s")
        local_s = evaluate(local, suites, options, tmp / "local", args.limit)
        served_s = evaluate(served, suites, options, tmp / "served", args.limit)
        print(f"    eval wall time: local {local_s:.1f} s, served {served_s:.1f} s")
        agreement(tmp / "local", tmp / "served")
        rollout_rates(local, served, prompts, args.rollout_max_new_tokens, args.batch_size)
        sync = RolloutServer(url, "reload", tmp / "sync", timeout=600)
        start = time.perf_counter()
        sync.sync(local.model, local.tokenizer, 0)
        print(
            f"(c) one reload weight sync (save, then the server's first answer): "
            f"{time.perf_counter() - start:.1f} s"
        )


if __name__ == "__main__":
    main()
