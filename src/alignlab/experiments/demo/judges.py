"""The demo's judges of pairs against gold: the reward model, the ensemble, the annotators
(their share of labels) and RL-CAI's AI feedback, each as the share of held-out pairs it
orders as gold does, beside the annotators' own agreement ceiling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from alignlab.data import read_records
from alignlab.data.stats import compute_stats
from alignlab.experiments.demo.evaluate import HeldOut
from alignlab.experiments.demo.measure import ordering_agreement
from alignlab.models.reward_fns import resolve_reward


def judges_against_gold(
    organism: Path,
    models: dict,
    held: HeldOut,
    labels: list[list[bool]],
    ai_labels: Path,
    pair_scores: dict,
    seed: int,
) -> dict:
    """Each judge of pairs against gold on the held-out pairs, and the annotators' ceiling.
    ``pair_scores`` holds the reward models' scores of the pairs already computed."""
    judges = []
    for name, key in (("reward model", "rm"), ("ensemble", "ensemble")):
        spec = models[key]
        scores = pair_scores.get(key)
        if scores is None:
            scores = held.pair_scores(resolve_reward(str(spec)))
        accuracy = json.loads((Path(spec).parent / "eval.json").read_text())
        judges.append(
            {
                "name": name,
                "gold_agreement": ordering_agreement(scores, held.pair_gold, seed),
                "annotator_accuracy": accuracy.get("accuracy") or accuracy.get("mean"),
            }
        )
    annotator = np.array([[np.mean(ls), 1 - np.mean(ls)] for ls in labels])
    judges.append(
        {
            "name": "annotators (share of labels)",
            "gold_agreement": ordering_agreement(annotator, held.pair_gold, seed),
        }
    )
    index = {(repr(p), a, b): i for i, (p, a, b) in enumerate(held.pairs)}
    ai = np.full((len(held.pairs), 2), 0.5)
    for c in read_records(ai_labels, "comparison"):
        a, b = sorted((c.chosen, c.rejected))
        i = index.get((repr(c.prompt), a, b))
        if i is not None:
            ai[i] = [c.weight, 1 - c.weight] if c.chosen == a else [1 - c.weight, c.weight]
    judges.append(
        {
            "name": "AI feedback (RL-CAI)",
            "gold_agreement": ordering_agreement(ai, held.pair_gold, seed),
        }
    )
    stats = compute_stats(organism / "data" / "prefs_heldout.jsonl")
    return {
        "judges": judges,
        "annotator_ceiling": 1 - stats.agreement.disagreement_rate,
        "annotator_pairs": stats.agreement.n_units,
    }
