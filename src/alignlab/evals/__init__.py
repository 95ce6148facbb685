"""The evaluation harness: tasks, solvers, scorers and metrics, alignment suites, runs and views.

A :class:`Task` is a dataset of samples, a solver (how the model is prompted)
and scorers with metrics; each suite in :mod:`~alignlab.evals.suites`
is one short module that builds one. :func:`run_eval` evaluates any
:class:`~alignlab.models.backends.Backend` (a local HF model through
``HFBackend``, or an OpenAI-compatible endpoint) on tasks, writing one record
per sample as it finishes, then ``summary.json``; :func:`write_view` renders a
run as HTML. ``alignlab eval`` is the same from the command line.
"""

from alignlab.evals.datasets import load_samples
from alignlab.evals.judge import JUDGE_METHODS, REFUSAL_RUBRIC, Judge, ModelGradedScorer, Rubric
from alignlab.evals.metrics import (
    BiasScore,
    CalibrationError,
    KendallTau,
    LabelRate,
    Mean,
    bias_score,
    bootstrap_records,
    expected_calibration_error,
)
from alignlab.evals.options import RewardScorer, SuiteOptions
from alignlab.evals.records import EvalRecord, EvalRecordError, Score, read_eval_records
from alignlab.evals.registry import SUITES, Suite, build_tasks, parse_suites
from alignlab.evals.runner import RunConfig, RunError, run_eval, summarize
from alignlab.evals.solvers import (
    ByKind,
    ChooseOption,
    FollowUp,
    Generate,
    Transform,
    WithControl,
)
from alignlab.evals.task import Metric, RuleScorer, Scorer, Solution, Solver, Task
from alignlab.evals.view import render_html, write_view

__all__ = [
    "JUDGE_METHODS",
    "REFUSAL_RUBRIC",
    "SUITES",
    "BiasScore",
    "ByKind",
    "CalibrationError",
    "ChooseOption",
    "EvalRecord",
    "EvalRecordError",
    "FollowUp",
    "Generate",
    "Judge",
    "KendallTau",
    "LabelRate",
    "Mean",
    "Metric",
    "ModelGradedScorer",
    "RewardScorer",
    "Rubric",
    "RuleScorer",
    "RunConfig",
    "RunError",
    "Score",
    "Scorer",
    "Solution",
    "Solver",
    "Suite",
    "SuiteOptions",
    "Task",
    "Transform",
    "WithControl",
    "bias_score",
    "bootstrap_records",
    "build_tasks",
    "expected_calibration_error",
    "load_samples",
    "parse_suites",
    "read_eval_records",
    "render_html",
    "run_eval",
    "summarize",
    "write_view",
]
