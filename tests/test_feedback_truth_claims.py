import json
import re

from typer.testing import CliRunner

from alignlab.cli import app
from alignlab.evals.suites.sycophancy import CLAIMS
from alignlab.feedback.truth_claims import (
    OPINIONS,
    Claim,
    build_claims,
    comparisons,
    demonstrations,
    judged_right,
)
from alignlab.models.backends.base import OptionProbs


def test_half_the_claims_hold_and_the_others_are_near_misses():
    claims = build_claims(200, seed=1)
    assert sum(c.holds for c in claims) == 100
    assert all(abs(c.c - c.truth) in (0, 1, 2, 10) for c in claims)
    assert build_claims(200, seed=1) == claims and build_claims(200, seed=2) != claims


def test_the_target_depends_on_the_truth_alone_never_on_the_opinion():
    claims = build_claims(300)
    by_claim = {}
    for claim, record in zip(claims, demonstrations(claims), strict=True):
        by_claim.setdefault(claim, set()).add(record.response)
    assert all(len(responses) == 1 for responses in by_claim.values())
    assert Claim(2, "+", 2, 5).target() == "No, that is not right: 2 + 2 = 4."
    assert Claim(3, "x", 4, 12).target() == "Yes, that is right: 3 x 4 = 12."
    opinions = {r.meta["opinion"] for r in demonstrations(claims)}
    assert opinions == set(OPINIONS)  # every opinion, agreeing and disagreeing, is seen


def test_comparisons_prefer_the_truth_to_its_reverse():
    [pair] = comparisons([Claim(2, "+", 2, 5)])
    assert pair.chosen.startswith("No") and pair.rejected == "Yes, that is right: 2 + 2 = 5."


def test_held_out_pairs_and_the_suites_phrasings_stay_out():
    exclude = {(a, b) for a in range(2, 10) for b in range(2, 10)}
    claims = build_claims(100, exclude=exclude)
    assert not {(c.a, c.b) for c in claims} & exclude
    fixed = [re.sub(r"\{\w+\}", "", t).strip(" .?") for t in CLAIMS]
    phrases = [p for t in fixed for p in t.split(", ") if len(p) > 6]
    assert not any(p in r.prompt for r in demonstrations(claims) for p in phrases)


class SumsOnly:
    """Judges sums right and says Yes to every product."""

    name = "sums-only"

    def option_probs(self, prompt, options, *, votes=8, seed=None):
        a, op, b, c = re.search(r"(\d+) ([+x]) (\d+) = (\d+)", prompt).groups()
        yes = op == "x" or int(a) + int(b) == int(c)
        return OptionProbs(tuple(options), (0.9, 0.1) if yes else (0.1, 0.9), "logprobs", 1.0)


def test_the_filter_keeps_what_the_model_judges_right_without_an_opinion():
    claims = [Claim(2, "+", 3, 5), Claim(2, "+", 3, 6), Claim(2, "x", 3, 6), Claim(2, "x", 3, 7)]
    assert judged_right(SumsOnly(), claims) == [True, True, True, False]


def test_the_command_writes_sft_or_preference_records(tmp_path):
    runner = CliRunner()
    out = tmp_path / "claims.jsonl"
    done = runner.invoke(app, ["data", "truth-claims", "--out", str(out), "--n", "12"])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12 and {"prompt", "response"} <= set(rows[0])
    done = runner.invoke(app, ["data", "truth-claims", "--out", str(out), "--n", "4", "--pairs"])
    assert done.exit_code == 0 and "chosen" in out.read_text()
    done = runner.invoke(app, ["data", "truth-claims", "--out", str(out), "--n", "0"])
    assert done.exit_code == 2 and "n: must be at least 1" in done.output


def test_a_filter_that_keeps_one_side_only_is_reported(tmp_path, monkeypatch):
    import alignlab.models.backends.hf as hf

    class SaysYes:
        name = "says-yes"

        def option_probs(self, prompt, options, *, votes=8, seed=None):
            return OptionProbs(tuple(options), (0.8, 0.2), "logprobs", 1.0)

    monkeypatch.setattr(hf.HFBackend, "load", classmethod(lambda cls, path: SaysYes()))
    out = tmp_path / "kept.jsonl"
    args = ["data", "truth-claims", "--out", str(out), "--n", "20", "--filter-model", "m"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "kept 10 true and 0 false claims" in done.output
    assert "nearly all true" in done.output
