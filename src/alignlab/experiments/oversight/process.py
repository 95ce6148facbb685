"""Process versus outcome supervision on the organism: best-of-N on multi-step sums by a
process reward model, an outcome reward model and majority voting (Lightman et al. 2023).

Per seed: the organism's problems (``add a , b and c . show your steps .``) are split into
train and test problems. The policy samples ``train_samples`` solutions of each train
problem; an outcome reward model is fitted to them labelled by the gold's final-answer
verdict, a process reward model to their step prefixes labelled step by step
(:mod:`alignlab.organisms.assistant.steps`), both from the organism's base model with the
same settings. The policy then samples ``n_max`` solutions of each test problem, and best-of-N
for every N in ``ns`` is estimated over subsets of them (:mod:`alignlab.oversight.process`):
how often the pick's final answer is right (Lightman's accuracy), how often it is fully
correct, and how often it is a right answer reached by wrong steps (what an outcome model
accepts). Figures pool the seeds with :func:`~alignlab.stats.over_seeds`.

Runs live in ``output_dir/process/<fingerprint of the sampling settings, the policy and the
organism>/seed-<s>/``: the samples, each reward model in a directory named by its records
and training settings, the scores and the per-problem values, each reused when it exists,
so a rerun with more seeds computes only the new ones. The SFT policy is the one the other
protocols share, in ``output_dir/sft``. Seeds run ``workers`` at a time, each in its own process.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from alignlab.config import fingerprint
from alignlab.data.io import json_once
from alignlab.experiments.organism import organism_key, ready_organism, sft_policy
from alignlab.experiments.oversight.base import OversightConfig, publish, set_threads
from alignlab.models.backends import HFBackend
from alignlab.organisms.assistant.steps import OPERAND_SETS, grade, split_problems
from alignlab.oversight.process import (
    Candidates,
    best_of_n_values,
    fit_reward_model,
    outcome_records,
    outcome_scores,
    process_records,
    process_scores,
    sample_solutions,
)
from alignlab.progress import progress_bar
from alignlab.stats import over_seeds, ranking_auc

SELECTORS = ("prm", "orm", "majority", "oracle")
METRICS = {  # what a pick is worth, per sample
    "accuracy": "final answer right",
    "fully_correct": "fully correct (right steps and answer)",
    "wrong_steps": "right answer reached by wrong steps",
}
_COUNTS = ("train_problems", "test_problems", "train_samples", "n_max", "epochs",
           "max_new_tokens", "batch_size", "subsets", "generation_batch", "workers")  # fmt: skip


@dataclass
class ProcessConfig(OversightConfig):
    """``alignlab oversight process``: best-of-N by PRM, ORM and majority on multi-step sums."""

    policy: str = "base"
    """The policy that samples solutions: ``base`` (the organism's base model), ``sft`` (its
    SFT policy, trained first; right 95% of the time on ``world`` problems, 41% on ``heldout``)
    or a model directory."""
    test_operands: str = "heldout"
    """The test problems' operands (``alignlab.organisms.assistant.steps.OPERAND_SETS``):
    ``heldout`` (84 problems the family's sampler never draws, where the base model is right
    about one time in four), ``world`` (the sampler's 54) or ``all`` (196)."""
    train_operands: str = "all"
    """The train problems' operands, the same sets; a test problem is never a train one."""
    train_problems: int = 150
    """Problems per seed whose solutions train the reward models."""
    test_problems: int = 40
    """Problems per seed that best-of-N is measured on."""
    train_samples: int = 16
    """Solutions sampled per train problem; both reward models learn from the same ones."""
    n_max: int = 64
    """Solutions sampled per test problem: the largest N."""
    ns: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16, 32, 64])
    """The N of best-of-N, each at most ``n_max``."""
    temperature: float = 1.0
    """Sampling temperature."""
    max_new_tokens: int = 32
    """Longest solution, in tokens (a solution cut off ends in an unfinished, wrong step)."""
    lr: float = 3e-4
    """Learning rate of both reward models."""
    epochs: int = 4
    """Epochs of both reward models over their records."""
    batch_size: int = 16
    """Records per optimizer step of both reward models."""
    subsets: int = 256
    """Random N-subsets per problem behind majority voting's best-of-N estimate."""
    generation_batch: int = 4096
    """Solutions sampled together."""
    workers: int = 2
    """Seeds run at once, each in a process of its own with ``threads`` torch threads (a tiny
    model gains nothing from a second thread, and two processes use two cores); 1 runs them
    one after another in this process."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("test_operands", "train_operands"):
            if getattr(self, name) not in OPERAND_SETS:
                raise ValueError(f"{name}: expected one of {sorted(OPERAND_SETS)}")
        for name in _COUNTS:
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if not self.ns or min(self.ns) < 1 or max(self.ns) > self.n_max:
            raise ValueError(f"ns: must lie in [1, n_max={self.n_max}], got {self.ns}")
        for name in ("temperature", "lr"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)}")


SAMPLED_BY = ("policy", "test_operands", "train_operands", "train_problems", "test_problems",
              "train_samples", "n_max", "temperature", "max_new_tokens")  # fmt: skip
"""The fields that decide a seed's samples (its run directory's name)."""
TRAINED_BY = ("lr", "epochs", "batch_size")
"""With the records, the fields that decide a reward model (its directory's name)."""


class _Policy:
    """The sampling policy, loaded on first use (a rerun whose samples exist never loads it)."""

    def __init__(self, config: ProcessConfig, model: str):
        self.config, self.model, self.backend = config, model, None

    def drawn(self, path: Path, problems: list, n: int, seed: int) -> list[list[str]]:
        """``n`` samples of each problem, read from ``path`` when it holds these prompts'."""
        prompts = [s.prompt() for s in problems]
        if path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved["prompts"] == prompts and all(len(r) == n for r in saved["responses"]):
                return saved["responses"]
        c = self.config
        if self.backend is None:
            self.backend = HFBackend.load(self.model, batch_size=c.generation_batch)
        responses = sample_solutions(
            self.backend, prompts, n, seed=seed, temperature=c.temperature,
            max_new_tokens=c.max_new_tokens, batch=c.generation_batch, progress=c.progress,
        )  # fmt: skip
        json_once(path, lambda: {"prompts": prompts, "responses": responses}, replace=True)
        return responses


def _flat(problems: list, samples: list[list[str]]) -> tuple[list, list[str], list]:
    """Prompts, responses and their grades, one per sample, problem by problem."""
    prompts, responses, graded = [], [], []
    for situation, texts in zip(problems, samples, strict=True):
        for text in texts:
            prompts.append(situation.prompt())
            responses.append(text)
            graded.append(grade(situation, text))
    return prompts, responses, graded


def _seed(config: ProcessConfig, policy: _Policy, base: str, out: Path, seed: int) -> dict:
    """One seed: its samples, both reward models, and each problem's best-of-N values."""
    train, test = split_problems(
        config.train_operands, config.test_operands, seed, config.train_problems,
        config.test_problems,
    )  # fmt: skip
    train_texts = policy.drawn(out / "train_samples.json", train, config.train_samples, 2 * seed)
    test_texts = policy.drawn(out / "test_samples.json", test, config.n_max, 2 * seed + 1)
    prompts, responses, graded = _flat(train, train_texts)
    orm_records = outcome_records(prompts, responses, [g.right_answer for g in graded])
    steps = [[step.correct for step in g.solution.steps] for g in graded]
    prefixes = [[step.prefix for step in g.solution.steps] for g in graded]
    prm_records = process_records(prompts, prefixes, steps)
    settings = {f: getattr(config, f) for f in TRAINED_BY}
    settings |= {"seed": seed, "threads": config.threads, "progress": config.progress}
    orm_dir = fit_reward_model(orm_records, base, out / "orm", **settings)
    prm_dir = fit_reward_model(prm_records, base, out / "prm", **settings)
    models = out / f"scored-{fingerprint(orm_dir, prm_dir)}"

    def scores() -> dict:
        prompts, responses, graded = _flat(test, test_texts)
        prefixes = [[step.prefix for step in g.solution.steps] for g in graded]
        prm, step_probs = process_scores(prm_dir, prompts, prefixes)
        return {
            "orm": outcome_scores(orm_dir, prompts, responses).tolist(),
            "prm": prm.tolist(),
            "step_probs": [p.tolist() for p in step_probs],
        }

    scored = json_once(models / "scores.json", scores)
    sizes = {"orm_records": len(orm_records), "prm_records": len(prm_records)}
    values = models / f"values-{fingerprint(config.ns, config.subsets)}.json"
    return json_once(values, lambda: _values(config, test, test_texts, scored, seed) | sizes)


def _values(config: ProcessConfig, test: list, texts: list, scored: dict, seed: int) -> dict:
    """Each problem's best-of-N values for every selector and N, and the seed's diagnostics."""
    _, _, graded = _flat(test, texts)
    n_max = config.n_max
    orm, prm = np.array(scored["orm"]), np.array(scored["prm"])
    rows = [slice(p * n_max, (p + 1) * n_max) for p in range(len(test))]
    problems = [
        Candidates(tuple(g.solution.final for g in graded[r]), orm[r], prm[r],
                   np.array([g.judgement.utility for g in graded[r]]))
        for r in rows
    ]  # fmt: skip
    right = np.array([g.right_answer for g in graded], dtype=float)
    fully = np.array([g.fully_correct for g in graded], dtype=float)
    per_sample = {"accuracy": right, "fully_correct": fully, "wrong_steps": right - fully}
    values = {m: [v[r] for r in rows] for m, v in per_sample.items()}
    curves: dict = {name: {} for name in SELECTORS}
    for name in SELECTORS:
        for n in config.ns:
            got = best_of_n_values(name, problems, values, n, subsets=config.subsets, seed=seed)
            curves[name][str(n)] = {m: v.tolist() for m, v in got.items()}
    steps = [step.correct for g in graded for step in g.solution.steps]
    step_probs = np.array([p for ps in scored["step_probs"] for p in ps])
    return {
        "curves": curves,
        "mix": dict(Counter(g.judgement.category for g in graded)),
        "orm_auc": ranking_auc(orm, right),
        "prm_step_auc": ranking_auc(step_probs, np.array(steps)),
        "steps_agree_with_gold": float(np.mean([g.solution.sound == g.fully_correct for g in graded])),
    }  # fmt: skip


def _pooled(results: list[dict], selector: str, n: int, metric: str) -> list[np.ndarray]:
    """Per seed, each problem's value of ``metric`` for best-of-``n`` by ``selector``."""
    return [np.asarray(r["curves"][selector][str(n)][metric], dtype=float) for r in results]


def _estimate(results: list[dict], selector: str, n: int, metric: str) -> dict:
    return over_seeds(_pooled(results, selector, n, metric)).to_dict()


def _gap(results: list[dict], a: str, b: str, n: int) -> dict:
    """Accuracy of ``a`` minus ``b`` per problem (paired), pooled over seeds."""
    pairs = zip(_pooled(results, a, n, "accuracy"), _pooled(results, b, n, "accuracy"), strict=True)
    return over_seeds([x - y for x, y in pairs], rate=False).to_dict()


def _ci(e: dict, sign: str = "") -> str:
    """An estimate as ``value [lo, hi]`` (percent, or signed fractions with ``sign="+"``)."""
    form = "+.3f" if sign else ".1%"
    return f"{e['value']:{form}} [{e['lo']:{form}}, {e['hi']:{form}}]"


def _held(gaps: dict[int, dict]) -> str:
    """At which N a gap's interval lies above zero, below it, or around it."""
    above = [n for n, g in gaps.items() if g["lo"] > 0]
    below = [n for n, g in gaps.items() if g["hi"] < 0]
    held = f"held at N={', '.join(map(str, above))}" if above else "held at no N"
    return held + (f" and was reversed at N={', '.join(map(str, below))}" if below else "")


def _finding(results: list[dict], gaps: dict, ns: list[int]) -> str:
    """What the run measured, in sentences made of its numbers."""
    top = max(ns)
    at = {s: {n: _estimate(results, s, n, "accuracy") for n in ns} for s in SELECTORS}
    peak = {s: max(ns, key=lambda n: at[s][n]["value"]) for s in ("prm", "orm")}
    wrong = {s: _estimate(results, s, top, "wrong_steps") for s in ("orm", "prm", "majority")}
    prm_orm, orm_majority = gaps["PRM - ORM"], gaps["ORM - majority"]
    widest = max(ns, key=lambda n: prm_orm[n]["value"])
    fall = all(at[s][top]["value"] < at[s][peak[s]]["value"] - 0.01 for s in peak)
    after = " and both fall after it while the oracle rises: a larger N finds more of the "
    after = after + "reward models' errors" if fall else ""
    return (
        f"At N={top} the PRM's pick has the right final answer {_ci(at['prm'][top])} of the "
        f"time, the ORM's {_ci(at['orm'][top])} and majority voting's "
        f"{_ci(at['majority'][top])} (oracle {at['oracle'][top]['value']:.1%}; Lightman et al. "
        f"2023, best-of-1860 on MATH: 78.2 / 72.4 / 69.6%). PRM > ORM {_held(prm_orm)} "
        f"(at N={top} {_ci(prm_orm[top], '+')}, widest {prm_orm[widest]['value']:+.3f} at "
        f"N={widest}); ORM > majority {_held(orm_majority)} (at N={top} "
        f"{_ci(orm_majority[top], '+')}). The PRM peaks at N={peak['prm']} "
        f"({at['prm'][peak['prm']]['value']:.1%}) and the ORM at N={peak['orm']} "
        f"({at['orm'][peak['orm']]['value']:.1%}){after}. A right answer reached "
        f"by wrong steps is the pick at N={top} {_ci(wrong['orm'])} of the time for the ORM, "
        f"{_ci(wrong['prm'])} for the PRM and {_ci(wrong['majority'])} for majority voting."
    )


def _curve(title: str, y: str, series: dict[str, dict[int, dict]]) -> dict:
    """A panel's curve against N (log axis): one series per name, ``{N: estimate}``."""
    return {
        "title": title, "x": "N", "y": y, "x_log": True,
        "series": [
            {"name": name, "points": [{"x": n, "y": e} for n, e in points.items()]}
            for name, points in series.items()
        ],
    }  # fmt: skip


NAMES = {"prm": "PRM", "orm": "ORM", "majority": "majority", "oracle": "oracle (gold)"}


def _panel(config: ProcessConfig, results: list[dict], wall_s: float) -> dict:
    ns, top, seeds = config.ns, max(config.ns), len(results)
    n = seeds * config.test_problems
    columns = ["selector", *(f"{label} at N={top}" for label in METRICS.values())]
    rows = [
        {"selector": NAMES[s]}
        | {f"{label} at N={top}": _estimate(results, s, top, m) for m, label in METRICS.items()}
        for s in SELECTORS
    ]
    rows.append(
        {"selector": "one sample (N=1)"}
        | {f"{label} at N={top}": _estimate(results, "orm", 1, m) for m, label in METRICS.items()}
    )
    gaps = {
        f"{NAMES[a]} - {NAMES[b]}": {m: _gap(results, a, b, m) for m in ns}
        for a, b in (("prm", "orm"), ("orm", "majority"))
    }
    where = f"n={n} problems, {seeds} seeds, 95% CI"
    curves = [
        _curve(f"best-of-N: {label} ({where})", label, {
            NAMES[s]: {m: _estimate(results, s, m, metric) for m in ns} for s in SELECTORS
        })
        for metric, label in METRICS.items()
    ]  # fmt: skip
    title = f"accuracy gap against N ({where}, paired over problems)"
    curves.append(_curve(title, "difference in accuracy", gaps))
    mix = sum((Counter(r["mix"]) for r in results), Counter())
    total = sum(mix.values())
    per_seed = lambda key: ", ".join("-" if r[key] is None else f"{r[key]:.3f}" for r in results)  # noqa: E731
    setting = {
        "policy": config.policy,
        "problems": f"per seed {config.test_problems} test ({config.test_operands} operands), "
        f"{config.train_problems} train ({config.train_operands}, none a test problem)",
        "n": n,
        "seeds": seeds,
        "sampling": f"N max {config.n_max}, temperature {config.temperature}",
        "test samples": ", ".join(f"{c} {k / total:.1%}" for c, k in mix.most_common()),
        "reward models": f"from the base, on {config.train_problems * config.train_samples} "
        f"solutions a seed (ORM {results[0]['orm_records']} records, PRM "
        f"{results[0]['prm_records']} step records at seed {config.first_seed}); lr {config.lr}, "
        f"{config.epochs} epochs, batch {config.batch_size}",
        "ORM AUC, right answer (per seed)": per_seed("orm_auc"),
        "PRM AUC, right step (per seed)": per_seed("prm_step_auc"),
        "steps all right = gold correct (per seed)": per_seed("steps_agree_with_gold"),
        "majority: random subsets per N": config.subsets,
    }
    return {
        "title": "Process versus outcome supervision: best-of-N on multi-step sums",
        "finding": _finding(results, gaps, ns),
        "setting": setting,
        "wall_s": round(wall_s, 1),
        "table": {"columns": columns, "rows": rows},
        "curves": curves,
    }


def run_process(config: ProcessConfig) -> tuple[dict, Path]:
    """Run every seed (reusing what exists) and publish the panel; returns it and the report."""
    start = time.perf_counter()
    set_threads(config.threads)
    organism, _ = ready_organism(config.organism)
    base = str(organism / "base")
    root = Path(config.output_dir) / "process"
    model = {"base": base}.get(config.policy, config.policy)
    if config.policy == "sft":
        model = sft_policy(organism, Path(config.output_dir) / "sft", config.threads)
    sampled_by = {f: getattr(config, f) for f in SAMPLED_BY}
    key = fingerprint(sampled_by, str(Path(model).resolve()), organism_key(organism))
    run = root / key
    jobs = [(config, model, base, run / f"seed-{s}", s) for s in config.seed_list]
    if config.workers == 1 or len(jobs) == 1:
        results = [_seed_job(*job) for job in jobs]
    else:
        quiet = replace(config, progress=False)  # one bar per process would interleave
        workers = min(config.workers, len(jobs))
        with (
            ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool,
            progress_bar(len(jobs), "seeds", enabled=config.progress, unit="seed") as advance,
        ):
            running = [pool.submit(_seed_job, quiet, *job[1:]) for job in jobs]
            results = []
            for future in running:  # in seed order
                results.append(future.result())
                advance()
    panel = _panel(config, results, time.perf_counter() - start)
    return panel, publish(config, "process", panel)


def _seed_job(config: ProcessConfig, model: str, base: str, out: Path, seed: int) -> dict:
    """One seed, in this process or a worker's (which sets its own threads)."""
    set_threads(config.threads)
    return _seed(config, _Policy(config, model), base, out, seed)
