"""Running tasks: records appended as samples finish, a summary at the end, resumable.

A run directory holds::

    run.json       the settings a resume must match (seed, limit, backend) and the suites run
    records.jsonl  one EvalRecord per sample, appended chunk by chunk and flushed
    summary.json   per suite, each metric's value, n and 95% bootstrap interval
    cache.sqlite   endpoint responses, when the backend keeps a cache there (the CLI does)

Samples are solved in chunks (``chunk_size``); a chunk's records are appended
when it finishes, so a killed run loses at most the chunk in flight. When a
chunk fails (an endpoint that kept failing through its retries, a malformed
answer), each of its samples is tried once more on its own, and a sample that
fails again is recorded with its ``error`` and no scores: the run completes.
A solution whose output is not text (a backend that let a ``null`` or a number
through) is such a failure too: it is recorded with that cause, never scored.
``resume`` keeps every finished record, drops those that failed, and
evaluates only what is missing; as records are summarized in dataset order
with a seeded bootstrap, a resumed run's summary equals an uninterrupted one's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignlab.data.io import write_json
from alignlab.data.records import Sample
from alignlab.evals.records import (
    EvalRecord,
    Score,
    append_records,
    read_eval_records,
    write_records_atomic,
)
from alignlab.evals.task import Solution, Task
from alignlab.models.backends.base import Backend
from alignlab.progress import progress_bar

RUN_FILE = "run.json"
RECORDS_FILE = "records.jsonl"
SUMMARY_FILE = "summary.json"
_RECOVERABLE = (RuntimeError, ValueError, OSError)
"""Failures a sample is recorded with: endpoint errors, timeouts, malformed answers.
Anything else (a bug) stops the run, with every finished record kept."""


class RunError(ValueError):
    """A run directory that cannot be used as asked (a different run's settings, say)."""


@dataclass(frozen=True)
class RunConfig:
    """How a run goes."""

    seed: int = 0
    """Seeds every model call and the bootstrap: the same seed gives the same summary."""
    limit: int | None = None
    """Evaluate only each suite's first ``limit`` samples (data files interleave their
    conditions, so every prefix is balanced)."""
    resume: bool = False
    """Continue the run in the output directory, skipping the samples it finished."""
    chunk_size: int = 16
    """Samples solved together; their records are appended when the chunk finishes."""
    progress: bool = True
    """Show a progress bar (samples, rate, ETA, errors) on stderr."""

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit: must be at least 1, got {self.limit}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size: must be at least 1, got {self.chunk_size}")


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _solve(task: Task, backend: Backend | None, samples: list[Sample], seed: int) -> list:
    """Solutions, or for a sample that failed on its own, the error's description."""
    try:
        return task.solver.solve(backend, samples, seed=seed)
    except _RECOVERABLE as error:
        if len(samples) == 1:
            return [_describe(error)]
    out = []
    for sample in samples:
        try:
            out.extend(task.solver.solve(backend, [sample], seed=seed))
        except _RECOVERABLE as error:
            out.append(_describe(error))
    return out


def _checked(solution: Any) -> Any:
    """``solution``, or the description of why it cannot be scored."""
    if isinstance(solution, Solution) and not isinstance(solution.output, str):
        kind = "null" if solution.output is None else type(solution.output).__name__
        return f"ValueError: the model's answer is {kind}, not text; not scored"
    return solution


def _score(scorer, samples: list[Sample], solutions: list[Solution]) -> list[Score]:
    try:
        return scorer.score(samples, solutions)
    except _RECOVERABLE as error:
        if len(samples) == 1:
            return [Score(None, "", error=_describe(error))]
    out = []
    for sample, solution in zip(samples, solutions, strict=True):
        try:
            out.extend(scorer.score([sample], [solution]))
        except _RECOVERABLE as error:
            out.append(Score(None, "", error=_describe(error)))
    return out


def evaluate_chunk(
    task: Task, backend: Backend | None, chunk: Sequence[tuple[int, Sample]], seed: int
) -> list[EvalRecord]:
    """Solve and score some of a task's samples, given with their dataset positions."""
    samples = [s for _, s in chunk]
    solved = [_checked(x) for x in _solve(task, backend, samples, seed)]
    ok = [i for i, x in enumerate(solved) if isinstance(x, Solution)]
    scores: dict[int, dict[str, Score]] = {i: {} for i in ok}
    for scorer in task.scorers:
        batch = _score(scorer, [samples[i] for i in ok], [solved[i] for i in ok])
        for i, score in zip(ok, batch, strict=True):
            scores[i][scorer.name] = score
    name = backend.name if backend is not None else None
    records = []
    for i, ((index, sample), solution) in enumerate(zip(chunk, solved, strict=True)):
        record = EvalRecord(
            suite=task.name,
            id=sample.id,
            index=index,
            input=sample.input,
            target=sample.target,
            output="",
            meta=sample.meta,
            backend={"name": name, "calls": []},
        )
        if isinstance(solution, Solution):
            record.output = solution.output
            record.transcript = solution.transcript
            record.scores = scores[i]
            record.data = solution.data
            record.backend["calls"] = list(solution.calls)
        else:
            record.error = solution
        records.append(record)
    return records


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def summarize(
    tasks: Sequence[Task], records: Sequence[EvalRecord], *, seed: int, limit: int | None = None
) -> dict[str, Any]:
    """Per task: samples planned, finished and failed, and every metric's estimate."""
    suites = {}
    for task in tasks:
        own = sorted((r for r in records if r.suite == task.name), key=lambda r: r.index)
        scorer_errors = {
            s.name: sum(1 for r in own if r.scores.get(s.name) and r.scores[s.name].error)
            for s in task.scorers
        }
        metrics = {}
        for metric in task.metrics:
            estimate = metric.compute(own, seed=seed).to_dict()
            metrics[metric.name] = {
                **{k: _finite(v) for k, v in estimate.items()},
                "description": metric.description,
            }
        suites[task.name] = {
            "description": task.description,
            "n_samples": len(task.samples[:limit]),
            "n_finished": sum(1 for r in own if r.error is None),
            "n_errors": sum(1 for r in own if r.error is not None),
            "scorer_errors": {k: v for k, v in scorer_errors.items() if v},
            "metrics": metrics,
        }
    return {"seed": seed, "limit": limit, "suites": suites}


def _prepare(out: Path, settings: dict, suites: list[str], resume: bool) -> None:
    """Check that ``out`` may take this run, and record its settings in ``run.json``."""
    run_file, records_file = out / RUN_FILE, out / RECORDS_FILE
    previous = json.loads(run_file.read_text()) if run_file.exists() else None
    has_records = records_file.exists() and records_file.stat().st_size > 0
    if not resume and has_records:
        raise RunError(
            f"{out}: already holds a run's records; pass --resume to continue it, "
            "or choose another --out"
        )
    if resume and previous is not None:
        for key, value in settings.items():
            if previous.get(key) != value:
                raise RunError(
                    f"{run_file}: {key} is {previous.get(key)!r} but this run asks for "
                    f"{value!r}; resume with the same {key}, or choose another --out"
                )
        suites = list(dict.fromkeys([*previous.get("suites", []), *suites]))
    write_json(run_file, {**settings, "suites": suites}, indent=2)


def run_eval(
    tasks: Sequence[Task],
    backend: Backend | None,
    out: str | Path,
    config: RunConfig | None = None,
) -> dict[str, Any]:
    """Evaluate ``backend`` on ``tasks`` into the directory ``out``; returns the summary."""
    config = config or RunConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if backend is None and any(t.solver.needs_backend for t in tasks):
        needing = [t.name for t in tasks if t.solver.needs_backend]
        raise RunError(f"suites {needing} need a model to evaluate: pass --model or --base-url")
    settings = {
        "seed": config.seed,
        "limit": config.limit,
        "backend": backend.name if backend is not None else None,
    }
    _prepare(out, settings, [t.name for t in tasks], config.resume)
    records_file = out / RECORDS_FILE
    finished: set[tuple[str, str]] = set()
    if config.resume:
        existing = read_eval_records(records_file)
        kept = {}
        for record in existing:
            if record.error is None:
                kept.setdefault(record.key, record)
        if len(kept) < len(existing):
            write_records_atomic(records_file, kept.values())
        finished = set(kept)
    plan = []
    for task in tasks:
        pending = [
            (i, s)
            for i, s in enumerate(task.samples[: config.limit])
            if (task.name, s.id) not in finished
        ]
        plan.append((task, pending))
    errors = 0
    total = sum(len(pending) for _, pending in plan)
    with progress_bar(total, "eval", enabled=config.progress, unit="sample") as advance:
        for task, pending in plan:
            for start in range(0, len(pending), config.chunk_size):
                chunk = pending[start : start + config.chunk_size]
                records = evaluate_chunk(task, backend, chunk, config.seed)
                append_records(records_file, records)
                errors += sum(1 for r in records if r.error is not None)
                advance(len(chunk), suite=task.name, errors=errors)
    summary = summarize(
        tasks, read_eval_records(records_file, repair=False), seed=config.seed, limit=config.limit
    )
    summary["backend"] = settings["backend"]
    write_json(out / SUMMARY_FILE, summary, indent=2)
    return summary
