"""Iterated distillation and amplification on the assistant organism: accuracy against the
number of operands k, asked directly, amplified, and distilled after each iteration
(Christiano, Shlegeris & Amodei 2018: a weak expert H who may ask a model X sub-questions,
``Amp(H, X)``, solves what neither solves alone; distilling it into X and iterating grows
what the fast model can do by itself).

H is the organism's SFT policy, which adds two numbers of 0..6 and little more
(:mod:`alignlab.organisms.assistant.sums`: problems within reach of such sums). Per seed, on
held-out problems of every k in ``ks``: ``direct`` asks H each problem whole; ``amplified``
lets H ask itself one one-step question per operand (``reference``: chain), at any cost;
iteration t's ``amplified-t`` is ``Amp(H, X_{t-1})`` (``strategy``, default ``prefix``: X
answers all operands but the last, H adds the last), X_0 = H, and its train answers are
distilled into X_{t-1}, giving ``distilled-t`` = X_t, asked each problem whole. With
``prefix`` X's reach grows one operand per iteration while distillation keeps up.

Distillation shows the steps: the 2-layer organism does not learn to add six numbers in one
forward pass from a minute of fine-tuning (gold answers, three epochs: 71% at k = 3, under
50% at k = 4..6), but learns to write steps, each a sum it knows. H distils only steps it
can follow (``check_steps``, :func:`~alignlab.oversight.amplify.followable`): else X's
made-up working of pieces beyond its reach teaches the next X to stop anywhere. Whether one
run learns a new k is close to a coin toss (same data, two seeds: 93% and 20% at k = 4), so
H keeps the first of ``distill_tries`` runs that answers its held-in check problems as the
amplification did (``fidelity``). ``halves`` doubles the amplified reach per iteration (k <=
4, then 6), but its steps form a tree, distilled less faithfully (3 seeds, 2 iterations: 77%
and 72% at k = 5 and 6, against 97% and 94% amplified).

One SFT policy (``output_dir/sft``) serves every seed. ``output_dir/amplify/<settings
key>/seed-<s>/`` holds every row's answers and each iteration's data, tries and the run kept
(``iter-<t>/chosen.json``), all reused, so more seeds compute only the new ones.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alignlab.config import from_dict
from alignlab.data.io import iter_raw, write_records
from alignlab.experiments.organism import organism_key, ready_organism, sft_policy
from alignlab.experiments.oversight.base import OversightConfig, publish, run_dir, set_threads
from alignlab.models.adapters import is_model_dir
from alignlab.models.backends import HFBackend
from alignlab.organisms.assistant import sums
from alignlab.oversight.amplify import Amplified, amplify, distillation_data, fidelity, strategy
from alignlab.stats import over_seeds
from alignlab.trainers import SFTConfig, train_sft

CHECK_EVERY = 5
"""Every fifth train problem checks the distillation instead of being distilled."""
REACH_LEVEL = 0.8
"""A model's *reach* is the largest k up to which its accuracy is at least this at every k."""


def _distill_defaults() -> dict[str, Any]:
    # No divergence guard: from iteration 2 the model already writes most of its data, the
    # loss sits near 1e-3, and one batch holding a new mistake is a hundred times that.
    return {"lr": 1e-3, "epochs": 8, "batch_size": 16, "max_length": 128, "divergence_factor": 0}


@dataclass
class AmplifyConfig(OversightConfig):
    """Direct, amplified and distilled accuracy against the number of operands."""

    ks: list[int] = field(default_factory=lambda: [2, 3, 4, 5, 6])
    """Numbers of operands the problems have."""
    n_train: int = 100
    """Train problems per k and seed, whose amplified answers are distilled (where the world
    has fewer distinct ones, k = 2, they repeat)."""
    n_heldout: int = 40
    """Held-out problems per k and seed (at most half of the k's problems: 24 at k = 2),
    never trained on: what every row is measured on."""
    strategy: str = "prefix"
    """The IDA step: how iteration t decomposes a problem into pieces for the model of
    iteration t - 1 and a recombination by the overseer (a name from
    :data:`alignlab.oversight.amplify.STRATEGIES`)."""
    iterations: int = 4
    """Rounds of amplification and distillation."""
    reference: str | None = "chain"
    """A decomposition asked of the overseer alone, the ``amplified`` row (chain: one
    one-step question per operand); unset: no such row."""
    show_steps: bool = True
    """Distil the amplification's steps and answer (on), or the answer alone (off)."""
    check_steps: bool = True
    """Distil only answers whose steps the overseer can follow (one-step sums over the
    problem's operands, :func:`~alignlab.oversight.amplify.followable`)."""
    tokens_per_term: int = 7
    """A reply to a question of n terms gets at most ``tokens_per_term * n`` tokens (the
    organism's chain of steps for n terms takes 6 n - 1)."""
    distill: dict[str, Any] = field(default_factory=_distill_defaults)
    """Settings of each distillation run (any :class:`~alignlab.trainers.SFTConfig` field)."""
    distill_tries: int = 3
    """Distillation runs an iteration may try, each with its own seed: the first whose
    :func:`~alignlab.oversight.amplify.fidelity` reaches ``fidelity`` at every k is kept,
    else the most faithful (whether a run learns a new k is close to a coin toss)."""
    fidelity: float = 0.9
    """Share of the check problems (every fifth train problem, not distilled) that a kept
    distilled model must answer as the amplification did, at every k."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.ks or min(self.ks) < 2 or len(set(self.ks)) < len(self.ks):
            raise ValueError(f"ks: must be distinct numbers of operands >= 2, got {self.ks}")
        for name in ("n_train", "n_heldout", "iterations", "distill_tries", "tokens_per_term"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.fidelity <= 1.0:
            raise ValueError(f"fidelity: must lie in [0, 1], got {self.fidelity}")
        for name in filter(None, (self.strategy, self.reference)):
            strategy(name)  # names the unknown one

    @property
    def rows(self) -> list[str]:
        """The table's rows, in order: direct, amplified, each iteration's two."""
        out = ["direct", *(["amplified"] if self.reference else [])]
        for t in range(1, self.iterations + 1):
            out += [f"amplified-{t}", f"distilled-{t}"]
        return out


@dataclass
class SeedRun:
    """One seed's results."""

    rows: dict[str, list[dict]]
    """Each row's answers to the held-out problems (problem, answer, steps, correct)."""
    distilled: dict[str, dict]
    """Per ``distilled-t`` row, the run kept (its ``chosen.json``)."""
    seconds: float = 0.0
    """Wall time spent on the seed, over every run that computed a part of it."""


def _problems(config: AmplifyConfig, out: Path, seed: int) -> tuple[list, list]:
    path = out / "problems.json"
    if not path.exists():
        rng = random.Random(f"amplify:{seed}:problems")
        train, heldout = sums.draw_problems(config.ks, config.n_train, config.n_heldout, rng)
        path.write_text(json.dumps({"train": train, "heldout": heldout}) + "\n")
    stored = json.loads(path.read_text())
    return [tuple(p) for p in stored["train"]], [tuple(p) for p in stored["heldout"]]


def _answered(path: Path, run) -> list[dict]:
    """Amplified answers as JSON rows, from ``path`` or from ``run()`` (then written there)."""
    if not path.exists():
        rows = ({**asdict(a), "gold": sums.gold(a.problem)} for a in run())
        write_records(path, ({**r, "correct": r["answer"] == r["gold"]} for r in rows))
    return [row for _, row in iter_raw(path)]


def _distil(config: AmplifyConfig, model: str, train: list[dict], out: Path, seed: int, answer):
    """``model`` fine-tuned on the amplified train answers (every fifth held in to check it,
    ``answer(model, problems)`` giving a model's answers), tried up to ``distill_tries``
    times; returns ``out/chosen.json``'s record of the run kept."""
    chosen = out / "chosen.json"
    if chosen.exists():
        return json.loads(chosen.read_text())
    fit, check = ([r for i, r in enumerate(train) if (i % CHECK_EVERY == 0) == c] for c in (0, 1))
    demos, targets = (
        distillation_data(
            [Amplified.from_dict(r) for r in rows],
            sums,
            show_steps=config.show_steps,
            checked=config.check_steps,
        )
        for rows in (fit, check)
    )
    if not demos:
        raise ValueError(f"{out}: amplification answered no train problem, nothing to distil")
    write_records(out / "distill.jsonl", demos)
    best: dict = {}
    problems = [tuple(t.meta["problem"]) for t in targets]
    for j in range(config.distill_tries):
        run = out / f"sft-{j}"
        if not is_model_dir(run / "model"):
            settings = {
                **config.distill,
                "model": model,
                "train_file": str(out / "distill.jsonl"),
                "output_dir": str(run),
                "seed": seed + 1000 * j,
                "threads": config.threads,
                "eval_every": 0,
                "save_every": 0,
                "progress": config.progress,
                "resume": (run / "metrics.jsonl").exists(),
            }
            train_sft(from_dict(SFTConfig, settings, source="amplify distill"))
        answers = _answered(run / "check.jsonl", lambda m=run / "model": answer(m, problems))
        faith = fidelity(targets, [Amplified.from_dict(r) for r in answers])
        worst = min(faith.values(), default=1.0)
        if not best or worst > best["fidelity"]:
            best = {"model": str(run / "model"), "fidelity": worst, "per_k": faith}
        if worst >= config.fidelity:
            break
    best.update(tries=j + 1, distilled=len(demos) / len(fit))
    chosen.write_text(json.dumps(best) + "\n")
    return best


def run_seed(config: AmplifyConfig, policy: str, out: Path, seed: int) -> SeedRun:
    """Every row's answers to the seed's held-out problems, and what each iteration distilled."""
    out.mkdir(parents=True, exist_ok=True)
    started, spent = time.perf_counter(), out / "seconds.txt"
    train, heldout = _problems(config, out, seed)
    backend = functools.cache(lambda model: HFBackend.load(model, batch_size=64))

    def ask(model: str, problems: list, name: str, overseer: str | None = None):
        return lambda: amplify(
            backend(model),
            problems,
            name,
            sums,
            overseer=None if overseer is None else backend(overseer),
            max_new_tokens=lambda terms: config.tokens_per_term * len(terms),
            progress=config.progress,
        )

    rows = {"direct": _answered(out / "direct.jsonl", ask(policy, heldout, "direct"))}
    if config.reference:
        rows["amplified"] = _answered(
            out / "amplified.jsonl", ask(policy, heldout, config.reference)
        )
    model, distilled = policy, {}
    for t in range(1, config.iterations + 1):
        (step := out / f"iter-{t}").mkdir(exist_ok=True)
        amplified = ask(model, heldout, config.strategy, overseer=policy)
        rows[f"amplified-{t}"] = _answered(out / f"amplified-{t}.jsonl", amplified)
        on_train = _answered(step / "train.jsonl", ask(model, train, config.strategy, policy))
        kept = _distil(config, model, on_train, step, seed, lambda m, p: ask(m, p, "direct")())
        model, distilled[f"distilled-{t}"] = kept["model"], kept
        rows[f"distilled-{t}"] = _answered(
            out / f"distilled-{t}.jsonl", ask(model, heldout, "direct")
        )
    seconds = time.perf_counter() - started + float(spent.read_text() if spent.exists() else 0)
    spent.write_text(f"{seconds:.1f}\n")
    return SeedRun(rows, distilled, seconds)


def accuracy(runs: list[SeedRun], row: str, k: int | None = None) -> dict:
    """Share of held-out problems (of ``k`` operands, or all) answered right, pooled over
    seeds with the two-stage bootstrap of :func:`~alignlab.stats.over_seeds`."""
    groups = [
        np.array([r["correct"] for r in s.rows[row] if k is None or len(r["problem"]) == k], float)
        for s in runs
    ]
    return over_seeds(groups).to_dict()


def questions_asked(runs: list[SeedRun], row: str) -> float:
    """Mean questions asked per held-out problem: the row's cost in model calls."""
    return float(np.mean([len(r["steps"]) for s in runs for r in s.rows[row]]))


def reach(per_k: dict[int, dict]) -> int:
    """The largest k up to which accuracy is at least :data:`REACH_LEVEL` at every k; 0 when
    it falls short at the smallest."""
    out = 0
    for k in sorted(per_k):
        if per_k[k]["value"] < REACH_LEVEL:
            break
        out = k
    return out


def _label(config: AmplifyConfig, row: str) -> str:
    if row == "amplified":
        return f"amplified ({config.reference}, SFT policy alone)"
    if row.startswith("amplified-"):
        t = int(row.split("-")[1])
        model = f"distilled-{t - 1}" if t > 1 else "SFT policy"
        return f"{row} ({config.strategy}: {model} + SFT policy)"
    return row


def panel(config: AmplifyConfig, runs: list[SeedRun], wall_s: float) -> dict:
    """The amplification panel: accuracy per k of every row, and accuracy against k."""
    ks = config.ks
    kept = {"train problems distilled": "distilled", "tries": "tries", "fidelity": "fidelity"}
    columns = ["method", *(f"k={k}" for k in ks), "all k", "questions per problem", *kept]
    table_rows, series = [], []
    for row in config.rows:
        per_k = {k: accuracy(runs, row, k) for k in ks}
        runs_kept = [s.distilled[row] for s in runs if row in s.distilled]
        table_rows.append(
            {
                "method": _label(config, row),
                **{f"k={k}": per_k[k] for k in ks},
                "all k": accuracy(runs, row),
                "questions per problem": questions_asked(runs, row),
                **{
                    column: float(np.mean([r[key] for r in runs_kept])) if runs_kept else None
                    for column, key in kept.items()
                },
            }
        )
        if not row.startswith("amplified-"):  # the figure: what each model does alone
            series.append({"name": row, "points": [{"x": k, "y": per_k[k]} for k in ks]})
    held = {k: sums.heldout_count(k, config.n_heldout) for k in ks}
    fewer = ", ".join(f"{c} at k = {k}" for k, c in held.items() if c < max(held.values()))
    n = f"{max(held.values())}" + (f" ({fewer})" if fewer else "")
    seeds = len(runs)
    return {
        "title": "Amplification and distillation: accuracy against the number of operands",
        "finding": finding(config, runs),
        "setting": {
            "held-out problems per k and seed": n,
            "train problems per k and seed": config.n_train,
            "seeds": seeds,
            "ks": ks,
            "IDA step": f"{config.strategy}, {config.iterations} iterations",
            "overseer": "the organism's SFT policy (one for every seed), greedy",
            "distilled": ("steps and answer" if config.show_steps else "answer alone")
            + (", steps the overseer can follow" if config.check_steps else ""),
            "distillation": json.dumps(config.distill, sort_keys=True),
            "seconds on the seeds, all runs": round(sum(s.seconds for s in runs)),
        },
        "wall_s": wall_s,
        "table": {"columns": columns, "rows": table_rows},
        "curves": [
            {
                "title": f"accuracy against k: {n} held-out problems per k x {seeds} seeds",
                "x": "operands k",
                "y": "accuracy",
                "x_log": False,
                "series": series,
            }
        ],
    }


def _shown(reached: list[int]) -> str:
    return ", ".join(f"k <= {r}" if r else "none" for r in reached)


def finding(config: AmplifyConfig, runs: list[SeedRun]) -> str:
    """What the table shows, from its numbers: how direct accuracy falls with k, how far
    amplification and each distilled model reach, and whether that grows by iterating."""
    lo, hi = min(config.ks), max(config.ks)
    per_k = {row: {k: accuracy(runs, row, k) for k in config.ks} for row in config.rows}
    direct = per_k["direct"]
    text = (
        f"Asked directly, the SFT policy answers {direct[lo]['value']:.0%} of {lo}-operand sums "
        f"and {direct[hi]['value']:.0%} of {hi}-operand ones"
    )
    if config.reference:
        text += f"; decomposed ({config.reference}), {per_k['amplified'][hi]['value']:.0%}"
    ts = range(1, config.iterations + 1)
    amplified = [reach(per_k[f"amplified-{t}"]) for t in ts]
    distilled = [reach(per_k[f"distilled-{t}"]) for t in ts]
    text += (
        f". Reach (accuracy >= {REACH_LEVEL:.0%} at every k up to it): direct "
        f"{_shown([reach(direct)])}; per iteration, amplified {_shown(amplified)}; distilled "
        f"{_shown(distilled)}; distilled accuracy at k = {hi}: "
        + ", ".join(f"{per_k[f'distilled-{t}'][hi]['value']:.0%}" for t in ts)
        + "."
    )
    steady = all(b >= a for a, b in itertools.pairwise(distilled))
    grew = steady and distilled[-1] > max(reach(direct), distilled[0] if len(ts) > 1 else 0)
    kept = all(d >= a for a, d in zip(amplified, distilled, strict=True))
    first, last = per_k["distilled-1"][hi], per_k[f"distilled-{ts[-1]}"][hi]
    rose = "rose" if first["hi"] < last["lo"] else "did not clearly rise"
    return text + (
        f" IDA's shape {'reproduced' if grew else 'did not reproduce'}: the distilled reach "
        f"{'grew' if grew else 'did not grow'} with the iterations (accuracy at k = {hi} {rose}"
        f"), and distillation {'kept' if kept else 'did not always keep'} the reach of the "
        "amplification it copied."
    )


def run_amplify(config: AmplifyConfig) -> tuple[dict, Path]:
    """Run every seed (reusing what exists) and publish the panel; returns it and the report."""
    started = time.perf_counter()
    set_threads(config.threads)
    organism, _ = ready_organism(config.organism)
    policy = sft_policy(organism, Path(config.output_dir) / "sft", config.threads)
    root = run_dir(config, "amplify", organism_key(organism))
    runs = [run_seed(config, policy, root / f"seed-{s}", s) for s in config.seed_list]
    result = panel(config, runs, time.perf_counter() - started)
    return result, publish(config, "amplify", result)
