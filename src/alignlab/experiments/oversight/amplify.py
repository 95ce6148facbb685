"""Iterated distillation and amplification on the assistant organism: accuracy against the
number of operands k, asked directly, amplified, and distilled after each iteration
(Christiano, Shlegeris & Amodei 2018: a weak expert H who may ask a model X sub-questions,
``Amp(H, X)``, solves what neither solves alone; distilling ``Amp(H, X)`` into X and
iterating grows what the fast model can do by itself).

The overseer H is the organism's SFT policy, which adds two numbers of 0..6 and little more
(:mod:`alignlab.organisms.assistant.sums` has the problems, all within reach of such sums).
Per seed, on held-out problems of every k in ``ks``:

- ``direct``: H asked each problem whole;
- ``amplified`` (``reference``, default ``chain``): H asking itself one one-step question
  per operand, as many questions as it takes: what decomposition reaches at any cost;
- iteration t = 1, 2, ...: ``amplified-t`` is ``Amp(H, X_{t-1})`` with ``strategy``
  (default ``prefix``: X answers every operand but the last, H adds the last; two questions
  a problem), X_0 being H itself. Its answers to the train problems are distilled into
  X_{t-1}, which becomes ``distilled-t`` = X_t, asked each problem whole.

With ``prefix`` the reach of X_t grows one operand per iteration when distillation works:
X_0 adds 2 numbers, ``Amp(H, X_0)`` 3, X_1 3, ``Amp(H, X_1)`` 4, ... Distillation shows the
steps (``show_steps``): the 2-layer organism does not learn to add six numbers in one
forward pass from a minute of fine-tuning (gold answers, three epochs: 71% at k = 3, under
50% at k = 4..6), but it learns to write steps, each a one-step sum it knows. H distils only
transcripts whose steps it can follow (``check_steps``:
:func:`~alignlab.oversight.amplify.followable`, form, not arithmetic): else X's made-up
working of pieces beyond its reach (``1 + 1 = 2 .`` for ``2 + 1 + 0``) teaches the next X to
stop after any number of steps. ``halves`` amplifies too, but its steps are a tree, and a
model used to chains adds the last operand where the first half's sum belongs (one seed,
after a chain iteration: 97% amplified, 38% distilled at k = 4).

Every seed shares the one SFT policy (``output_dir/sft``) and draws its own problems and
distillation runs. ``output_dir/amplify/<settings key>/`` holds::

    settings.json                          the settings the runs below were made with
    seed-<s>/problems.json                 train and held-out problems
    seed-<s>/<row>.jsonl                   each held-out problem's answer and steps
    seed-<s>/iter-<t>/train.jsonl          the train problems' amplified answers
    seed-<s>/iter-<t>/distill.jsonl        the demonstrations distilled
    seed-<s>/iter-<t>/sft/                 the distillation run (model/)

each reused when present, so a rerun with more seeds computes only the new ones, and a rerun
with other settings writes beside the old runs.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alignlab.config import fingerprint, from_dict, to_dict
from alignlab.data.io import iter_raw, write_records
from alignlab.experiments.organism import ready_organism, sft_policy
from alignlab.experiments.oversight.base import OversightConfig, publish, set_threads
from alignlab.models.adapters import is_model_dir
from alignlab.models.backends import HFBackend
from alignlab.organisms.assistant import sums
from alignlab.oversight.amplify import Amplified, amplify, distillation_data, strategy
from alignlab.stats import over_seeds
from alignlab.trainers import SFTConfig, train_sft

RUN_FREE = ("organism", "output_dir", "seeds", "first_seed", "threads", "progress", "report_dir")
"""Settings that change how or where the experiment runs, not what a seed computes."""
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
    """Held-out problems per k and seed, never trained on: what every row is measured on."""
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

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.ks or min(self.ks) < 2 or len(set(self.ks)) < len(self.ks):
            raise ValueError(f"ks: must be distinct numbers of operands >= 2, got {self.ks}")
        if self.n_train < 1 or self.n_heldout < 1:
            raise ValueError("n_train and n_heldout: must be at least 1")
        if self.iterations < 1:
            raise ValueError(f"iterations: must be at least 1, got {self.iterations}")
        for name in (self.strategy, self.reference):
            if name is not None:
                strategy(name)  # names the unknown one
        if self.tokens_per_term < 1:
            raise ValueError(f"tokens_per_term: must be at least 1, got {self.tokens_per_term}")

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
    distilled: dict[str, float]
    """Per ``distilled-t`` row, the share of train problems whose answers were distilled."""


def run_dir(config: AmplifyConfig) -> Path:
    """Where runs made with ``config``'s settings live (see the module docstring)."""
    settings = {k: v for k, v in to_dict(config).items() if k not in RUN_FREE}
    out = Path(config.output_dir) / "amplify" / fingerprint(settings)
    out.mkdir(parents=True, exist_ok=True)
    (out / "settings.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return out


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


def _distil(config: AmplifyConfig, model: str, train: list[dict], out: Path, seed: int) -> str:
    """``model`` fine-tuned on the amplified train answers, in ``out/sft/model``."""
    if is_model_dir(out / "sft" / "model"):
        return str(out / "sft" / "model")
    demos = distillation_data(
        [Amplified.from_dict(r) for r in train],
        sums,
        show_steps=config.show_steps,
        checked=config.check_steps,
    )
    if not demos:
        raise ValueError(f"{out}: amplification answered no train problem, nothing to distil")
    write_records(out / "distill.jsonl", demos)
    settings = {
        **config.distill,
        "model": model,
        "train_file": str(out / "distill.jsonl"),
        "output_dir": str(out / "sft"),
        "seed": seed,
        "threads": config.threads,
        "eval_every": 0,
        "save_every": 0,
        "progress": config.progress,
        "resume": (out / "sft" / "metrics.jsonl").exists(),
    }
    return str(train_sft(from_dict(SFTConfig, settings, source="amplify distill")))


def run_seed(config: AmplifyConfig, policy: str, out: Path, seed: int) -> SeedRun:
    """Every row's answers to the seed's held-out problems, and what each iteration distilled."""
    out.mkdir(parents=True, exist_ok=True)
    train, heldout = _problems(config, out, seed)
    loaded: dict[str, HFBackend] = {}

    def backend(model: str) -> HFBackend:
        if model not in loaded:
            loaded[model] = HFBackend.load(model, batch_size=64)
        return loaded[model]

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
        step = out / f"iter-{t}"
        step.mkdir(exist_ok=True)
        amplified = ask(model, heldout, config.strategy, overseer=policy)
        rows[f"amplified-{t}"] = _answered(out / f"amplified-{t}.jsonl", amplified)
        on_train = _answered(step / "train.jsonl", ask(model, train, config.strategy, policy))
        model = _distil(config, model, on_train, step, seed)
        kept = len((step / "distill.jsonl").read_text().splitlines())
        distilled[f"distilled-{t}"] = kept / len(train)
        rows[f"distilled-{t}"] = _answered(
            out / f"distilled-{t}.jsonl", ask(model, heldout, "direct")
        )
    return SeedRun(rows, distilled)


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


def reach(per_k: dict[int, dict]) -> int | None:
    """The largest k up to which accuracy is at least :data:`REACH_LEVEL` at every k;
    ``None`` when it falls short at the smallest."""
    out = None
    for k in sorted(per_k):
        if per_k[k]["value"] < REACH_LEVEL:
            break
        out = k
    return out


def _label(config: AmplifyConfig, row: str) -> str:
    if row == "amplified":
        return f"amplified ({config.reference}, SFT policy alone)"
    if row.startswith("amplified-"):
        t = int(row.removeprefix("amplified-"))
        model = "SFT policy" if t == 1 else f"distilled-{t - 1}"
        return f"{row} ({config.strategy}: {model} + SFT policy)"
    return row


def panel(config: AmplifyConfig, runs: list[SeedRun], wall_s: float) -> dict:
    """The amplification panel: accuracy per k of every row, and accuracy against k."""
    ks = config.ks
    columns = ["method", *(f"k={k}" for k in ks), "all k", "questions per problem"]
    columns.append("train problems distilled")
    table_rows, series = [], []
    for row in config.rows:
        per_k = {k: accuracy(runs, row, k) for k in ks}
        shares = [s.distilled[row] for s in runs if row in s.distilled]
        table_rows.append(
            {
                "method": _label(config, row),
                **{f"k={k}": per_k[k] for k in ks},
                "all k": accuracy(runs, row),
                "questions per problem": questions_asked(runs, row),
                "train problems distilled": float(np.mean(shares)) if shares else None,
            }
        )
        if not row.startswith("amplified-"):  # the figure: what each model does alone
            series.append({"name": row, "points": [{"x": k, "y": per_k[k]} for k in ks]})
    seeds, n = len(runs), config.n_heldout
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
        },
        "wall_s": wall_s,
        "table": {"columns": columns, "rows": table_rows},
        "curves": [
            {
                "title": f"accuracy against k ({n} held-out problems per k x {seeds} seeds)",
                "x": "operands k",
                "y": "accuracy",
                "x_log": False,
                "series": series,
            }
        ],
    }


def _shown_reach(value: int | None) -> str:
    return "none" if value is None else f"k <= {value}"


def _depth(reached: int | None) -> int:
    return -1 if reached is None else reached


def _grew(direct: int | None, distilled: list[int | None]) -> bool:
    """Whether the distilled reach never shrank from one iteration to the next and ended
    beyond direct oversight's (and, over several iterations, beyond the first one's)."""
    depth = [_depth(r) for r in distilled]
    steady = all(b >= a for a, b in itertools.pairwise(depth))
    return steady and depth[-1] > max(_depth(direct), depth[0] if len(depth) > 1 else -1)


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
        text += (
            f"; decomposed ({config.reference}) it answers {per_k['amplified'][hi]['value']:.0%}"
            f" at k = {hi}"
        )
    iterations = range(1, config.iterations + 1)
    amplified = [reach(per_k[f"amplified-{t}"]) for t in iterations]
    distilled = [reach(per_k[f"distilled-{t}"]) for t in iterations]
    text += (
        f". Reach (accuracy >= {REACH_LEVEL:.0%} at every k up to it): direct "
        f"{_shown_reach(reach(direct))}; per iteration, amplified "
        + ", ".join(map(_shown_reach, amplified))
        + "; distilled "
        + ", ".join(map(_shown_reach, distilled))
        + f"; distilled accuracy at k = {hi}: "
        + ", ".join(f"{per_k[f'distilled-{t}'][hi]['value']:.0%}" for t in iterations)
        + "."
    )
    grew = _grew(reach(direct), distilled)
    kept = all(_depth(d) >= _depth(a) for a, d in zip(amplified, distilled, strict=True))
    text += (
        f" IDA's shape {'reproduced' if grew else 'did not reproduce'}: the distilled reach "
        f"{'grew with the iterations' if grew else 'did not grow with the iterations'}, and "
        f"distillation {'kept' if kept else 'did not always keep'} the reach of the "
        "amplification it was trained on."
    )
    return text


def run_amplify(config: AmplifyConfig) -> tuple[dict, Path]:
    """Run every seed (reusing what exists) and publish the panel; returns it and the report."""
    started = time.perf_counter()
    set_threads(config.threads)
    organism, _ = ready_organism(config.organism)
    policy = sft_policy(organism, Path(config.output_dir) / "sft", config.threads)
    root = run_dir(config)
    runs = [run_seed(config, policy, root / f"seed-{s}", s) for s in config.seed_list]
    result = panel(config, runs, time.perf_counter() - started)
    return result, publish(config.output_dir, "amplify", result)
