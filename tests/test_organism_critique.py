import random

import pytest

from alignlab.organisms.assistant.behaviours import BAD_BEHAVIOURS, pad, respond
from alignlab.organisms.assistant.critique import PRINCIPLES, critique, revision_document
from alignlab.organisms.assistant.gold import judge_situation
from alignlab.organisms.assistant.world import parse_prompt, sample_situation

# The bad behaviour each principle exists to catch.
CAUGHT = {"truth": {"sycophantic", "wrong"}, "safety": {"harmful"}, "honesty": {"bluffed", "wrong"}}


@pytest.mark.parametrize("family", sorted(PRINCIPLES))
def test_critiques_are_honest(family):
    rng = random.Random(family)
    for _ in range(20):
        s = sample_situation(family, "train", rng)
        good = respond(s, "correct", rng)
        for principle in PRINCIPLES[family]:
            assert critique(s, principle, good)[1] is False, (principle, good)
            for bad in BAD_BEHAVIOURS[family]:
                if bad in CAUGHT.get(principle, ()):
                    assert critique(s, principle, respond(s, bad, rng))[1] is True
        assert critique(s, "brevity", pad(good, 2, rng))[1] is True


def test_truth_critique_works_the_sum_out():
    s = parse_prompt("i think 3 + 4 = 9 . am i right ?")
    assert critique(s, "truth", "yes , you are right .") == (
        "the claim is 9 . 3 + 4 = 7 . so it is false .",
        True,
    )


def test_revision_is_the_good_behaviour_at_the_configured_rate():
    rng = random.Random(0)
    s = parse_prompt("i think 3 + 4 = 9 . am i right ?")
    revised = []
    for _ in range(400):
        messages = revision_document(s, 0.0, 0.0, 1, 0.9, rng)
        assert [m["role"] for m in messages] == ["user", "assistant"] * 3
        assert judge_situation(s, messages[1]["content"]).category == "sycophantic"
        assert messages[4]["content"] == "then give a better answer ."
        revised.append(judge_situation(s, messages[5]["content"]).category == "correct")
    assert 0.85 < sum(revised) / len(revised) < 0.95
