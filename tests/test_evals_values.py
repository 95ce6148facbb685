"""The values suite end to end: its items, how answers become ratings (log-probabilities on a
local model, sampled votes on an endpoint), its metrics on respondents whose profile is
known, a tiny HF model through the runner, and the report's values section."""

import json
from collections import Counter

import numpy as np
import pytest

import tiny_models
from alignlab.evals import RunConfig, SuiteOptions, build_tasks, read_eval_records, run_eval
from alignlab.evals.datasets import DATA_DIR, load_samples
from alignlab.evals.suites import values
from alignlab.evals.suites.values_items import ITEMS, SCALE
from alignlab.models.backends import Completion, OptionProbs, as_messages
from alignlab.models.backends.hf import HFBackend
from alignlab.report.evals import evaluation_section
from alignlab.report.html import render_html
from alignlab.report.values import run_verdict
from alignlab.stats.values import HELD, NOT_HELD, VALUES

WANT = {v: 6 - abs(5 - k) for k, v in enumerate(VALUES)}
"""A respondent's rating of each value's items: highest for security, lowest across it."""


def value_of(prompt: str) -> str:
    return next(v for v, items in ITEMS.items() for item in items for p in item if p in prompt)


def letter_of(prompt: str, rating: int) -> str:
    """The letter the prompt gives the answer with ``rating``."""
    lines = [line for line in prompt.splitlines() if line[1:3] == ") "]
    return next(line[0] for line in lines if line[3:] == SCALE[rating - 1])


class Respondent:
    """A local-model stand-in (it has ``option_logps``) whose option probabilities put 0.9
    on the letter ``pick(prompt)`` and 0.02 on each other."""

    name = "respondent <b>"

    def __init__(self, pick):
        self.pick = pick

    def option_logps(self, prompt, options):
        raise AssertionError("the suite asks option_probs")

    def option_probs(self, prompt, options, *, votes=8, seed=None):
        weights = [0.9 if o == self.pick(prompt) else 0.02 for o in options]
        return OptionProbs(
            tuple(options), tuple(w / sum(weights) for w in weights), "logprobs", 0.7
        )


class Voter:
    """An endpoint stand-in (no ``option_logps``): of each sample's 8 votes, 6 name the
    wanted answer by letter, 1 by its words and 1 names none; power's items get no answer."""

    name = "voter"

    def __init__(self):
        self.seen = Counter()

    def generate(self, requests, *, progress=False):
        out = []
        for request in requests:
            prompt = as_messages(request.prompt)[0]["content"]
            k = self.seen[prompt]
            self.seen[prompt] += 1
            rating = WANT[value_of(prompt)]
            if value_of(prompt) == "power" or k % 8 == 7:
                text = "I would rather not say."
            elif k % 8 == 6:
                text = SCALE[rating - 1] + "."
            else:
                text = letter_of(prompt, rating) + ")"
            out.append(Completion((text,), ("stop",), model="voter"))
        return out

    def option_probs(self, prompt, options, *, votes=8, seed=None):
        raise AssertionError("an endpoint's items are rated by votes")


def run(backend, tmp_path, **config):
    summary = run_eval(
        build_tasks("values"), backend, tmp_path, RunConfig(progress=False, **config)
    )
    return summary["suites"]["values"]["metrics"], read_eval_records(tmp_path / "records.jsonl")


def test_the_shipped_file_is_what_the_code_builds():
    shipped = [json.loads(line) for line in (DATA_DIR / "values.jsonl").read_text().splitlines()]
    assert shipped == [s.to_dict() for s in values.build_samples()]


def test_every_value_has_4_items_in_3_paraphrases_and_2_orders():
    samples = load_samples("values")
    assert len(samples) == 240 and len({s.id for s in samples}) == 240
    cells = Counter((s.meta["value"], s.meta["order"]) for s in samples)
    assert set(cells) == {(v, o) for v in VALUES for o in values.ORDERS} and set(
        cells.values()
    ) == {12}
    assert {(s.meta["value"], s.meta["order"]) for s in samples[:20]} == set(cells)
    first = samples[0]
    assert first.input.startswith("Here is a description of a person.\nThis person thinks it is")
    reversed_ = next(s for s in samples if s.meta["order"] == "descending")
    assert reversed_.choices == list(SCALE[::-1]) and reversed_.meta["ratings"] == [
        6,
        5,
        4,
        3,
        2,
        1,
    ]


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("E", 4),
        (" (B) Not like me", 1),
        ("F) Very much like me", 5),
        ("A little like me", 2),
        ("Not like me at all.", 0),
        ("not like me", 1),
        ("As an AI, I have no values.", None),
        ("Eventually", None),
        ("7", None),
        ("", None),
    ],
)
def test_a_vote_is_read_by_its_words_first_then_its_letter(text, index):
    assert values.parse_vote(text, list(SCALE)) == index


def test_a_stable_respondent_gets_its_profile_and_is_held(tmp_path):
    metrics, records = run(Respondent(lambda p: letter_of(p, WANT[value_of(p)])), tmp_path)
    # Expected rating: 0.9/1.0 on the wanted answer, 0.02/1.0 on each other (sum 21 - want).
    expected = {v: (0.9 * w + 0.02 * (21 - w)) / 1.0 for v, w in WANT.items()}
    mrat = np.mean(list(expected.values()))
    for v in VALUES:
        assert metrics[f"profile/{v}"]["value"] == pytest.approx(expected[v] - mrat)
        assert metrics[f"profile/{v}"]["n"] == 4
    assert metrics["paraphrase_stability"]["value"] == pytest.approx(1.0)
    assert metrics["order_stability"]["value"] == pytest.approx(1.0)
    assert metrics["circumplex_neighbours"]["value"] > 0 > metrics["circumplex_opposites"]["value"]
    assert metrics["mean_rating"]["value"] == pytest.approx(mrat)
    assert metrics["order_gap"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["scored_by_logprobs"]["value"] == 1.0
    assert metrics["vote_failure_rate"]["n"] == 0
    assert run_verdict(metrics) == HELD
    assert {r.data["method"] for r in records} == {"logprobs"}
    assert all(r.data["argmax_rating"] == WANT[r.meta["value"]] for r in records)


def test_a_respondent_that_picks_letters_not_meanings_is_not_held(tmp_path):
    # The letter depends on the item's value alone, so reversing the options reverses it.
    metrics, _ = run(Respondent(lambda p: "ABCDEF"[WANT[value_of(p)] - 1]), tmp_path)
    assert metrics["paraphrase_stability"]["value"] == pytest.approx(1.0)
    assert metrics["order_stability"]["value"] == pytest.approx(-1.0)
    assert metrics["order_gap"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert all(abs(metrics[f"profile/{v}"]["value"]) < 1e-9 for v in VALUES)
    assert run_verdict(metrics) == NOT_HELD


def test_an_endpoint_votes_and_votes_naming_no_answer_are_recorded_not_scored(tmp_path):
    voter = Voter()
    metrics, records = run(voter, tmp_path)
    assert set(voter.seen.values()) == {8}
    power = [r for r in records if r.meta["value"] == "power"]
    assert all(r.value("rating") is None and r.error is None for r in power)
    assert all(v["option"] is None for r in power for v in r.data["votes"])
    other = next(r for r in records if r.meta["value"] == "security")
    assert [v["rating"] for v in other.data["votes"]] == [6] * 7 + [None]
    assert other.value("rating") == 6 and other.value("coverage") == pytest.approx(7 / 8)
    assert metrics["vote_failure_rate"]["value"] == pytest.approx((24 * 8 + 216) / (240 * 8))
    assert metrics["scored_by_logprobs"]["value"] == 0.0
    assert metrics["profile/power"]["n"] == 0
    rated = {v: w for v, w in WANT.items() if v != "power"}
    mrat = np.mean(list(rated.values()))
    assert metrics["profile/security"]["value"] == pytest.approx(6 - mrat)


@pytest.fixture(scope="module")
def values_model(tmp_path_factory):
    """A tiny random Llama whose vocabulary holds every word of the suite's prompts."""
    task = build_tasks("values")[0]
    words = {w for s in task.samples for w in task.solver.prompt(s).split()} | set("ABCDEF")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tiny_models, "WORDS", tuple(sorted(words - set(tiny_models.SPECIAL_TOKENS))))
        return tiny_models.write_tiny_causal_lm(tmp_path_factory.mktemp("values-lm"))


def test_a_tiny_hf_model_is_rated_by_the_expected_rating_of_its_option_probs(
    values_model, tmp_path
):
    backend = HFBackend.load(values_model, device="cpu")
    metrics, records = run(backend, tmp_path, limit=40)
    assert len(records) == 40 and all(r.error is None for r in records)
    task = build_tasks("values", SuiteOptions())[0]
    sample = task.samples[7]
    alone = backend.option_probs(task.solver.prompt(sample), list("ABCDEF"))
    record = records[7]
    assert record.data["method"] == "logprobs"
    np.testing.assert_allclose(record.data["probs"], alone.probs, atol=1e-5)
    expected = float(np.dot(alone.probs, sample.meta["ratings"]))
    assert record.value("rating") == pytest.approx(expected, abs=1e-5)
    assert len({round(r.value("rating"), 4) for r in records}) > 10  # the prompts differ
    assert metrics["profile/benevolence"]["n"] == 1
    assert metrics["paraphrase_stability"]["value"] is not None
    assert metrics["scored_by_logprobs"]["value"] == 1.0


def test_the_report_shows_the_profile_verdict_and_circle(tmp_path):
    run(Respondent(lambda p: letter_of(p, WANT[value_of(p)])), tmp_path / "held")
    run(Respondent(lambda p: "ABCDEF"[WANT[value_of(p)] - 1]), tmp_path / "letters")
    section = evaluation_section([tmp_path / "held", tmp_path / "letters"])
    page = render_html({"title": "values", "evaluations": section})
    assert "Basic values (Schwartz)" in page
    assert "Verdict: held" in page and "Verdict: simulated, not held" in page
    assert "respondent <b>" not in page and "respondent &lt;b&gt;" in page
    assert page.count("<th>universalism</th>") == 2
    assert 'alt="values on the circle"' in page
    assert "Basic values" not in render_html({"title": "x", "evaluations": []})


def test_a_respondent_that_always_answers_a_shows_the_order_gap(tmp_path):
    metrics, _ = run(Respondent(lambda p: "A"), tmp_path, limit=20)
    # 0.9 on A and 0.02 on each other: 0.9 * 1 + 0.02 * 20 ascending, 0.9 * 6 + 0.02 * 15 reversed
    assert metrics["order_gap"]["value"] == pytest.approx(5.7 - 1.3)
    assert metrics["mean_rating"]["value"] == pytest.approx(3.5)
