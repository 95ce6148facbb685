import json
from dataclasses import replace

import pytest

from alignlab.data import Demonstration, Sample, read_records, write_records
from alignlab.feedback import (
    Journal,
    ModelSpec,
    PromptItem,
    ResumeError,
    ReviseConfig,
    critique_revise,
    load_constitution,
    parse_constitution,
    read_prompts,
)
from alignlab.feedback.journal import run_settings
from alignlab.feedback.revise import on_topic, rejected_path, summary
from alignlab.models.backends import Completion, OptionProbs, as_messages
from alignlab.models.fence import notice_marker, unfence

CONSTITUTION = """\
name = "scripted"

[comparison]
[[comparison.turns]]
role = "user"
content = "{conversation} {question} (A) {first} (B) {second}"

[[principles]]
id = "p1"
critique = "critique by p1 ."
revision = "revise by p1 ."
question = "which by p1 ?"

[[principles]]
id = "p2"
critique = "critique by p2 ."
revision = "revise by p2 ."
question = "which by p2 ?"
"""


class Scripted:
    """A Backend that answers by rule, and records what it was asked.

    A prompt gets ``answer(prompt text)``; a critique request ``critique of <answer>``; a
    revision request ``<answer> +<principle>``, so a chain's history shows in its text.
    ``prefer(first, second)`` gives P(option 1) in comparisons (the first shown).
    """

    def __init__(self, name="scripted", answer=lambda text: f"answer to {text}", prefer=None):
        self._name, self.answer, self.prefer = name, answer, prefer
        self.asked: list[list[dict]] = []
        self.fail_after: int | None = None

    @property
    def name(self):
        return self._name

    def generate(self, requests, *, progress=False):
        if self.fail_after is not None and len(self.asked) >= self.fail_after:
            raise RuntimeError("the backend went away")
        out = []
        for request in requests:
            messages = as_messages(request.prompt)
            self.asked.append(messages)
            last = messages[-1]["content"]
            if last.startswith("critique by"):
                text = f"critique of {messages[-2]['content']}"
            elif last.startswith("revise by"):
                text = f"{messages[-4]['content']} +{last.split()[2]}"
            else:
                text = self.answer(last)
            out.append(Completion((text,), ("stop",), model=self._name))
        return out

    def option_probs(self, prompt, options, *, votes=8, seed=None):
        self.asked.append(as_messages(prompt))
        first, second = _shown(prompt)
        p = self.prefer(first, second)
        return OptionProbs(tuple(options), (p, 1.0 - p), "logprobs", 1.0)


def _shown(prompt) -> tuple[str, str]:
    """The two responses of a comparison prompt laid out as in CONSTITUTION.

    Read as a model that follows the prompt would: the marker its clause names, and the
    conversation and the two responses fenced by it, in order."""
    text = as_messages(prompt)[-1]["content"]
    _, first, second = unfence(text, notice_marker(text))
    return first, second


def items(n: int) -> list[PromptItem]:
    return [PromptItem(f"q{i}", f"question {i} ?", {"family": "test"}) for i in range(n)]


def run(tmp_path, config: ReviseConfig, policy, critic=None, n=5, resume=False, name="out"):
    settings = {"seed": config.seed}
    journal = Journal(tmp_path / f"{name}.jsonl", "demonstration", settings, resume=resume)
    rejected = Journal(rejected_path(journal.path), "sample", settings, resume=resume)
    constitution = parse_constitution(CONSTITUTION)
    counts = critique_revise(
        items(n), policy, critic or policy, constitution, config, journal, rejected
    )
    return counts, read_records(tmp_path / f"{name}.jsonl", "demonstration")


def rejected_rows(tmp_path, name="out"):
    return read_records(tmp_path / f"{name}.rejected.jsonl", "sample")


def test_each_round_critiques_and_revises_the_current_answer(tmp_path):
    config = ReviseConfig(prompts="p.jsonl", rounds=3, chunk_size=2, progress=False)
    counts, records = run(tmp_path, config, Scripted())
    assert counts == {
        "revised": 5,
        "unchanged": 0,
        "failed": 0,
        "empty": 0,
        "off_topic": 0,
        "total": 5,
        "written": 5,
    }
    assert summary(counts) == "5 revised, 0 unchanged, 0 failed (empty 0, off-topic 0)"
    assert [r.meta["id"] for r in records] == [f"q{i}/0" for i in range(5)]
    for r in records:
        rounds = r.meta["rounds"]
        ids = [step["principle"] for step in rounds]
        assert r.meta["initial"] == f"answer to {r.prompt}"
        assert rounds[0]["critique"] == f"critique of {r.meta['initial']}"
        assert rounds[0]["revision"] == f"{r.meta['initial']} +{ids[0]}"
        assert rounds[1]["critique"] == f"critique of {rounds[0]['revision']}"
        assert r.response == f"{r.meta['initial']} +{ids[0]} +{ids[1]} +{ids[2]}"
        assert r.meta["family"] == "test" and r.meta["constitution"] == "scripted"
        assert r.meta["status"] == "revised"
        assert [step["status"] for step in rounds] == ["revised"] * 3
        assert r.meta["policy"] == r.meta["critic"] == "scripted"


def test_the_critic_sees_only_the_prompt_and_the_current_answer(tmp_path):
    policy, critic = Scripted("policy"), Scripted("critic")
    _, records = run(
        tmp_path, ReviseConfig(prompts="p.jsonl", rounds=2, progress=False), policy, critic, n=2
    )
    assert len(policy.asked) == 2  # the first answers only
    revision_asked = [m for m in critic.asked if m[-1]["content"].startswith("revise by")]
    assert [m["role"] for m in revision_asked[0]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    second_round = [m for m in critic.asked if m[1]["content"] != records[0].meta["initial"]]
    assert second_round and all(len(m) <= 5 for m in second_round)
    assert {(r.meta["policy"], r.meta["critic"]) for r in records} == {("policy", "critic")}


def test_principles_are_drawn_per_answer_and_round_and_reproducibly(tmp_path):
    config = ReviseConfig(prompts="p.jsonl", rounds=4, progress=False)
    _, first = run(tmp_path, config, Scripted(), n=20, name="a")
    _, again = run(tmp_path, config, Scripted(), n=20, name="b")
    drawn = [[s["principle"] for s in r.meta["rounds"]] for r in first]
    assert drawn == [[s["principle"] for s in r.meta["rounds"]] for r in again]
    assert {p for row in drawn for p in row} == {"p1", "p2"}
    assert len({tuple(row) for row in drawn}) > 3


def test_a_blank_revision_keeps_the_answer_and_fails(tmp_path):
    class Silent(Scripted):
        def generate(self, requests, *, progress=False):
            done = super().generate(requests)
            return [
                Completion(("",), ("stop",)) if "revise by" in str(r.prompt) else c
                for r, c in zip(requests, done, strict=True)
            ]

    counts, records = run(tmp_path, ReviseConfig(prompts="p.jsonl", progress=False), Silent(), n=2)
    assert records == []  # nothing revised: nothing to fine-tune on
    rows = rejected_rows(tmp_path)
    assert [r.meta["answer"] for r in rows] == [r.meta["initial"] for r in rows]
    assert {(r.meta["status"], r.meta["reason"]) for r in rows} == {("failed", "empty")}
    assert (counts["revised"], counts["failed"], counts["empty"]) == (0, 2, 2)


def test_revisions_are_counted_as_revised_unchanged_empty_or_off_topic(tmp_path):
    """One answer of each kind: only the revised one is SFT data; each row says what it is."""

    class Mixed(Scripted):
        def generate(self, requests, *, progress=False):
            done = super().generate(requests)
            out = []
            for request, completion in zip(requests, done, strict=True):
                messages = as_messages(request.prompt)
                text = completion.texts[0]
                if messages[-1]["content"].startswith("revise by"):
                    answer, question = messages[-4]["content"], messages[0]["content"]
                    text = {
                        "question 0 ?": text,  # revised: the answer, extended
                        "question 1 ?": f"  {answer.upper()} ",  # unchanged
                        "question 2 ?": "",  # empty
                        "question 3 ?": "zebras juggle purple xylophones",  # off-topic
                    }[question]
                out.append(Completion((text,), ("stop",), model=self.name))
            return out

    config = ReviseConfig(prompts="p.jsonl", progress=False)
    counts, records = run(tmp_path, config, Mixed(), n=4)
    assert counts == {
        "revised": 1,
        "unchanged": 1,
        "failed": 2,
        "empty": 1,
        "off_topic": 1,
        "total": 4,
        "written": 4,
    }
    assert summary(counts) == "1 revised, 1 unchanged, 2 failed (empty 1, off-topic 1)"
    assert [(r.meta["id"], r.meta["status"]) for r in records] == [("q0/0", "revised")]
    rows = {r.meta["id"]: r for r in rejected_rows(tmp_path)}
    assert {k: (r.meta["status"], r.meta.get("reason")) for k, r in rows.items()} == {
        "q1/0": ("unchanged", None),
        "q2/0": ("failed", "empty"),
        "q3/0": ("failed", "off-topic"),
    }
    assert [rows[k].meta["rounds"][0]["status"] for k in ("q1/0", "q2/0", "q3/0")] == [
        "unchanged",
        "empty",
        "off-topic",
    ]
    assert all(r.meta["answer"] == r.meta["initial"] for r in rows.values())
    # A resumed run finds every answer done, revised or not.
    again, _ = run(tmp_path, config, Mixed(), n=4, resume=True)
    assert again == {**counts, "written": 0}


def test_off_topic_means_sharing_almost_no_content_words():
    assert on_topic("the answer is 6 .", "what is 2 + 4 ? the answer is 5 .", 0.1)
    assert not on_topic("zebras juggle purple xylophones", "what is 2 + 4 ?", 0.1)
    assert on_topic("it is .", "what is 2 + 4 ?", 0.1)  # no content words: nothing to judge
    assert on_topic("zebras juggle", "what is 2 + 4 ?", 0.0)


def test_every_answer_draws_with_a_seed_of_its_own(tmp_path):
    class Seeds(Scripted):
        def __init__(self):
            super().__init__()
            self.seen = []

        def generate(self, requests, *, progress=False):
            self.seen.extend(r.seed for r in requests if r.temperature > 0)
            return super().generate(requests)

    config = ReviseConfig(prompts="p.jsonl", samples_per_prompt=3, progress=False)
    chunked, one_by_one = Seeds(), Seeds()
    _, records = run(tmp_path, config, chunked, n=2)
    assert [r.meta["id"] for r in records] == ["q0/0", "q0/1", "q0/2", "q1/0", "q1/1", "q1/2"]
    # Per prompt and sample index, not per chunk: no two answers share random numbers,
    # and an answer's seed does not depend on the chunk it falls in.
    assert len(set(chunked.seen)) == 6
    run(tmp_path, replace(config, chunk_size=1), one_by_one, n=2, name="one-by-one")
    assert one_by_one.seen == chunked.seen


def test_a_stopped_run_resumes_without_repeating_work(tmp_path):
    config = ReviseConfig(prompts="p.jsonl", rounds=2, chunk_size=2, progress=False)
    _, whole = run(tmp_path, config, Scripted(), n=5, name="whole")
    broken = Scripted()
    broken.fail_after = 12  # dies inside the second chunk, after its first answers
    with pytest.raises(RuntimeError):
        run(tmp_path, config, broken, n=5, name="part")
    assert len(read_records(tmp_path / "part.jsonl")) == 2
    with open(tmp_path / "part.jsonl", "a") as f:
        f.write('{"prompt": "cut off')  # a line left unfinished by a killed writer
    fresh = Scripted()
    counts, resumed = run(tmp_path, config, fresh, n=5, resume=True, name="part")
    assert counts["written"] == 3 and counts["total"] == 5
    assert [r.to_dict() for r in resumed] == [r.to_dict() for r in whole]
    assert all("question 0" not in m[0]["content"] for m in fresh.asked)


def test_an_output_is_not_overwritten_or_resumed_with_other_settings(tmp_path):
    out = tmp_path / "out.jsonl"
    write_records(out, [Demonstration("p", "r", {"id": "q0/0"})])
    with pytest.raises(ResumeError, match="already holds records"):
        Journal(out, "demonstration", {"seed": 0}, resume=False)
    Journal(out, "demonstration", {"seed": 0}, resume=True)
    with pytest.raises(ResumeError, match="seed is 0 but this run has 1"):
        Journal(out, "demonstration", {"seed": 1}, resume=True)


def test_a_resumed_run_may_change_how_it_runs_but_not_what_it_writes(tmp_path):
    out = tmp_path / "out.jsonl"
    write_records(out, [Demonstration("p", "r", {"id": "q0/0"})])
    first = ReviseConfig(
        prompts="p.jsonl", output=str(out), policy=ModelSpec("m", base_url="http://x/v1")
    )
    Journal(out, "demonstration", run_settings(first), resume=True)
    faster = ReviseConfig(
        prompts="p.jsonl",
        output=str(out),
        policy=ModelSpec("m", base_url="http://x/v1", concurrency=32, timeout=5),
    )
    Journal(out, "demonstration", run_settings(faster), resume=True)
    other = ReviseConfig(prompts="p.jsonl", output=str(out), rounds=2, policy=faster.policy)
    with pytest.raises(ResumeError, match="rounds is 1 but this run has 2"):
        Journal(out, "demonstration", run_settings(other), resume=True)


def test_prompts_come_from_samples_or_demonstrations(tmp_path):
    samples = tmp_path / "samples.jsonl"
    write_records(samples, [Sample("a ?", id="x", meta={"family": "f"}), Sample("b ?")])
    assert [(i.id, i.prompt, i.meta) for i in read_prompts(samples)] == [
        ("x", "a ?", {"family": "f"}),
        ("1", "b ?", {}),
    ]
    demos = tmp_path / "demos.jsonl"
    write_records(demos, [Demonstration([{"role": "user", "content": "c ?"}], "r")])
    assert read_prompts(demos)[0].prompt == [{"role": "user", "content": "c ?"}]
    write_records(samples, [Sample("a ?", id="x"), Sample("b ?", id="x")])
    with pytest.raises(ValueError, match="not unique"):
        read_prompts(samples)


def test_config_checks_its_values():
    with pytest.raises(ValueError, match="rounds"):
        ReviseConfig(prompts="p.jsonl", rounds=0)
    with pytest.raises(ValueError, match="api_key_env"):
        ModelSpec("m", api_key_env="KEY")
    assert (
        load_constitution(ReviseConfig(prompts="p.jsonl").constitution).name == "alignlab-default"
    )
    assert (
        json.loads(json.dumps(ReviseConfig(prompts="p.jsonl").policy.__dict__))["model"]
        == "runs/sft/model"
    )
