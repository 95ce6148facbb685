"""Weak-to-strong generalization on the assistant organism: a shallow organism model,
trained on gold labels, supervises a deeper one (Burns et al. 2023: PGR often 20-50%
with naive fine-tuning, more with the auxiliary confidence loss).

The weak and strong models are organism base models built by the same recipe (the
organism's world config: the same corpus, seed and pre-training) and differing only in
depth, ``weak_layers`` and ``strong_layers``; a depth the organism already has is the
organism itself, any other is built once into ``output_dir/organisms/<organism
key>/layers-<k>`` (the build cache makes every later build a copy). The task is
:mod:`~alignlab.organisms.assistant.sum_statements`: is the sum statement ``3 + 4 = 9``
true? Judging one takes working the sum out, comparing it with the claim and reading the
comparison out, which a deep enough model learns in pre-training and a shallow one does
not. Per seed (new items, fresh heads), :func:`~alignlab.oversight.w2s.run_w2s_protocol`
trains the weak supervisor, its labels' students (naive and with the confidence loss) and
the strong ceiling, and scores them on the held-out template. ``output_dir`` holds::

    organisms/<organism key>/layers-<k>/         an organism model of depth k (when built)
    w2s/<key>/seed-<s>/{weak,student,test}.jsonl  the seed's item sets (A, B, C)
    w2s/<key>/seed-<s>/<row>/, weak_labels.jsonl, scores.json   its runs and hits

each reused when present, and the panel joins ``results.json``.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alignlab.data.io import write_records
from alignlab.experiments.organism import organism_key, ready_organism
from alignlab.experiments.oversight.base import OversightConfig, publish, run_dir, set_threads
from alignlab.organisms.assistant.build import build
from alignlab.organisms.assistant.sum_statements import SETS, item_sets
from alignlab.oversight.w2s import (
    LABEL_RULES,
    ROWS,
    STUDENTS,
    GapRecovered,
    W2SRun,
    W2SScores,
    pgr_interval,
    run_w2s_protocol,
)
from alignlab.progress import progress_bar
from alignlab.stats import over_seeds

LABELS = {
    "weak": "weak supervisor",
    "w2s_naive": "weak-to-strong (naive)",
    "w2s_confidence": "weak-to-strong (confidence loss)",
    "ceiling": "strong ceiling",
}


def _classifier_defaults() -> dict[str, Any]:
    return {"lr": 1e-3, "epochs": 8, "batch_size": 16, "max_length": 64}


@dataclass
class W2SConfig(OversightConfig):
    """Weak-to-strong generalization between organism models of two depths."""

    weak_layers: int = 3
    """Transformer layers of the weak supervisor's organism model."""
    strong_layers: int = 4
    """Transformer layers of the strong student's organism model."""
    n_train: int = 600
    """Items per seed in each training set: the weak supervisor's gold set A, and set B
    that it labels for the students (and whose gold trains the ceiling)."""
    n_test: int = 400
    """Test items per seed (set C, the held-out template)."""
    aux_weight: float = 0.5
    """Weight of Burns et al.'s auxiliary confidence loss for the second student (they use
    0.75 for their largest students)."""
    label_rule: str = "soft"
    """How the weak supervisor's p(correct) becomes the students' target: ``soft`` (the
    probability, as Burns et al.) or ``hard`` (its class)."""
    classifier: dict[str, Any] = field(default_factory=_classifier_defaults)
    """Settings of every classifier (any :class:`~alignlab.trainers.ClassifierConfig`
    field but the model, files, seed and ``aux_weight``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.weak_layers < self.strong_layers:
            raise ValueError(
                f"weak_layers, strong_layers: need 1 <= weak < strong, got "
                f"{self.weak_layers} and {self.strong_layers}"
            )
        if self.n_train < 2 or self.n_test < 2:
            raise ValueError("n_train, n_test: must be at least 2")
        if not 0.0 <= self.aux_weight <= 1.0:
            raise ValueError(f"aux_weight: must lie in [0, 1], got {self.aux_weight}")
        if self.label_rule not in LABEL_RULES:
            raise ValueError(
                f"label_rule: unknown {self.label_rule!r}; known: {', '.join(LABEL_RULES)}"
            )
        fixed = {"model", "train_file", "output_dir", "seed", "aux_weight"} & set(self.classifier)
        if fixed:
            raise ValueError(f"classifier: the experiment sets {sorted(fixed)} itself")


def organism_model(organism: Path, world, layers: int, out: Path, progress: bool) -> dict:
    """The base model of the organism's recipe with ``layers`` layers: the organism's own
    when it has that depth, else built into ``out/organisms/layers-<layers>``. Returns its
    ``path`` and the ``build_seconds`` of the build that made it."""
    target = organism
    if world.model.num_hidden_layers != layers:
        config = copy.deepcopy(world)
        config.model.num_hidden_layers = layers
        seed = json.loads((organism / "world.json").read_text(encoding="utf-8"))["seed"]
        target = out / "organisms" / organism_key(organism) / f"layers-{layers}"
        build(target, seed=seed, config=config, progress=progress)
    built = json.loads((target / "world.json").read_text(encoding="utf-8"))
    return {"path": str(target / "base"), "build_seconds": built["build_seconds"]}


def _seed_scores(config: W2SConfig, root: Path, weak: str, strong: str, seed: int) -> W2SScores:
    out = root / f"seed-{seed}"
    files = {name: out / f"{name}.jsonl" for name in SETS}
    if not all(f.exists() for f in files.values()):
        for name, items in item_sets(seed, config.n_train, config.n_test).items():
            write_records(files[name], items)
    settings = {"threads": config.threads, "progress": config.progress, **config.classifier}
    run = W2SRun(
        weak_model=weak,
        strong_model=strong,
        gold_a=files["weak"],
        gold_b=files["student"],
        test_c=files["test"],
        out=out,
        classifier=settings,
        aux_weight=config.aux_weight,
        label_rule=config.label_rule,
        seed=seed,
    )
    return run_w2s_protocol(run)


def run_w2s(config: W2SConfig) -> tuple[dict, Path]:
    """Run every seed (reusing finished ones), publish the panel; returns (panel, report)."""
    start = time.perf_counter()
    set_threads(config.threads)
    organism, world = ready_organism(config.organism)
    models = {
        role: organism_model(organism, world, layers, Path(config.output_dir), config.progress)
        for role, layers in (("weak", config.weak_layers), ("strong", config.strong_layers))
    }
    root = run_dir(config, "w2s", organism_key(organism))
    scores = []
    with progress_bar(len(config.seed_list), "weak-to-strong", enabled=config.progress) as advance:
        for seed in config.seed_list:
            scores.append(
                _seed_scores(config, root, models["weak"]["path"], models["strong"]["path"], seed)
            )
            advance(1)
    panel = w2s_panel(config, scores, models)
    panel["wall_s"] = time.perf_counter() - start
    return panel, publish(config, "w2s", panel)


# --- the panel -------------------------------------------------------------------------------


def _pgr(scores: list[W2SScores], student: str) -> GapRecovered:
    return pgr_interval(
        [s.hits["weak"] for s in scores],
        [s.hits[student] for s in scores],
        [s.hits["ceiling"] for s in scores],
    )


def _against_burns(pgr: GapRecovered) -> str:
    """Where a naive PGR lies against Burns et al.'s 20-50%."""
    if pgr.value is None:
        return "undefined"
    if pgr.hi is not None and pgr.hi < 0.2:
        return "below Burns et al.'s 20-50%"
    if pgr.lo is not None and pgr.lo > 0.5:
        return "above Burns et al.'s 20-50%"
    if 0.2 <= pgr.value <= 0.5:
        return "within Burns et al.'s 20-50%"
    return "not distinguishable from Burns et al.'s 20-50% at this n"


def finding(config: W2SConfig, accuracy: dict, pgr: dict, confidence_gain, label_acc) -> str:
    """The sentence the panel leads with, composed from the measured numbers."""
    weak, ceiling = accuracy["weak"], accuracy["ceiling"]
    head = (
        f"Judging sum statements on a held-out template, the strong ceiling "
        f"({config.strong_layers} layers) scores {ceiling.value:.2f} and the weak supervisor "
        f"({config.weak_layers} layers) {weak.value:.2f}, whose labels are right on "
        f"{label_acc:.0%} of the students' items"
    )
    if pgr["w2s_naive"].value is None:
        return (
            head + "; the ceiling does not beat the weak model, so there is no gap to "
            "recover and PGR is undefined."
        )
    naive, conf = pgr["w2s_naive"], pgr["w2s_confidence"]
    if confidence_gain.lo > 0:
        effect = "raises the student's accuracy, as Burns et al. found"
    elif confidence_gain.hi < 0:
        effect = "lowers the student's accuracy, unlike Burns et al."
    else:
        effect = "changes the student's accuracy by no measurable amount"
    return (
        f"{head}. Trained on those labels, the strong student recovers PGR {naive} naively, "
        f"{_against_burns(naive)}, and {conf} with the confidence loss (aux_weight "
        f"{config.aux_weight:g}), which {effect} ({confidence_gain.value:+.3f} "
        f"[{confidence_gain.lo:+.3f}, {confidence_gain.hi:+.3f}])."
    )


def w2s_panel(config: W2SConfig, scores: list[W2SScores], models: dict) -> dict:
    """The panel (schema of :mod:`alignlab.report.panels`) of every seed's scores."""
    seeds, n = config.seed_list, sum(s.hits["weak"].size for s in scores)
    accuracy = {name: over_seeds([s.hits[name] for s in scores]) for name in ROWS}
    pgr = {name: _pgr(scores, name) for name in STUDENTS}
    per_seed = {name: [_pgr([s], name) for s in scores] for name in STUDENTS}
    gain = over_seeds(
        [s.hits["w2s_confidence"].astype(float) - s.hits["w2s_naive"] for s in scores],
        rate=False,
    )
    label_acc = float(np.mean([s.weak_label_accuracy for s in scores]))
    trained_on = {
        "weak": "gold labels of A",
        "w2s_naive": "weak labels of B",
        "w2s_confidence": f"weak labels of B, confidence loss {config.aux_weight:g}",
        "ceiling": "gold labels of B",
    }
    layers = {"weak": config.weak_layers}
    rows = [
        {
            "classifier": LABELS[name],
            "layers": layers.get(name, config.strong_layers),
            "trained on": trained_on[name],
            "accuracy": accuracy[name].to_dict(),
            "PGR": pgr[name].to_dict() if name in pgr else None,
        }
        for name in ROWS
    ]
    where = f"n={n // len(seeds)} test items per seed, {len(seeds)} seeds"
    return {
        "title": "Weak-to-strong generalization: sum statements",
        "finding": finding(config, accuracy, pgr, gain, label_acc),
        "setting": {
            "task": "is the sum statement true? (held-out template)",
            "n": f"{config.n_train} items in A and in B, {config.n_test} in C per seed",
            "seeds": len(seeds),
            "weak model": f"{config.weak_layers} layers ({models['weak']['path']})",
            "strong model": f"{config.strong_layers} layers ({models['strong']['path']})",
            "organism build seconds": " / ".join(
                f"{models[r]['build_seconds']:.0f}" for r in ("weak", "strong")
            ),
            "weak labels": config.label_rule,
            "weak label accuracy on B": round(label_acc, 3),
            "intervals": "95%, bootstrap over seeds then items (PGR: paired)",
        },
        "table": {
            "columns": ["classifier", "layers", "trained on", "accuracy", "PGR"],
            "rows": rows,
        },
        "curves": [
            {
                "title": f"Accuracy per seed ({where})",
                "x": "seed",
                "y": "test accuracy",
                "x_log": False,
                "series": [
                    {
                        "name": LABELS[name],
                        "points": [
                            {"x": seed, "y": over_seeds([s.hits[name]]).to_dict()}
                            for seed, s in zip(seeds, scores, strict=True)
                        ],
                    }
                    for name in ROWS
                ],
            },
            {
                "title": f"PGR per seed ({where})",
                "x": "seed",
                "y": "performance gap recovered",
                "x_log": False,
                "series": [
                    {
                        "name": LABELS[name],
                        "points": [
                            {"x": seed, "y": gap.to_dict()}
                            for seed, gap in zip(seeds, per_seed[name], strict=True)
                            if gap.value is not None
                        ],
                    }
                    for name in STUDENTS
                ],
            },
        ],
    }
