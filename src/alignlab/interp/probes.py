"""Linear probes for truth on a model's hidden states, scored on topics they never saw.

A probe maps one layer's hidden state ``x`` of a statement to a score ``s(x)``; ``s > 0``
reads the statement as true. Three methods, in :data:`PROBES`:

- ``logistic`` (Azaria & Mitchell 2023, "The Internal State of an LLM Knows When It's
  Lying": 71-83% on held-out topics, above the model's stated judgement): features
  standardized on the training items, then scikit-learn's L2 logistic regression
  (liblinear)
  ``p(true | x) = sigma(w . x + b)``, its regularization ``C`` chosen from
  :data:`C_GRID` by held-out log loss on folds that split the training *topics*.
- ``mean_difference`` (Marks & Tegmark 2023, "The Geometry of Truth", the mass-mean
  probe): ``w = mu_true - mu_false`` and ``s(x) = w . (x - (mu_true + mu_false) / 2)``,
  no fitting beyond two means.
- ``ccs`` (Burns et al. 2022, "Discovering Latent Knowledge", contrast-consistent search):
  unsupervised. Each statement is stated twice, affirmed and denied (:data:`CONTRASTS`),
  giving ``x+`` and ``x-``, each set normalized by its own mean and standard deviation;
  ``p = sigma(theta . x + b)`` minimizes
  ``L = mean((p+ - (1 - p-))^2) + mean(min(p+, p-)^2) + l2 |theta|^2``
  (consistency, confidence), by L-BFGS from several random starts, keeping the lowest
  ``L``. ``s = (p+ + 1 - p-) / 2 - 1/2``. CCS cannot tell which end is true; the sign is
  set by the training items' labels (one bit of supervision), never the held-out ones.

Held out means held-out topics (:func:`cross_fit`): topics are dealt into folds, and every
statement is scored by the probe fitted on the other folds' topics only, so a probe that
memorized topics scores at chance. Statements are :class:`Statement` s: the package's
English set (:data:`PACKAGE_STATEMENTS`, written for alignlab: short true facts over a
dozen topics and false minimal edits of them), a user's JSONL of ``{"statement", "label",
"topic"}``, or the assistant world's sums (:func:`world_statements`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupKFold

from alignlab.data.io import iter_objects
from alignlab.organisms.assistant.world import MAX_OPERAND, wrong_sum

PACKAGE_STATEMENTS = Path(__file__).parent / "data" / "statements.jsonl"
"""The package's English statements (``--set statements=package``)."""

CONTRASTS = {"world": (" is true", " is false"), "english": (" This is true.", " This is false.")}
"""How a statement is affirmed and denied for CCS's contrast pairs, by language."""


@dataclass(frozen=True)
class Statement:
    """A statement with known truth, and the topic it is held out by."""

    text: str
    label: bool
    topic: str
    claim: tuple[int, int, int] | None = None
    """``(a, b, claim)`` of a world sum, so the model can be asked about it in its language."""


def read_statements(path: str | Path) -> list[Statement]:
    """Statements from a JSONL (or Parquet, datasets) file of ``{"statement": str, "label":
    true | false (or 1 | 0), "topic": str}``; a bad line is an error naming file, line, field."""
    out = []
    for where, row in iter_objects(path, ("statement", "topic")):
        label = row.get("label")
        if label not in (True, False, 0, 1) or isinstance(label, float):
            raise ValueError(f"{where}: label: expected true or false, got {label!r}")
        out.append(Statement(row["statement"].strip(), bool(label), row["topic"].strip()))
    check_statements(out, str(path))
    return out


def check_statements(statements: list[Statement], source: str) -> None:
    """Probing needs two topics or more, and true and false statements both."""
    if len({s.topic for s in statements}) < 2:
        raise ValueError(f"{source}: topic: needs statements of at least two topics")
    if len({s.label for s in statements}) < 2:
        raise ValueError(f"{source}: label: needs true and false statements both")


WORLD_FORM = "{a} + {b} = {claim}"
"""How a sum is stated in the world's language: the plain claim, with no cue to judge it
(the corpus goes on ``... is true .`` or ``... is false .``; ``"{a} + {b} = {claim} is"``
reads the model where it states its verdict)."""


def world_statement(a: int, b: int, claim: int, form: str = WORLD_FORM) -> str:
    """The claim ``a + b = claim`` in ``form``."""
    return form.format(a=a, b=b, claim=claim)


def world_statements(
    false_per_true: int = 1, seed: int = 0, form: str = WORLD_FORM
) -> list[Statement]:
    """The assistant world's sums as statements, ``3 + 4 = 7`` (true) and, for each ordered
    pair of operands, ``false_per_true`` distinct wrong sums off by 1 to 3 (its
    :func:`~alignlab.organisms.assistant.world.wrong_sum`); the topic is the unordered pair
    ``3 + 4``, so a sum and its mirror are held out together."""
    if false_per_true < 1:
        raise ValueError(f"false_per_true: must be at least 1, got {false_per_true}")
    rng = random.Random(f"world_statements:{seed}")
    out = []
    for a in range(MAX_OPERAND + 1):
        for b in range(MAX_OPERAND + 1):
            topic = f"{min(a, b)} + {max(a, b)}"
            out.append(Statement(world_statement(a, b, a + b, form), True, topic, (a, b, a + b)))
            wrong: list[int] = []
            while len(wrong) < false_per_true:
                claim = wrong_sum(a + b, rng)
                if claim not in wrong:
                    wrong.append(claim)
            out.extend(
                Statement(world_statement(a, b, c, form), False, topic, (a, b, c)) for c in wrong
            )
    return out


def load_statements(
    source: str, *, false_per_true: int = 1, seed: int = 0, form: str = WORLD_FORM
) -> tuple[list[Statement], str]:
    """``(statements, language)`` of ``source``: ``world`` (the world's sums in ``form``),
    ``package`` (:data:`PACKAGE_STATEMENTS`) or a file path (English)."""
    if source == "world":
        return world_statements(false_per_true, seed, form), "world"
    path = PACKAGE_STATEMENTS if source == "package" else Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"statements: {source}: not world, package, or a file")
    return read_statements(path), "english"


def contrast_texts(texts: list[str], language: str) -> tuple[list[str], list[str]]:
    """Each text affirmed and denied (:data:`CONTRASTS`), for CCS; a world text that already
    ends in its cue ``is`` gets the verdict only."""
    yes, no = CONTRASTS[language]
    texts = [t.removesuffix(" is") if language == "world" else t for t in texts]
    return [t + yes for t in texts], [t + no for t in texts]


# --- probes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Features:
    """One layer's hidden states of items: of the statement, and (for CCS) affirmed and denied."""

    plain: np.ndarray
    positive: np.ndarray | None = None
    negative: np.ndarray | None = None

    def take(self, index) -> Features:
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return Features(self.plain[index], pick(self.positive), pick(self.negative))


@dataclass(frozen=True)
class LinearProbe:
    """``s(x) = w . x + b`` on the statement's hidden state."""

    w: np.ndarray
    b: float

    def score(self, features: Features) -> np.ndarray:
        return features.plain @ self.w + self.b


@dataclass(frozen=True)
class ContrastProbe:
    """CCS: ``s = (p(x+) + 1 - p(x-)) / 2 - 1/2``, ``p = sigma(theta . normalized x + b)``."""

    theta: np.ndarray
    b: float
    pos_norm: tuple[np.ndarray, np.ndarray]
    neg_norm: tuple[np.ndarray, np.ndarray]

    def score(self, features: Features) -> np.ndarray:
        pos, neg = _contrast(features)
        p_pos = _sigmoid(_normalized(pos, self.pos_norm) @ self.theta + self.b)
        p_neg = _sigmoid(_normalized(neg, self.neg_norm) @ self.theta + self.b)
        return (p_pos + 1.0 - p_neg) / 2.0 - 0.5


Probe = LinearProbe | ContrastProbe
Fit = Callable[[Features, np.ndarray, np.ndarray, int], Probe]
"""``fit(features, labels, topics, seed) -> probe``; labels are booleans (true statement)."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + exp(-z)), without overflow


def _contrast(features: Features) -> tuple[np.ndarray, np.ndarray]:
    if features.positive is None or features.negative is None:
        raise ValueError("ccs: needs the affirmed and denied statements' hidden states")
    return features.positive, features.negative


def _norm(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    std = x.std(axis=0)
    return x.mean(axis=0), np.where(std > 0, std, 1.0)


def _normalized(x: np.ndarray, norm: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return (x - norm[0]) / norm[1]


C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
"""The inverse L2 strengths ``C`` the logistic probe chooses from."""


def _inner_folds(labels: np.ndarray, topics: np.ndarray) -> list:
    """Folds over the training topics whose every training part holds both classes."""
    groups = len(set(topics))
    if groups < 3:
        return []
    splits = GroupKFold(n_splits=min(3, groups)).split(labels, labels, topics)
    good = [(a, b) for a, b in splits if len(set(labels[a])) == 2]
    return good if len(good) >= 2 else []


def _logistic(x: np.ndarray, labels: np.ndarray, c: float) -> LogisticRegression:
    # liblinear's primal solver: a tenth of lbfgs's time on a few hundred items, and no
    # convergence trouble at large C on separable layers.
    model = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
    return model.fit(x, labels.astype(int))


def choose_c(x: np.ndarray, labels: np.ndarray, topics: np.ndarray) -> float:
    """The ``C`` of :data:`C_GRID` with the least held-out log loss on folds of the training
    topics (``C = 1`` when there are too few topics to fold)."""
    folds = _inner_folds(labels, topics)
    if not folds:
        return 1.0
    losses = [
        np.mean([log_loss(labels[b], _logistic(x[a], labels[a], c).predict_proba(x[b])[:, 1],
                          labels=[False, True]) for a, b in folds])
        for c in C_GRID
    ]  # fmt: skip
    return C_GRID[int(np.argmin(losses))]


def fit_logistic(features: Features, labels: np.ndarray, topics: np.ndarray, seed: int) -> Probe:
    """Standardized L2 logistic regression, ``C`` chosen by :func:`choose_c`."""
    mean, std = _norm(features.plain)
    x = _normalized(features.plain, (mean, std))
    model = _logistic(x, labels, choose_c(x, labels, topics))
    w = model.coef_[0] / std
    return LinearProbe(w, float(model.intercept_[0] - w @ mean))


def fit_mean_difference(
    features: Features, labels: np.ndarray, topics: np.ndarray, seed: int
) -> Probe:
    """``w = mu_true - mu_false``, ``b = -w . (mu_true + mu_false) / 2``."""
    true, false = features.plain[labels].mean(axis=0), features.plain[~labels].mean(axis=0)
    w = true - false
    return LinearProbe(w, float(-w @ (true + false) / 2.0))


def ccs_loss(p_pos: np.ndarray, p_neg: np.ndarray) -> float:
    """Burns et al.'s ``mean((p+ - (1 - p-))^2) + mean(min(p+, p-)^2)``."""
    return float(np.mean((p_pos - (1.0 - p_neg)) ** 2) + np.mean(np.minimum(p_pos, p_neg) ** 2))


def ccs_objective(params: np.ndarray, pos: np.ndarray, neg: np.ndarray, l2: float):
    """CCS's loss plus ``l2 |theta|^2`` at ``params = (theta, b)``, and its gradient."""
    theta, b = params[:-1], params[-1]
    p_pos, p_neg = _sigmoid(pos @ theta + b), _sigmoid(neg @ theta + b)
    n = len(p_pos)
    consistency, confident = p_pos + p_neg - 1.0, np.minimum(p_pos, p_neg)
    d_pos = 2.0 / n * (consistency + confident * (p_pos <= p_neg))
    d_neg = 2.0 / n * (consistency + confident * (p_neg < p_pos))
    z_pos, z_neg = d_pos * p_pos * (1.0 - p_pos), d_neg * p_neg * (1.0 - p_neg)
    grad = np.append(pos.T @ z_pos + neg.T @ z_neg + 2.0 * l2 * theta, z_pos.sum() + z_neg.sum())
    return ccs_loss(p_pos, p_neg) + l2 * float(theta @ theta), grad


def fit_ccs(
    features: Features,
    labels: np.ndarray,
    topics: np.ndarray,
    seed: int,
    *,
    restarts: int = 5,
    l2: float = 0.01,
) -> Probe:
    """CCS by L-BFGS from ``restarts`` random starts; the sign is set by ``labels``."""
    pos_raw, neg_raw = _contrast(features)
    pos_norm, neg_norm = _norm(pos_raw), _norm(neg_raw)
    pos, neg = _normalized(pos_raw, pos_norm), _normalized(neg_raw, neg_norm)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(restarts):
        start = np.append(rng.normal(size=pos.shape[1]) / np.sqrt(pos.shape[1]), 0.0)
        found = minimize(
            ccs_objective, start, args=(pos, neg, l2), jac=True, method="L-BFGS-B",
            options={"maxiter": 500},
        )  # fmt: skip
        if best is None or found.fun < best.fun:
            best = found
    probe = ContrastProbe(best.x[:-1], float(best.x[-1]), pos_norm, neg_norm)
    if np.mean((probe.score(features) > 0) == labels) < 0.5:
        probe = ContrastProbe(-best.x[:-1], -float(best.x[-1]), pos_norm, neg_norm)
    return probe


PROBES: dict[str, Fit] = {
    "logistic": fit_logistic,
    "mean_difference": fit_mean_difference,
    "ccs": fit_ccs,
}
"""Every probe method, by name (the module docstring says what each fits)."""


def probe_method(name: str) -> Fit:
    if name not in PROBES:
        raise ValueError(f"methods: unknown probe {name!r}; known: {', '.join(PROBES)}")
    return PROBES[name]


# --- held-out topics ----------------------------------------------------------------------


def topic_folds(topics, folds: int, seed: int = 0) -> dict[str, int]:
    """Each topic's fold: the distinct topics shuffled by ``seed`` and dealt round-robin
    into ``min(folds, topics)`` folds."""
    names = sorted(set(topics))
    if len(names) < 2 or folds < 2:
        raise ValueError(f"folds: need at least two folds of topics, got {folds} of {len(names)}")
    random.Random(f"topic_folds:{seed}").shuffle(names)
    return {t: i % min(folds, len(names)) for i, t in enumerate(names)}


@dataclass(frozen=True)
class CrossFit:
    """A method fitted once per fold on the other folds' topics, and one fit on everything."""

    scores: np.ndarray
    """Each item's held-out score, from the probe whose training never saw its topic."""
    probes: list[Probe]
    """The probe of each fold (fitted on every other fold's topics)."""
    full: Probe
    """The probe fitted on every item, for items of a topic no fold holds."""
    fold_of: dict[str, int]
    """Each topic's fold."""

    def read(self, features: Features, topics) -> np.ndarray:
        """Scores of new items: each by the probe that never saw its topic (:attr:`full` for
        topics the statements do not have)."""
        topics = np.asarray(topics, dtype=object)
        out = self.full.score(features)
        for fold, probe in enumerate(self.probes):
            held = np.array([self.fold_of.get(t) == fold for t in topics], dtype=bool)
            if held.any():
                out[held] = probe.score(features.take(held))
        return out


def cross_fit(
    method: str, features: Features, labels, topics, *, folds: int = 5, seed: int = 0
) -> CrossFit:
    """Fit ``method`` once per fold of topics (:func:`topic_folds`) on the other folds and
    score the fold's items with it."""
    fit = probe_method(method)
    labels, topics = np.asarray(labels, dtype=bool), np.asarray(topics, dtype=object)
    fold_of = topic_folds(topics, folds, seed)
    fold = np.array([fold_of[t] for t in topics])
    scores = np.empty(len(labels))
    probes = []
    for k in range(max(fold_of.values()) + 1):
        train, test = fold != k, fold == k
        if len(set(labels[train])) < 2:
            raise ValueError(f"folds: fold {k}'s training topics hold one label only")
        probe = fit(features.take(train), labels[train], topics[train], seed)
        scores[test] = probe.score(features.take(test))
        probes.append(probe)
    full = fit(features, labels, topics, seed)
    return CrossFit(scores, probes, full, fold_of)
