"""Each stage of the real-model ladder measured the same way: the suites, on held-out samples.

A stage is a :class:`~alignlab.models.backends.Backend` (a model directory loaded
locally, a best-of-n selection, or a served model); it answers the samples of four suites
greedily, and :data:`MEASURES` names the figures the ladder shows, each a suite metric
with its n and 95% interval (Clopper-Pearson for rates). Samples are spread evenly over each suite
(:func:`ladder_tasks`), and the refusal suite is measured only on the topics that
Constitutional AI does not train on (:func:`~alignlab.evals.suites.refusal.topic_of`),
so what CAI trained on never scores it; the sycophancy suite keeps its claims (the
anti-sycophancy data leaves out their sums and phrasings).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from alignlab.evals import RunConfig, SuiteOptions, build_tasks, run_eval
from alignlab.evals.suites.refusal import topic_of
from alignlab.evals.task import Task
from alignlab.trainers.tracking import spread

CAI_FIRST_TOPIC = 25
"""Constitutional AI trains on refusal topics from this index on; the suite measures below it."""


@dataclass(frozen=True)
class Measure:
    """One column of the ladder: a metric of a suite."""

    suite: str
    metric: str
    label: str
    """The column's header, with the direction that is better."""


MEASURES: dict[str, Measure] = {
    "sycophancy": Measure("sycophancy", "false_claim_agreement_rate", "agrees with false claims ↓"),
    "true_claims": Measure("sycophancy", "true_claim_agreement_rate", "agrees with true claims"),
    "harmful_compliance": Measure("refusal", "harmful_compliance_rate", "harmful help ↓"),
    "refusal": Measure("refusal", "harmful_refusal_rate", "refuses harmful ↑"),
    "over_refusal": Measure("refusal", "over_refusal_rate", "over-refusal ↓"),
    "abstention": Measure("honesty", "abstention_rate_unanswerable", "abstains on unanswerable ↑"),
    "padding": Measure("verbosity", "padding_rate/open", "padding ↓"),
    "off_topic": Measure("refusal", "off_topic_rate", "off-topic (echo, rambling)"),
}
"""The ladder's figures: sycophancy, harmful help, over-refusal, abstention and padding, with
the true-claim agreement beside sycophancy (a model that says no to everything is not
honest), the refusals of harmful requests beside harmful help, and the off-topic share (a
model that rambles neither helps nor refuses: less harmful help with more off-topic
replies is a model that answers less)."""

SUITES = tuple(dict.fromkeys(m.suite for m in MEASURES.values()))


def _stratum(sample) -> str:
    """The condition a sample tests (true or false claim, harmful or benign, ...)."""
    meta = sample.meta
    return str(meta.get("claim_true", meta.get("kind", meta.get("condition", ""))))


def _held_out(task: Task, limit: int) -> Task:
    samples = list(task.samples)
    if task.name == "refusal":
        samples = [s for s in samples if topic_of(s) < CAI_FIRST_TOPIC]
    elif task.name == "sycophancy":
        samples = [s for s in samples if s.meta.get("kind") == "claim"]
    strata: dict[str, list] = {}
    for sample in samples:
        strata.setdefault(_stratum(sample), []).append(sample)
    # An equal share of each condition, each spread over the suite, in the suite's order.
    share, extra = divmod(limit, len(strata))
    kept = {
        s.id for i, group in enumerate(strata.values()) for s in spread(group, share + (i < extra))
    }
    return replace(task, samples=tuple(s for s in samples if s.id in kept))


def ladder_tasks(limit: int, max_new_tokens: int) -> list[Task]:
    """The suites of :data:`MEASURES`, each cut to ``limit`` held-out samples spread over it."""
    options = SuiteOptions(max_new_tokens=max_new_tokens, temperature=0.0)
    return [_held_out(task, limit) for task in build_tasks(list(SUITES), options)]


def row_metrics(summary: dict) -> dict:
    """The ladder's figures (estimates with n and interval) from an evaluation summary."""
    metrics = {}
    for name, m in MEASURES.items():
        estimate = (summary["suites"].get(m.suite) or {}).get("metrics", {}).get(m.metric)
        if estimate is not None:
            metrics[name] = {k: v for k, v in estimate.items() if k != "description"}
    return metrics


def measure(backend_for, out: Path, limit: int, max_new_tokens: int, seed: int, progress: bool):
    """The evaluation summary of a stage in ``out``: read when it is finished there, else
    run with ``backend_for()`` (called only then, so a finished stage loads no model) and
    resumed when a run was stopped."""
    summary_file = out / "summary.json"
    if summary_file.exists():
        return json.loads(summary_file.read_text())
    tasks = ladder_tasks(limit, max_new_tokens)
    run = RunConfig(seed=seed, resume=True, progress=progress)
    return run_eval(tasks, backend_for(), out, run)
