"""Process versus outcome supervision: best-of-N by a process reward model, an outcome
reward model and majority voting (Lightman et al. 2023, "Let's Verify Step by Step").

A policy samples N solutions to a problem; a *selector* picks one. Each selector gives
every candidate a score, and the pick is the first candidate with the highest score:

- ``majority``: votes for the candidate's final answer among the candidates (majority
  voting, Wang et al. 2023 self-consistency; Lightman's baseline);
- ``orm``: an outcome reward model's ``p(final answer right | problem, solution)``;
- ``prm``: a process reward model's probability that every step is right, the product
  ``prod_i p(step i right | problem, steps 1..i)`` (Lightman et al. 2023);
- ``oracle``: the gold score, the bound a perfect verifier reaches.

Both reward models are :func:`~alignlab.trainers.classifier.train_classifier` on labelled
records: the outcome model on ``(problem, solution, final answer right)``
(:func:`outcome_records`), the process model on ``(problem, solution through step i, step
i right)`` (:func:`process_records`), each with :func:`fit_reward_model`. Solutions come from
any :class:`~alignlab.models.backends.Backend` (:func:`sample_solutions`); everything else
takes texts and numbers, so any backend's samples and any classifier directory serve.

**Best-of-N over subsets.** From ``N_max`` samples per problem, best-of-N for every
``N <= N_max`` is estimated as the average, over the N-subsets of the samples, of what the
subset's pick is worth (:func:`pick_chances` gives each sample's chance of being picked).
For a selector whose score is a sample's own (``orm``, ``prm``, ``oracle``) this average is
exact, by the order-statistics weights of Nakano et al. 2021
(:func:`~alignlab.trainers.best_of_n.selection_weights`: the i-th lowest of ``N_max`` is a
random N-subset's highest with chance ``C(i-1, N-1) / C(N_max, N)``). Majority voting's
pick depends on the whole subset, so its average is taken over ``subsets`` random
N-subsets, each in random order (ties between answers go to a random one of them), an
unbiased estimate of the same average. Lightman et al. estimate their curves the same way,
from subsamples of one large draw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alignlab.config import fingerprint, from_dict
from alignlab.data.io import write_records
from alignlab.data.records import Labelled, Text
from alignlab.models.adapters import is_model_dir
from alignlab.models.backends import Backend
from alignlab.progress import progress_bar
from alignlab.trainers.best_of_n import draw, selection_weights
from alignlab.trainers.classifier import ClassifierConfig, correct_probs, train_classifier


@dataclass(frozen=True)
class Candidates:
    """One problem's sampled solutions as the selectors see them (one entry per sample)."""

    answers: tuple[Hashable | None, ...]
    """Each solution's final answer; ``None`` where it states none (it casts no vote)."""
    orm: np.ndarray | None = None
    """The outcome reward model's ``p(final answer right)``."""
    prm: np.ndarray | None = None
    """The process reward model's solution score (:func:`prm_score`)."""
    gold: np.ndarray | None = None
    """The gold score (the oracle's)."""

    def __len__(self) -> int:
        return len(self.answers)

    def take(self, index: Sequence[int]) -> Candidates:
        """The candidates at ``index``, in that order."""
        index = np.asarray(index, dtype=int)
        pick = lambda x: None if x is None else np.asarray(x)[index]  # noqa: E731
        answers = tuple(self.answers[i] for i in index)
        return Candidates(answers, pick(self.orm), pick(self.prm), pick(self.gold))


Score = Callable[[Candidates], np.ndarray]


@dataclass(frozen=True)
class Selector:
    """A registered selector: its score, and whether a candidate's score is its own."""

    score: Score
    own_score: bool
    """The score of a candidate does not depend on the others, so best-of-N is exact."""


SELECTORS: dict[str, Selector] = {}


def register_selector(name: str, *, own_score: bool) -> Callable[[Score], Score]:
    """Register a selector's score under ``name``."""

    def register(score: Score) -> Score:
        if name in SELECTORS:
            raise ValueError(f"a selector named {name!r} is already registered")
        SELECTORS[name] = Selector(score, own_score)
        return score

    return register


def _needs(values: np.ndarray | None, field: str, selector: str) -> np.ndarray:
    if values is None:
        raise ValueError(f"candidates.{field}: selector {selector!r} needs it, got None")
    return np.asarray(values, dtype=float)


@register_selector("majority", own_score=False)
def majority(candidates: Candidates) -> np.ndarray:
    """Majority voting: ``score_j = #{k : answer_k = answer_j}``, 0 without an answer."""
    votes = Counter(a for a in candidates.answers if a is not None)
    return np.array([0 if a is None else votes[a] for a in candidates.answers], dtype=float)


@register_selector("orm", own_score=True)
def orm(candidates: Candidates) -> np.ndarray:
    """Outcome reward model: ``score_j = p(final answer of j right)``."""
    return _needs(candidates.orm, "orm", "orm")


@register_selector("prm", own_score=True)
def prm(candidates: Candidates) -> np.ndarray:
    """Process reward model: ``score_j = prod_i p(step i of j right)`` (:func:`prm_score`)."""
    return _needs(candidates.prm, "prm", "prm")


@register_selector("oracle", own_score=True)
def oracle(candidates: Candidates) -> np.ndarray:
    """The gold: ``score_j = gold_j``, the best any verifier can pick."""
    return _needs(candidates.gold, "gold", "oracle")


def selector(name: str) -> Selector:
    """The selector registered as ``name``."""
    if name not in SELECTORS:
        raise ValueError(f"unknown selector {name!r}; known: {', '.join(sorted(SELECTORS))}")
    return SELECTORS[name]


def prm_score(step_probs, solution_of, n_solutions: int) -> np.ndarray:
    """Per solution, the product of its steps' ``p(right)`` (Lightman et al. 2023: the chance
    that every step is right). ``step_probs[k]`` belongs to solution ``solution_of[k]``; a
    solution with no step scores 1, the empty product."""
    probs = np.asarray(step_probs, dtype=float)
    owners = np.asarray(solution_of, dtype=int)
    if probs.shape != owners.shape:
        raise ValueError(f"step_probs and solution_of: shapes {probs.shape} and {owners.shape}")
    if ((probs < 0) | (probs > 1)).any():
        raise ValueError("step_probs: must lie in [0, 1]")
    with np.errstate(divide="ignore"):
        logs = np.log(probs)
    total = np.zeros(n_solutions)
    np.add.at(total, owners, logs)
    return np.exp(total)


def pick_chances(
    name: str, candidates: Candidates, n: int, *, subsets: int = 256, seed: int = 0
) -> np.ndarray:
    """Each candidate's chance of being the selector ``name``'s pick from a uniformly random
    n-subset of ``candidates`` (module docstring: exact for own scores, else the share of
    ``subsets`` random ordered n-subsets). The chances sum to 1; what best-of-n is worth on a
    per-candidate value ``v`` is ``chances @ v``."""
    chosen = selector(name)
    size = len(candidates)
    if not 1 <= n <= size:
        raise ValueError(f"n: must lie in [1, {size}] (the candidates), got {n}")
    if chosen.own_score:
        return selection_weights(chosen.score(candidates)[None, :], n)[0]
    if subsets < 1:
        raise ValueError(f"subsets: must be at least 1, got {subsets}")
    rng = np.random.default_rng(seed)
    counts = np.zeros(size)
    for _ in range(subsets):
        index = rng.permutation(size)[:n]
        counts[index[int(np.argmax(chosen.score(candidates.take(index))))]] += 1
    return counts / subsets


def best_of_n_values(
    name: str,
    problems: Sequence[Candidates],
    values: dict[str, Sequence[np.ndarray]],
    n: int,
    *,
    subsets: int = 256,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """For each of ``values``' metrics (per problem, one value per candidate), each problem's
    expected value of the best-of-n pick by selector ``name``; all metrics read the same
    picks."""
    out = {metric: np.empty(len(problems)) for metric in values}
    for p, candidates in enumerate(problems):
        chances = pick_chances(name, candidates, n, subsets=subsets, seed=seed + p)
        for metric, per_problem in values.items():
            out[metric][p] = chances @ np.asarray(per_problem[p], dtype=float)
    return out


def _blank(text: Text) -> bool:
    return isinstance(text, str) and not text.strip()


def outcome_records(
    prompts: Sequence[Text], solutions: Sequence[str], right: Sequence[bool]
) -> list[Labelled]:
    """An outcome reward model's training data: each solution, labelled 1 when its final
    answer is right. A blank solution is left out: there is nothing in it to learn from,
    and :func:`outcome_scores` scores it 0."""
    return [
        Labelled(prompt, solution, float(ok))
        for prompt, solution, ok in zip(prompts, solutions, right, strict=True)
        if not _blank(solution)
    ]


def process_records(
    prompts: Sequence[Text],
    prefixes: Sequence[Sequence[str]],
    labels: Sequence[Sequence[bool]],
) -> list[Labelled]:
    """A process reward model's training data: for each solution (its ``prefixes``, the text
    through each step), one record per step, labelled 1 when that step is right; blank
    prefixes are left out (:func:`process_scores` gives them ``p = 0``)."""
    records = []
    for prompt, steps, marks in zip(prompts, prefixes, labels, strict=True):
        if len(steps) != len(marks):
            raise ValueError(f"labels: {len(marks)} for {len(steps)} steps of {prompt!r:.60}")
        records.extend(
            Labelled(prompt, s, float(ok))
            for s, ok in zip(steps, marks, strict=True)
            if not _blank(s)
        )
    return records


def _probs(model, prompts: Sequence[Text], texts: Sequence[str], batch_size: int) -> np.ndarray:
    """``correct_probs`` of every text, 0 for a blank one (a verifier accepts no empty text)."""
    read = [i for i, t in enumerate(texts) if not _blank(t)]
    probs = np.zeros(len(texts))
    if read:
        picked = correct_probs(
            model, [prompts[i] for i in read], [texts[i] for i in read], batch_size=batch_size
        )
        probs[read] = picked
    return probs


def outcome_scores(
    model, prompts: Sequence[Text], solutions: Sequence[str], *, batch_size: int = 64
) -> np.ndarray:
    """Each solution's ``p(final answer right)`` under an outcome reward model (or its
    directory); 0 for a blank solution."""
    return _probs(model, prompts, solutions, batch_size)


def process_scores(
    model, prompts: Sequence[Text], prefixes: Sequence[Sequence[str]], *, batch_size: int = 64
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Under a process reward model (or its directory): each solution's :func:`prm_score`,
    and each solution's per-step ``p(right)`` (0 for a blank step)."""
    owners = [i for i, steps in enumerate(prefixes) for _ in steps]
    flat_steps = [s for steps in prefixes for s in steps]
    probs = _probs(model, [prompts[i] for i in owners], flat_steps, batch_size)
    ends = np.cumsum([len(steps) for steps in prefixes])[:-1]
    return prm_score(probs, owners, len(prefixes)), np.split(probs, ends)


def sample_solutions(
    backend: Backend,
    prompts: Sequence[Text],
    n: int,
    *,
    seed: int,
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    batch: int = 1024,
    progress: bool = True,
) -> list[list[str]]:
    """``n`` solutions to each prompt from any backend, about ``batch`` samples at a time;
    each sample is seeded by ``seed``, its prompt's index and its number
    (:func:`~alignlab.trainers.best_of_n.draw`), so the draw does not depend on the batch."""
    chunk = max(1, batch // n)
    out: list[list[str]] = []
    with progress_bar(len(prompts) * n, "solutions", enabled=progress, unit="sample") as advance:
        for start in range(0, len(prompts), chunk):
            part = list(prompts[start : start + chunk])
            out += draw(
                backend, None, part, n, start=start, seed=seed,
                max_new_tokens=max_new_tokens, temperature=temperature,
            )  # fmt: skip
            advance(len(part) * n)
    return out


def fit_reward_model(records: Sequence[Labelled], model: str, out: Path, **settings) -> str:
    """A correctness classifier fitted to ``records`` from ``model``
    (:func:`~alignlab.trainers.classifier.train_classifier` with ``settings``), in the
    directory ``out-<fingerprint of the records and settings>``, reused when its model is
    there (``threads`` and ``progress`` change no result, so they are not in the name);
    returns the model directory."""
    fitted_by = {k: v for k, v in settings.items() if k not in ("threads", "progress")}
    key = fingerprint(model, fitted_by, [r.to_dict() for r in records])
    run = out.with_name(f"{out.name}-{key}")
    if not is_model_dir(run / "model"):
        write_records(run / "train.jsonl", records)
        given = {"model": model, "train_file": str(run / "train.jsonl"), "output_dir": str(run)}
        given |= {"save_every": 0, "eval_every": 0, "resume": (run / "metrics.jsonl").exists()}
        train_classifier(from_dict(ClassifierConfig, given | settings, source=str(run)))
    return str(run / "model")
