"""Fault injection: every way an OpenAI-compatible endpoint fails, through ``alignlab eval run``.

A loopback server (``openai_server.LoopbackServer``, 127.0.0.1, in this process)
answers every request of two target samples with one fault; per mode the run must
complete and write summary.json, each target be recorded as an error naming its
cause and never scored, every other sample be asked exactly once, the retries be
bounded (counted in the server's log), and ``--resume`` ask again for the targets
only. Retry waits are recorded instead of slept. ``python tests/test_endpoint_faults.py``
prints the per-mode table (run it with ``PYTHONPATH`` on another source tree to
compare versions).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alignlab.cli.eval import app
from alignlab.data.records import Sample
from alignlab.data.text import normalize
from alignlab.evals import build_tasks, read_eval_records
from alignlab.evals.options import SuiteOptions
from alignlab.evals.records import Score
from alignlab.evals.rules import refusal, word_count
from alignlab.evals.runner import RunConfig, evaluate_chunk, run_eval
from alignlab.evals.solvers import Generate
from alignlab.evals.task import RuleScorer, Task
from alignlab.models.backends import Completion, ResponseCache
from alignlab.models.backends import openai as openai_backend
from openai_server import FAULTS, LoopbackServer, random_faults

SUITE, LIMIT, TARGETS = "refusal", 8, (1, 6)  # one target in each chunk of 4
TIMEOUT, MAX_RETRIES, RETRY_AFTER = 0.3, 1, 0.25
SECRET = "sk-alignlab-fault-0123456789abcdef"
# Mode: (the server's fault, whether the backend retries it, what the error must name).
MODES = {
    "hang": ("hang", True, f"within the {TIMEOUT:g} s timeout"),
    "429": ("429", True, "HTTP 429: injected rate limit"),
    "500": ("500", True, "HTTP 500: injected server error"),
    "garbage": ("garbage", False, "a body that is not JSON"),
    "no-choices": ("no-choices", False, "an empty list of choices"),
    "null-content": ("null-content", False, "content: expected a string, got null"),
    "content-filter": ("content-filter", False, "finish_reason is 'content_filter'"),
    "message-string": ("message-string", False, "message: expected an object, got str"),
    "content-int": ("content-int", False, "content: expected a string, got int"),
    "reset": ("reset", True, "RemoteProtocolError"),
    "dribble": ("dribble", True, f"within the {TIMEOUT:g} s timeout"),
    "intermittent": ("500", True, None),  # the first try of each target only: retried, fine
}


@dataclass
class Outcome:
    """What one mode did: the first run, then a ``--resume`` with the faults gone."""

    exit_code: int
    summary: bool
    errors: dict[int, str]
    scored: set[int]
    asked: dict[int, int]
    resumed: dict[int, int]
    waits: list[float]
    seconds: float
    output: str = ""
    final: list = field(default_factory=list)
    resume_exit_code: int = 0


def prompts() -> list[str]:
    [task] = build_tasks([SUITE], SuiteOptions())
    return [s.input for s in task.samples[:LIMIT]]


def sample_of(entry: dict, texts: list[str]) -> int:
    return texts.index(entry["messages"][-1]["content"])


def counts(entries: list[dict], texts: list[str]) -> dict[int, int]:
    out: dict[int, int] = {}
    for entry in entries:
        out[sample_of(entry, texts)] = out.get(sample_of(entry, texts), 0) + 1
    return out


def drive(mode: str, out: Path, waits: list[float]) -> Outcome:
    """Run the suite through a server faulting the targets in ``mode``, then resume."""
    kind, _, _ = MODES[mode]
    texts = prompts()
    targets = {texts[i] for i in TARGETS}
    seen: set[str] = set()

    def fault_for(number: int, body: dict) -> str | None:
        text = body["messages"][-1]["content"]
        if text not in targets or (mode == "intermittent" and text in seen):
            return None
        seen.add(text)
        return kind

    options = {"fault_delay": 2.0, "retry_after": f"{RETRY_AFTER:g}", "dribble": 0.05}
    with LoopbackServer(fault_for, **options) as server:
        args = ["run", "--suite", SUITE, "--base-url", server.url, "--model", "tiny"]
        args += ["--api-key-env", "ALIGNLAB_FAULT_KEY", "--limit", str(LIMIT), "--out", str(out)]
        args += ["--max-new-tokens", "8", "--no-progress"]
        for setting in (f"timeout={TIMEOUT}", f"max_retries={MAX_RETRIES}", "concurrency=4"):
            args += ["--set", setting]
        args += ["--set", "run.chunk_size=4"]
        start = time.monotonic()
        first = CliRunner().invoke(app, args)
        seconds = time.monotonic() - start
        asked = len(server.log)
        records_file = out / "records.jsonl"
        records = read_eval_records(records_file) if records_file.exists() else []
        wrote_summary = (out / "summary.json").exists()
        server.fault_for = lambda number, body: None
        again = CliRunner().invoke(app, [*args, "--resume"])
        resumed = server.log[asked:]
        log = list(server.log)
    return Outcome(
        exit_code=first.exit_code,
        summary=wrote_summary and first.exit_code == 0,
        errors={r.index: r.error for r in records if r.error is not None},
        scored={r.index for r in records if r.error is None and r.scores},
        asked=counts(log[:asked], texts),
        resumed=counts(resumed, texts),
        waits=list(waits),
        seconds=seconds,
        output=first.output + again.output,
        final=[] if again.exit_code else read_eval_records(out / "records.jsonl"),
        resume_exit_code=again.exit_code,
    )


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)

    monkeypatch.setattr(openai_backend, "_sleep", sleep)
    monkeypatch.setenv("ALIGNLAB_FAULT_KEY", SECRET)
    return asked


@pytest.mark.parametrize("mode", list(MODES))
def test_each_fault_is_recorded_never_scored_and_resumed(mode, waits, tmp_path):
    kind, retried, cause = MODES[mode]
    assert kind in FAULTS
    outcome = drive(mode, tmp_path / "run", waits)
    assert outcome.exit_code == 0 and outcome.summary, outcome.output
    others = [i for i in range(LIMIT) if i not in TARGETS]
    # Every other sample was asked once: a failure in its chunk re-asks none of them.
    assert all(outcome.asked[i] == 1 for i in others), outcome.asked
    if cause is None:  # intermittent: one retry each, nothing lost, nothing to resume
        assert outcome.errors == {} and outcome.scored == set(range(LIMIT))
        assert all(outcome.asked[i] == 2 for i in TARGETS) and outcome.resumed == {}
        return
    assert set(outcome.errors) == set(TARGETS), outcome.errors
    assert all(cause in error for error in outcome.errors.values()), outcome.errors
    assert outcome.scored == set(others)
    # Bounded: each target tried in its chunk and once on its own, each try with its retries.
    per_try = MAX_RETRIES + 1 if retried else 1
    assert all(outcome.asked[i] == 2 * per_try for i in TARGETS), outcome.asked
    if kind == "429":
        assert outcome.waits == [RETRY_AFTER] * len(outcome.waits) and outcome.waits
    assert outcome.seconds < 15
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["suites"][SUITE]["n_errors"] == 0  # after the resume
    # The resume asked for the two failed samples only, once each, and scored them.
    assert outcome.resumed == dict.fromkeys(TARGETS, 1)
    assert len(outcome.final) == LIMIT and all(r.error is None for r in outcome.final)
    assert all(r.scores for r in outcome.final)
    for path in (tmp_path / "run").iterdir():
        assert SECRET.encode() not in path.read_bytes(), path


class ScriptedBackend:
    """Completions with whatever text a test gives, as a third-party backend might return."""

    name = "scripted"

    def __init__(self, texts):
        self.texts = texts

    def generate(self, requests, *, progress=False):
        return [Completion((self.texts[r.prompt[-1]["content"]],), ("stop",)) for r in requests]

    def option_probs(self, prompt, options, *, votes=8, seed=None):
        raise NotImplementedError


def test_an_answer_that_is_not_text_is_an_error_record_never_a_score():
    samples = [Sample(p, id=f"s{i}") for i, p in enumerate(["a?", "b?", "c?"])]
    scorer = RuleScorer("words", lambda s, x: Score(float(word_count(x.output)), ""))
    task = Task("t", "", tuple(samples), Generate(), (scorer,), ())
    backend = ScriptedBackend({"a?": "two words", "b?": None, "c?": 42})
    records = evaluate_chunk(task, backend, list(enumerate(samples)), seed=0)
    assert records[0].error is None and records[0].scores["words"].value == 2.0
    assert "answer is null, not text" in records[1].error and records[1].scores == {}
    assert "answer is int, not text" in records[2].error and records[2].scores == {}


@pytest.mark.parametrize("value", [None, 42, ["a"], {"text": "x"}])
def test_the_rules_refuse_what_is_not_text(value):
    for rule in (normalize, refusal, word_count):
        with pytest.raises(ValueError, match="expected the answer as text"):
            rule(value)


def rss() -> int:
    """This process's resident memory now, in bytes."""
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:  # Linux: the second field of statm, in pages
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
def test_soak_2000_samples_with_random_faults(monkeypatch, tmp_path):
    """2,000 samples at concurrency 16 with 10% random faults: all accounted for, memory flat."""
    n = 2000

    async def short_sleep(seconds: float) -> None:
        import asyncio

        await asyncio.sleep(min(seconds, 0.02))

    monkeypatch.setattr(openai_backend, "_sleep", short_sleep)
    kinds = ("hang", "429", "500", "garbage", "no-choices", "null-content", "content-filter")
    kinds += ("message-string", "content-int", "reset", "dribble")
    samples = tuple(Sample(f"Question {i}: why?", id=f"q{i}") for i in range(n))
    scorer = RuleScorer("words", lambda s, x: Score(float(word_count(x.output)), ""))
    task = Task("soak", "", samples, Generate(max_new_tokens=8), (scorer,), ())
    options = {"fault_delay": 1.0, "retry_after": "0.01", "dribble": 0.05}
    memory: list[tuple[int, int]] = []
    done = threading.Event()
    with LoopbackServer(random_faults(0.1, kinds, seed=0), **options) as server:

        def watch() -> None:
            while not done.wait(0.1):
                memory.append((len(server.log), rss()))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        cache = ResponseCache(tmp_path / "soak" / "cache.sqlite")  # as the CLI keeps one
        backend = openai_backend.OpenAIChatBackend(
            server.url, "tiny", concurrency=16, timeout=0.3, max_retries=2, cache=cache
        )
        start = time.monotonic()
        summary = run_eval([task], backend, tmp_path / "soak", RunConfig(progress=False))
        seconds = time.monotonic() - start
        cache.close()
        done.set()
        watcher.join()
        injected = Counter(e["fault"] for e in server.log if e["fault"])
        requests = len(server.log)
    records = read_eval_records(tmp_path / "soak" / "records.jsonl")
    assert sorted(r.index for r in records) == list(range(n))
    failed = [r for r in records if r.error is not None]
    assert all(r.scores == {} and r.error for r in failed)
    assert all(r.scores["words"].value is not None for r in records if r.error is None)
    suite = summary["suites"]["soak"]
    assert suite["n_finished"] + suite["n_errors"] == n and suite["n_errors"] == len(failed)
    quarter = max(i for i, _ in memory) // 4
    first = max(m for i, m in memory if i <= quarter)
    last = max(m for i, m in memory if i >= 3 * quarter)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        f"soak: {n} samples, {requests} requests, {injected.total()} faults injected "
        f"({dict(injected)}), "
        f"{n - len(failed)} scored, {len(failed)} errors, {seconds:.1f} s; RSS first quarter "
        f"{first / 2**20:.1f} MiB, last quarter {last / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB"
    )
    assert injected.total() > n * 0.05 and set(injected) == set(kinds)
    assert last - first < 32 * 2**20, (first, last)


def main() -> None:
    """Print the per-mode table for the source tree on ``sys.path``."""
    import tempfile

    os.environ["ALIGNLAB_FAULT_KEY"] = SECRET
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    openai_backend._sleep = sleep
    print(
        "| mode | completes, summary.json | recorded as errors | targets scored "
        "| requests per target | requests for the 6 others | time | resume: exit, re-asked |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for mode in MODES:
        waits.clear()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                o = drive(mode, Path(tmp) / "run", waits)
            except Exception as error:  # an old tree may fail outside the CLI
                print(f"| {mode} | crashed: {type(error).__name__} | | | | | | |")
                continue
        done = "yes" if o.summary else f"no (exit {o.exit_code})"
        scored = sorted(set(TARGETS) & o.scored)
        asked = [o.asked.get(i, 0) for i in TARGETS]
        others = sum(n for i, n in o.asked.items() if i not in TARGETS)
        resumed = dict(sorted(o.resumed.items()))
        print(
            f"| {mode} | {done} | {len(o.errors)} | {scored} | {asked} | {others} "
            f"| {o.seconds:.1f} s | {o.resume_exit_code}, {resumed} |",
            flush=True,
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
