"""Each stage of the ladder measured the same way: held-out prompts, sampled answers, gold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alignlab.data import read_records, write_records
from alignlab.experiments.demo.measure import (
    gold_metrics,
    kl_to_reference,
    ordering_agreement,
    policy_agreement,
)
from alignlab.stats import Estimate


@dataclass
class HeldOut:
    """What every stage is measured on: held-out prompts and held-out pairs."""

    prompts: list
    families: list[str]
    pairs: list[tuple]
    pair_gold: np.ndarray
    shown: list[int]
    """Indices of the prompts whose answers the report shows."""

    @classmethod
    def load(cls, organism: Path, pairs, pair_gold, shown_families, limit=None) -> HeldOut:
        from alignlab.trainers.tracking import spread

        samples = read_records(organism / "data" / "prompts_heldout.jsonl", "sample")
        if limit is not None:
            samples = spread(samples, limit)
        families = [s.meta.get("family", "") for s in samples]
        shown = [families.index(f) for f in shown_families if f in families]
        return cls([s.input for s in samples], families, pairs, pair_gold, shown)

    def pair_scores(self, reward_fn) -> np.ndarray:
        """``reward_fn``'s scores of both answers of every held-out pair, ``[N, 2]``."""
        prompts = [p for p, _, _ in self.pairs for _ in range(2)]
        responses = [r for _, a, b in self.pairs for r in (a, b)]
        return np.asarray(reward_fn(prompts, responses)).reshape(-1, 2)


def _samples_for_report(held: HeldOut, responses, judged) -> list[dict]:
    return [
        {
            "family": held.families[i],
            "prompt": held.prompts[i],
            "response": responses[i][0],
            "category": judged[i][0].category,
            "utility": judged[i][0].utility,
        }
        for i in held.shown
    ]


def _write_answers(path: Path, held: HeldOut, responses, judged) -> None:
    rows = [
        {
            "prompt": p,
            "response": r,
            "meta": {"family": f, "category": j.category, "utility": j.utility},
        }
        for p, f, rs, js in zip(held.prompts, held.families, responses, judged, strict=True)
        for r, j in zip(rs, js, strict=True)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_records(path, rows)


def _row(name: str, model: str, held: HeldOut, responses, seed: int, out: Path, **extra) -> dict:
    """A ladder row: gold metrics of ``responses`` plus ``extra`` ones; answers to ``out``."""
    metrics, judged = gold_metrics(held.prompts, held.families, responses, seed)
    _write_answers(out / f"{name}.jsonl", held, responses, judged)
    return {
        "stage": name,
        "model": model,
        "metrics": {**metrics, **extra},
        "samples": _samples_for_report(held, responses, judged),
    }


def evaluate_policy(
    name: str, model_dir: Path, reference, held: HeldOut, samples: int, seed: int, out: Path
) -> dict:
    """A ladder row for a policy: gold, KL to the reference, failure rates, agreement."""
    from alignlab.models import load_causal_lm, load_tokenizer
    from alignlab.models.generation import generate_samples

    model, tokenizer = load_causal_lm(model_dir, device="cpu"), load_tokenizer(model_dir)
    generations = generate_samples(
        model,
        tokenizer,
        held.prompts,
        max_new_tokens=48,
        num_return_sequences=samples,
        batch_size=128,
        seed=seed,
    )
    responses = [[g.text for g in gs] for gs in generations]
    return _row(
        name,
        str(model_dir),
        held,
        responses,
        seed,
        out,
        kl=kl_to_reference(model, reference, tokenizer.pad_token_id, generations, seed),
        agreement=policy_agreement(model, tokenizer, held.pairs, held.pair_gold, seed),
    )


def evaluate_best_of_n(
    name: str,
    policy_dir: Path,
    reward_fn,
    pair_scores: np.ndarray,
    n: int,
    kl: float,
    held: HeldOut,
    samples: int,
    seed: int,
    out: Path,
) -> dict:
    """A ladder row for best-of-n: ``samples`` picks per prompt, each the reward's best of n;
    its agreement is that of ``pair_scores``, the reward's scores of the held-out pairs."""
    from alignlab.models import load_causal_lm, load_tokenizer
    from alignlab.models.generation import generate

    model, tokenizer = load_causal_lm(policy_dir, device="cpu"), load_tokenizer(policy_dir)
    drawn = generate(
        model,
        tokenizer,
        held.prompts,
        max_new_tokens=48,
        num_return_sequences=n * samples,
        batch_size=max(1, 256 // (n * samples)),
        seed=seed,
    )
    flat_p = [p for p in held.prompts for _ in range(n * samples)]
    scores = np.asarray(reward_fn(flat_p, [r for rs in drawn for r in rs])).reshape(
        len(held.prompts), samples, n
    )
    picks = scores.argmax(axis=2)
    responses = [
        [drawn[p][k * n + picks[p, k]] for k in range(samples)] for p in range(len(held.prompts))
    ]
    return _row(
        name,
        f"best-of-{n} of {policy_dir} by {reward_fn!r}",
        held,
        responses,
        seed,
        out,
        kl=Estimate(kl, len(held.prompts), kl, kl).to_dict(),
        agreement=ordering_agreement(pair_scores, held.pair_gold, seed),
    )
