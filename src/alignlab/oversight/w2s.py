"""Weak-to-strong generalization (Burns et al. 2023): a weak supervisor's labels train a
strong student, measured by the performance gap recovered.

The procedure runs over model directories and ``Labelled`` files, so any pair of causal
LMs (the organism's sizes, or real models) can be the weak supervisor and the strong
student, each a classifier of correctness (:func:`~alignlab.trainers.train_classifier`,
a fresh scalar head on the LM). Three disjoint sets of items with gold labels:

1. the **weak** supervisor is fitted to gold labels of set A;
2. it labels set B: its ``p(correct)``, made into a target by a :data:`LABEL_RULES` rule
   (``soft`` keeps the probability, ``hard`` thresholds it at 0.5);
3. the strong model is fitted to those **weak labels** of B, naively (binary
   cross-entropy) and with the auxiliary **confidence** loss (weight ``aux_weight``); and,
   as the **strong ceiling**, to the gold labels of B;
4. every classifier is scored on the held-out test set C: a hit is an item whose
   predicted class (``p > 0.5``) is its gold label's.

The performance gap recovered is

    PGR = (acc(weak-to-strong) - acc(weak)) / (acc(strong ceiling) - acc(weak)),

0 when the student only matches its supervisor, 1 when it reaches the ceiling (Burns et
al. 2023 report 20-50% with naive fine-tuning on NLP tasks, more with the confidence
loss). It is undefined when the ceiling does not beat the weak model: there is no gap to
recover, and :func:`performance_gap_recovered` says so instead of giving a number. Its
interval (:func:`pgr_interval`) is a paired bootstrap: the three classifiers' hits on the
same test items are resampled together, after resampling the seeds as
:func:`~alignlab.stats.over_seeds` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alignlab.config import from_dict
from alignlab.data.io import read_records, write_records
from alignlab.data.records import Labelled
from alignlab.models.adapters import is_model_dir
from alignlab.registry import registrar
from alignlab.trainers.classifier import ClassifierConfig, correct_probs, train_classifier

ROWS = ("weak", "w2s_naive", "w2s_confidence", "ceiling")
"""The classifiers every run scores on the test set, in the table's order."""
STUDENTS = ("w2s_naive", "w2s_confidence")
"""The strong students trained on the weak supervisor's labels."""

LabelRule = Callable[[np.ndarray], np.ndarray]
LABEL_RULES: dict[str, LabelRule] = {}


register_label_rule = registrar(LABEL_RULES, "label rule")
"""Register how a supervisor's ``p(correct)`` becomes the student's target, by name."""


@register_label_rule("soft")
def soft_labels(probs: np.ndarray) -> np.ndarray:
    """``y = p``: the supervisor's probability itself (Burns et al. 2023 train on soft
    labels), so its confidence weighs each example."""
    return np.asarray(probs, dtype=float)


@register_label_rule("hard")
def hard_labels(probs: np.ndarray) -> np.ndarray:
    """``y = 1[p > 0.5]``: the supervisor's predicted class."""
    return (np.asarray(probs, dtype=float) > 0.5).astype(float)


def label_rule(name: str) -> LabelRule:
    if name not in LABEL_RULES:
        raise ValueError(f"label_rule: unknown {name!r}; known: {', '.join(sorted(LABEL_RULES))}")
    return LABEL_RULES[name]


# --- the performance gap recovered ------------------------------------------------------


def performance_gap_recovered(weak: float, w2s: float, ceiling: float) -> float | None:
    """``(w2s - weak) / (ceiling - weak)``; ``None`` when ``ceiling <= weak`` (no gap)."""
    gap = ceiling - weak
    if gap <= 0:
        return None
    return (w2s - weak) / gap


@dataclass(frozen=True)
class GapRecovered:
    """A PGR with its test items ``n`` and a ``level`` interval; ``value`` is ``None`` when
    the ceiling does not beat the weak model, and a bound is ``None`` when the bootstrap
    leaves it unbounded (the gap itself is uncertain, see :func:`pgr_interval`)."""

    value: float | None
    n: int
    lo: float | None
    hi: float | None
    level: float = 0.95
    gap_share_undefined: float = 0.0
    """Share of bootstrap replicates in which the ceiling did not beat the weak model."""

    def to_dict(self) -> dict:
        return {
            "value": self.value,
            "n": self.n,
            "lo": self.lo,
            "hi": self.hi,
            "level": self.level,
            "gap_share_undefined": self.gap_share_undefined,
        }

    def __str__(self) -> str:
        if self.value is None:
            return f"undefined (the ceiling does not beat the weak model; n={self.n})"
        lo = "-inf" if self.lo is None else f"{self.lo:.2f}"
        hi = "inf" if self.hi is None else f"{self.hi:.2f}"
        return f"{self.value:.3f} [{lo}, {hi}] (n={self.n})"


def _as_seeds(groups: Sequence, name: str) -> list[np.ndarray]:
    arrays = [np.asarray(g, dtype=float) for g in groups]
    if not arrays:
        raise ValueError(f"{name}: needs at least one seed")
    for i, a in enumerate(arrays):
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"{name}[{i}]: expected a non-empty 1-D array of hits")
    return arrays


def pgr_interval(
    weak: Sequence,
    w2s: Sequence,
    ceiling: Sequence,
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> GapRecovered:
    """The PGR of per-item hits on the same test items under each seed (one array per seed
    per classifier), with a two-stage paired percentile bootstrap.

    The point value is the PGR of the accuracies averaged over seeds (each seed weighs the
    same, as in :func:`~alignlab.stats.over_seeds`). A replicate draws the seeds with
    replacement, then for each drawn seed one resample of its items, the same items for
    all three classifiers (what an item's difficulty shares cancels), and computes the
    PGR of those accuracies. A replicate whose ceiling does not beat its weak model has
    no finite PGR; it counts as ``+inf`` (``-inf`` when the student fell below the weak
    model), so a bound that lands on one is reported as unbounded (``None``). The bounds
    are order statistics of the replicates (the inverted empirical distribution), which
    infinite replicates leave well defined.
    """
    weak_a, w2s_a, ceiling_a = (
        _as_seeds(g, name) for g, name in ((weak, "weak"), (w2s, "w2s"), (ceiling, "ceiling"))
    )
    if not len(weak_a) == len(w2s_a) == len(ceiling_a):
        raise ValueError("weak, w2s and ceiling: need the same seeds")
    for i, (k, w, c) in enumerate(zip(weak_a, w2s_a, ceiling_a, strict=True)):
        if not k.size == w.size == c.size:
            raise ValueError(f"seed {i}: weak, w2s and ceiling must score the same test items")
    if n_resamples < 1 or not 0.0 < level < 1.0:
        raise ValueError("n_resamples: must be >= 1, and level in (0, 1)")
    means = [float(np.mean([a.mean() for a in arrays])) for arrays in (weak_a, w2s_a, ceiling_a)]
    value = performance_gap_recovered(*means)
    n = sum(a.size for a in weak_a)
    if value is None:
        return GapRecovered(None, n, None, None, level, 1.0)
    rng = np.random.default_rng(seed)
    # inner[j][s, r]: classifier j's accuracy on seed s under item resample r.
    inner = [np.empty((len(weak_a), n_resamples)) for _ in range(3)]
    for s, arrays in enumerate(zip(weak_a, w2s_a, ceiling_a, strict=True)):
        items = rng.integers(0, arrays[0].size, size=(n_resamples, arrays[0].size))
        for j, a in enumerate(arrays):
            inner[j][s] = a[items].mean(axis=1)
    shape = (n_resamples, len(weak_a))
    picks, draws = rng.integers(0, len(weak_a), size=shape), rng.integers(0, n_resamples, shape)
    k, w, c = (m[picks, draws].mean(axis=1) for m in inner)
    gap, gained = c - k, w - k
    with np.errstate(divide="ignore", invalid="ignore"):
        replicates = np.where(gap > 0, gained / gap, np.where(gained < 0, -np.inf, np.inf))
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(replicates, [alpha, 1.0 - alpha], method="inverted_cdf")
    bound = lambda x: float(x) if np.isfinite(x) else None  # noqa: E731
    return GapRecovered(value, n, bound(lo), bound(hi), level, float(np.mean(gap <= 0)))


# --- the procedure -----------------------------------------------------------------------


@dataclass(frozen=True)
class W2SRun:
    """One weak-to-strong run: the two models, the three item sets, where it writes."""

    weak_model: str
    """The weak supervisor's causal LM directory (or hub id)."""
    strong_model: str
    """The strong student's causal LM directory (or hub id)."""
    gold_a: Path
    """Labelled items with gold labels that the weak supervisor is fitted to."""
    gold_b: Path
    """Labelled items the weak supervisor labels for the students (their gold labels train
    only the ceiling)."""
    test_c: Path
    """Held-out labelled items every classifier is scored on."""
    out: Path
    """The run's directory: ``<row>/`` classifier runs, ``weak_labels.jsonl``,
    ``scores.json``."""
    classifier: dict = field(default_factory=dict)
    """Settings of every classifier (any :class:`ClassifierConfig` field but the model,
    files and ``aux_weight``)."""
    aux_weight: float = 0.5
    """Weight of the confidence loss for the ``w2s_confidence`` student."""
    label_rule: str = "soft"
    """How the weak supervisor's ``p(correct)`` becomes the students' target
    (:data:`LABEL_RULES`)."""
    seed: int = 0
    """Seed of every classifier's head and data order."""


def _fit(run: W2SRun, name: str, model: str, train_file: Path, aux_weight: float) -> Path:
    """Classifier ``name`` of ``run``, trained unless its model directory is already there."""
    out = run.out / name
    if is_model_dir(out / "model"):
        return out / "model"
    settings = {
        **run.classifier,
        "model": model,
        "train_file": str(train_file),
        "output_dir": str(out),
        "aux_weight": aux_weight,
        "seed": run.seed,
        "resume": (out / "metrics.jsonl").exists(),
    }
    return train_classifier(from_dict(ClassifierConfig, settings, source=f"w2s.{name}"))


def _probs(model: Path, records: Sequence[Labelled]) -> np.ndarray:
    return correct_probs(model, [r.prompt for r in records], [r.response for r in records])


def weak_labelled(records: Sequence[Labelled], probs: np.ndarray, rule: str) -> list[Labelled]:
    """``records`` relabelled by the supervisor: ``label = rule(p)``, with the gold label
    and ``p`` kept in ``meta`` (``gold``, ``weak_p``) for analysis, never for training."""
    labels = label_rule(rule)(probs)
    return [
        Labelled(
            r.prompt, r.response, float(y), r.id, {**r.meta, "gold": r.label, "weak_p": float(p)}
        )
        for r, y, p in zip(records, labels, probs, strict=True)
    ]


@dataclass(frozen=True)
class W2SScores:
    """What a run measured on the test set, and how good the weak labels were."""

    hits: dict[str, np.ndarray]
    """Per row of :data:`ROWS`, whether each test item's predicted class is its gold one."""
    weak_label_accuracy: float
    """Share of the students' training items whose weak label is on the gold side of 0.5."""


def run_w2s_protocol(run: W2SRun) -> W2SScores:
    """Train the four classifiers of ``run`` (reusing finished ones) and score them on the
    test set; the scores are written to ``run.out/scores.json`` and read back from there."""
    scores_file = run.out / "scores.json"
    if not scores_file.exists():
        scores_file.parent.mkdir(parents=True, exist_ok=True)
        scores_file.write_text(json.dumps(_score(run)) + "\n", encoding="utf-8")
    scores = json.loads(scores_file.read_text(encoding="utf-8"))
    return W2SScores(
        {name: np.array(scores["hits"][name], dtype=bool) for name in ROWS},
        scores["weak_label_accuracy"],
    )


def _score(run: W2SRun) -> dict:
    label_rule(run.label_rule)  # fail before any training
    weak = _fit(run, "weak", run.weak_model, run.gold_a, 0.0)
    labels_file = run.out / "weak_labels.jsonl"
    if not labels_file.exists():
        pool = read_records(run.gold_b, "labelled")
        write_records(labels_file, weak_labelled(pool, _probs(weak, pool), run.label_rule))
    models = {
        "weak": weak,
        "w2s_naive": _fit(run, "w2s_naive", run.strong_model, labels_file, 0.0),
        "w2s_confidence": _fit(
            run, "w2s_confidence", run.strong_model, labels_file, run.aux_weight
        ),
        "ceiling": _fit(run, "ceiling", run.strong_model, run.gold_b, 0.0),
    }
    test = read_records(run.test_c, "labelled")
    gold = np.array([r.label for r in test]) > 0.5
    weak_labels = read_records(labels_file, "labelled")
    return {
        "n_test": len(test),
        "hits": {
            name: ((_probs(models[name], test) > 0.5) == gold).astype(int).tolist() for name in ROWS
        },
        "weak_label_accuracy": float(
            np.mean([(r.label > 0.5) == (r.meta["gold"] > 0.5) for r in weak_labels])
        ),
    }
