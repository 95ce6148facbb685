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
from alignlab.trainers.best_of_n import select, selection_weights

SHOWN_FAMILIES = ("false_claim", "pushback", "harmful", "benign", "brevity", "unknown_entity")
"""Families whose first held-out prompt the report shows each stage's answer to."""


@dataclass
class HeldOut:
    """What every stage is measured on: held-out prompts and held-out pairs."""

    prompts: list
    families: list[str]
    pairs: list[tuple]
    pair_gold: np.ndarray

    @classmethod
    def load(cls, organism: Path, pairs, pair_gold, limit=None) -> HeldOut:
        from alignlab.trainers.tracking import spread

        samples = read_records(organism / "data" / "prompts_heldout.jsonl", "sample")
        if limit is not None:
            samples = spread(samples, limit)
        families = [s.meta.get("family", "") for s in samples]
        return cls([s.input for s in samples], families, pairs, pair_gold)

    @property
    def shown(self) -> list[int]:
        """Indices of the prompts whose answers the report shows: the first of each of
        :data:`SHOWN_FAMILIES` there is."""
        return [self.families.index(f) for f in SHOWN_FAMILIES if f in self.families]

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


def _row(
    name: str,
    model: str,
    held: HeldOut,
    responses,
    seed: int,
    out: Path,
    *,
    weights: np.ndarray | None = None,
    picks=None,
    **extra,
) -> dict:
    """A ladder row: gold metrics of ``responses`` (under the selection ``weights``, if
    any) plus ``extra`` ones; answers to ``out``: every sample, or with ``picks`` each
    prompt's picked one."""
    metrics, judged = gold_metrics(held.prompts, held.families, responses, seed, weights)
    if picks is not None:
        responses = [[rs[i]] for rs, i in zip(responses, picks, strict=True)]
        judged = [[js[i]] for js, i in zip(judged, picks, strict=True)]
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


def best_of_n_row(
    name: str, bon: dict, point: dict, pair_scores: np.ndarray, held: HeldOut, seed: int, out: Path
) -> dict:
    """The ladder's best-of-n row at the best-of-n curve's ``point``: its gold and failure
    rates are those of the same selection, from the same samples ``bon`` (prompts,
    families, responses, ``proxy`` scores) under the same weights and seed, so the row's
    gold is that point's, and its KL is the point's analytic one. The answers shown and written are each prompt's pick among its first n samples;
    the agreement is that of ``pair_scores``, the reward's scores of the held-out pairs."""
    n = point["pressure"]
    families = [str(f) for f in bon["families"]]
    sampled = HeldOut(bon["prompts"], families, held.pairs, held.pair_gold)
    kl = Estimate(point["kl"], len(bon["prompts"]), point["kl"], point["kl"])
    return _row(
        name,
        f"best-of-{n} of the SFT policy by the reward model",
        sampled,
        bon["responses"],
        seed,
        out,
        weights=selection_weights(bon["proxy"], n),
        picks=select(bon["proxy"], n),
        kl=kl.to_dict(),
        agreement=ordering_agreement(pair_scores, held.pair_gold, seed),
    )
