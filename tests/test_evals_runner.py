import json
from collections.abc import Callable, Sequence

import pytest

from alignlab.data.records import Sample
from alignlab.evals import (
    EvalRecord,
    Generate,
    Mean,
    RuleScorer,
    RunConfig,
    RunError,
    Score,
    Task,
    read_eval_records,
    run_eval,
)
from alignlab.models.backends import (
    Backend,
    Completion,
    EndpointError,
    OptionProbs,
    as_messages,
)


class ScriptedBackend:
    """A Backend whose answers come from ``answer(messages)``; it counts what it was asked.

    ``fail(messages)`` makes a request fail as an endpoint that kept failing would.
    ``probs(prompt, options)`` gives option probabilities (uniform by default).
    """

    def __init__(
        self,
        answer: Callable[[list[dict]], str] = lambda messages: "fine .",
        *,
        fail: Callable[[list[dict]], bool] = lambda messages: False,
        probs: Callable[[str, Sequence[str]], Sequence[float]] | None = None,
    ):
        self.answer, self.fail, self.probs = answer, fail, probs
        self.prompts: list[list[dict]] = []
        self.seeds: list[int | None] = []

    @property
    def name(self) -> str:
        return "scripted"

    def generate(self, requests, *, progress=False):
        out = []
        for request in requests:
            messages = as_messages(request.prompt)
            if self.fail(messages):
                raise EndpointError("http://llm.test/v1 failed 7 times; last failure: HTTP 500")
            self.prompts.append(messages)
            self.seeds.append(request.seed)
            out.append(Completion((self.answer(messages),), ("stop",), model="scripted"))
        return out

    def option_probs(self, prompt, options, *, votes=8, seed=None):
        weights = list(self.probs(prompt, options)) if self.probs else [1.0] * len(options)
        total = sum(weights)
        return OptionProbs(tuple(options), tuple(w / total for w in weights), "logprobs", 1.0)


def _last_user(messages) -> str:
    return messages[-1]["content"]


def echo_task(n: int = 10, name: str = "echo") -> Task:
    """Samples ``q0``..``q{n-1}``; scored 1 when the answer repeats the question."""
    samples = tuple(Sample(f"q{i}", id=f"s{i}", meta={"half": i % 2}) for i in range(n))

    def repeats(sample, solution):
        same = solution.output == sample.input
        return Score(float(same), "repeats the question" if same else "does not repeat it")

    return Task(
        name=name,
        description="repeat the question",
        samples=samples,
        solver=Generate(max_new_tokens=8),
        scorers=(RuleScorer("repeats", repeats),),
        metrics=(Mean("repeat_rate", "share repeated", "repeats"),),
    )


def test_the_scripted_backend_is_a_backend():
    assert isinstance(ScriptedBackend(), Backend)


def test_one_record_per_sample_with_scores_and_backend_metadata(tmp_path):
    backend = ScriptedBackend(_last_user)
    summary = run_eval([echo_task()], backend, tmp_path, RunConfig(progress=False, chunk_size=3))
    records = read_eval_records(tmp_path / "records.jsonl")
    assert [r.id for r in records] == [f"s{i}" for i in range(10)]
    first = records[0]
    assert (first.suite, first.index, first.input, first.output) == ("echo", 0, "q0", "q0")
    assert first.transcript == [
        {"role": "user", "content": "q0"},
        {"role": "assistant", "content": "q0"},
    ]
    assert first.scores["repeats"] == Score(1.0, "repeats the question")
    assert first.backend["name"] == "scripted"
    assert first.backend["calls"][0]["model"] == "scripted"
    metric = summary["suites"]["echo"]["metrics"]["repeat_rate"]
    assert (metric["value"], metric["n"]) == (1.0, 10)
    assert json.loads((tmp_path / "summary.json").read_text()) == summary


def test_limit_takes_each_suites_first_samples(tmp_path):
    tasks = [echo_task(name="a"), echo_task(name="b")]
    run_eval(tasks, ScriptedBackend(), tmp_path, RunConfig(limit=3, progress=False))
    records = read_eval_records(tmp_path / "records.jsonl")
    assert [(r.suite, r.id) for r in records] == [
        (suite, f"s{i}") for suite in "ab" for i in range(3)
    ]


def test_seeds_depend_on_the_sample_not_on_its_batch(tmp_path):
    one = ScriptedBackend()
    run_eval([echo_task()], one, tmp_path / "a", RunConfig(chunk_size=1, progress=False))
    many = ScriptedBackend()
    run_eval([echo_task()], many, tmp_path / "b", RunConfig(chunk_size=7, progress=False))
    assert one.seeds == many.seeds and len(set(one.seeds)) == 10
    other = ScriptedBackend()
    run_eval([echo_task()], other, tmp_path / "c", RunConfig(seed=1, progress=False))
    assert other.seeds != one.seeds


def test_a_failing_sample_is_recorded_and_the_run_completes(tmp_path):
    backend = ScriptedBackend(_last_user, fail=lambda m: _last_user(m) == "q4")
    summary = run_eval([echo_task()], backend, tmp_path, RunConfig(chunk_size=4, progress=False))
    records = {r.id: r for r in read_eval_records(tmp_path / "records.jsonl")}
    assert len(records) == 10
    assert "EndpointError" in records["s4"].error and records["s4"].scores == {}
    # The rest of its chunk was solved on its own.
    assert all(records[f"s{i}"].error is None for i in (5, 6, 7))
    suite = summary["suites"]["echo"]
    assert (suite["n_finished"], suite["n_errors"]) == (9, 1)
    assert suite["metrics"]["repeat_rate"]["n"] == 9


def test_resume_retries_failed_samples_and_skips_finished_ones(tmp_path):
    broken = ScriptedBackend(_last_user, fail=lambda m: _last_user(m) in ("q2", "q8"))
    run_eval([echo_task()], broken, tmp_path, RunConfig(progress=False))
    fixed = ScriptedBackend(_last_user)
    summary = run_eval([echo_task()], fixed, tmp_path, RunConfig(resume=True, progress=False))
    assert sorted(_last_user(m) for m in fixed.prompts) == ["q2", "q8"]
    records = read_eval_records(tmp_path / "records.jsonl")
    assert sorted(r.id for r in records) == sorted(f"s{i}" for i in range(10))
    assert all(r.error is None for r in records)
    clean = run_eval(
        [echo_task()], ScriptedBackend(_last_user), tmp_path / "clean", RunConfig(progress=False)
    )
    assert summary["suites"] == clean["suites"]


def test_a_run_directory_is_not_overwritten_or_resumed_with_other_settings(tmp_path):
    run_eval([echo_task()], ScriptedBackend(), tmp_path, RunConfig(limit=2, progress=False))
    with pytest.raises(RunError, match="already holds a run's records; pass --resume"):
        run_eval([echo_task()], ScriptedBackend(), tmp_path, RunConfig(limit=2, progress=False))
    with pytest.raises(RunError, match=r"run.json: seed is 0 but this run asks for 3"):
        run_eval(
            [echo_task()],
            ScriptedBackend(),
            tmp_path,
            RunConfig(seed=3, resume=True, progress=False),
        )


def test_a_scorer_that_fails_records_an_error_not_a_score(tmp_path):
    def broken(sample, solution):
        if sample.id == "s1":
            raise ValueError("cannot read this answer")
        return Score(1.0, "fine")

    task = echo_task()
    task = Task(
        task.name,
        task.description,
        task.samples,
        task.solver,
        (RuleScorer("repeats", broken),),
        task.metrics,
    )
    summary = run_eval([task], ScriptedBackend(), tmp_path, RunConfig(limit=3, progress=False))
    records = read_eval_records(tmp_path / "records.jsonl")
    assert records[1].error is None
    assert records[1].scores["repeats"].value is None
    assert records[1].scores["repeats"].error == "ValueError: cannot read this answer"
    assert summary["suites"]["echo"]["scorer_errors"] == {"repeats": 1}
    assert summary["suites"]["echo"]["metrics"]["repeat_rate"]["n"] == 2


def test_tasks_check_their_ids_and_metrics():
    task = echo_task()
    with pytest.raises(ValueError, match="sample 1 repeats the id 's0'"):
        Task("t", "", (task.samples[0], task.samples[0]), task.solver, task.scorers, ())
    with pytest.raises(ValueError, match="metric 'm' reads scorer 'nope'"):
        Task("t", "", task.samples, task.solver, task.scorers, (Mean("m", "", "nope"),))


def test_records_round_trip(tmp_path):
    record = EvalRecord(
        "s", "x", 3, [{"role": "user", "content": "hi"}], ["a", "b"], "out",
        scores={"k": Score(None, "why", "lbl", "broke")}, meta={"m": 1}, data={"d": [1.5]},
    )  # fmt: skip
    assert EvalRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
