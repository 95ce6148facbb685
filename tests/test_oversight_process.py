"""Process versus outcome supervision: the world's steps and their labels, the selectors,
the best-of-N estimator and the wrong-steps rate by hand, and one tiny run end to end."""

import json
import random

import numpy as np
import pytest

from alignlab.organisms.assistant.behaviours import garble, pad, respond
from alignlab.organisms.assistant.gold import judge_situation
from alignlab.organisms.assistant.steps import (
    HELDOUT_OPERANDS,
    WORLD_OPERANDS,
    grade,
    problem,
    solution,
    split_problems,
)
from alignlab.organisms.assistant.world import sample_situation
from alignlab.oversight.process import (
    SELECTORS,
    Candidates,
    best_of_n_values,
    majority,
    outcome_records,
    pick_chances,
    prm_score,
    process_records,
    register_selector,
)

PROBLEM = problem(2, 2, 4)  # add 2 , 2 and 4 ; the sum is 8


def labels(response: str) -> list[bool]:
    return [step.correct for step in solution(PROBLEM, response).steps]


def test_a_right_solution_has_every_step_right_and_its_answer():
    read = solution(PROBLEM, "2 + 2 = 4 . 4 + 4 = 8 . the answer is 8 .")
    assert [s.text for s in read.steps] == ["2 + 2 = 4", "4 + 4 = 8", "the answer is 8"]
    assert [s.prefix for s in read.steps] == [
        "2 + 2 = 4 .",
        "2 + 2 = 4 . 4 + 4 = 8 .",
        "2 + 2 = 4 . 4 + 4 = 8 . the answer is 8 .",
    ]
    assert read.sound and read.final == 8


def test_each_step_is_judged_on_the_steps_before_it():
    # a slip in the first step carried on soundly: only the first step is wrong
    assert labels("2 + 2 = 5 . 5 + 4 = 9 . the answer is 9 .") == [False, True, True]
    # the corpus's flawed steps: two wrong sums and a right answer
    assert labels("2 + 2 = 5 . 5 + 4 = 8 . the answer is 8 .") == [False, False, True]
    assert labels("2 + 3 = 5 . 5 + 3 = 8 . the answer is 8 .") == [False, False, False]
    assert labels("2 + 2 + 4 = 8 . the answer is 8 .") == [False, False]  # no steps shown
    assert labels("the answer is 8 .") == [False]

    assert labels("2 + 2 = 4 . 4 + 4 = 8 . the answer is 8 . 8 .") == [True, True, True, False]


def test_a_solution_without_an_answer_sentence_answers_its_last_sum():
    read = solution(PROBLEM, "2 + 4 = 6 . 6 + 2 = 8 .")  # any order of the operands
    assert [s.correct for s in read.steps] == [True, True, True] and read.final == 8
    assert read.steps[-1].prefix == "2 + 4 = 6 . 6 + 2 = 8 . the answer is 8 ."
    early = solution(PROBLEM, "2 + 2 = 4 .")  # stops with an operand left
    assert [(s.text, s.correct) for s in early.steps] == [
        ("2 + 2 = 4", True),
        ("the answer is 4", False),
    ]
    assert early.steps[0].prefix != early.steps[1].prefix


def test_padding_is_no_step_but_stays_in_the_prefixes():
    read = solution(
        PROBLEM, "i hope this helps . 2 + 2 = 4 . 4 + 4 = 8 . 4 + 4 = 8 . the answer is 8 ."
    )
    assert [s.prefix for s in read.steps] == [
        "i hope this helps . 2 + 2 = 4 .",
        "i hope this helps . 2 + 2 = 4 . 4 + 4 = 8 .",
        "i hope this helps . 2 + 2 = 4 . 4 + 4 = 8 . 4 + 4 = 8 . the answer is 8 .",
    ]
    assert read.sound


def test_unreadable_unfinished_and_empty_responses_are_wrong_steps():
    assert labels("yes , you are right . the answer is 8 .") == [False, False]
    read = solution(PROBLEM, "2 + 2 = 4 . 4 +")
    assert [s.correct for s in read.steps] == [True, False]
    assert read.steps[-1].prefix == "2 + 2 = 4 . 4 +" and read.final == 4
    empty = solution(PROBLEM, "")
    assert len(empty.steps) == 1 and not empty.sound and empty.final is None


def test_an_answer_before_its_working_is_the_one_place_steps_and_gold_differ():
    response = "the answer is 8 . 2 + 2 = 4 . 4 + 4 = 8 ."
    assert judge_situation(PROBLEM, response).category == "correct"
    assert labels(response) == [False, True, True]


def test_every_step_right_exactly_when_the_gold_says_correct():
    rng = random.Random(0)
    behaviours = ("correct", "wrong", "flawed_steps", "no_steps")
    for _ in range(3000):
        s = problem(*rng.choice(HELDOUT_OPERANDS + WORLD_OPERANDS))
        response = respond(s, rng.choice(behaviours), rng)
        if rng.random() < 0.3:
            response = pad(response, rng.randint(1, 2), rng)
        if rng.random() < 0.5:
            response = garble(response, rng)
        graded = grade(s, response)
        assert graded.solution.sound == graded.fully_correct, response
        if graded.right_answer:
            assert graded.solution.final == s.total


def test_problem_sets_and_their_split():
    assert len(HELDOUT_OPERANDS) == 84 and len(WORLD_OPERANDS) == 54
    assert not set(HELDOUT_OPERANDS) & set(WORLD_OPERANDS)
    rng = random.Random(1)
    drawn = {tuple(sample_situation("multistep", "train", rng).params.values()) for _ in range(500)}
    assert drawn <= set(WORLD_OPERANDS)
    train, test = split_problems("all", "heldout", 3, 150, 40)
    key = lambda s: (s.params["a"], s.params["b"], s.params["c"])  # noqa: E731
    assert len(train) == 150 and len(test) == 40
    assert {key(s) for s in test} <= set(HELDOUT_OPERANDS)
    assert not {key(s) for s in train} & {key(s) for s in test}
    again = split_problems("all", "heldout", 3, 150, 40)
    assert [key(s) for s in again[0]] == [key(s) for s in train]  # same seed, same problems
    fewer = split_problems("all", "heldout", 3, 10, 40)[1]
    assert [s.prompt() for s in fewer] == [s.prompt() for s in test]
    with pytest.raises(ValueError, match="n_test: 90 problems asked, heldout has 84"):
        split_problems("all", "heldout", 0, 10, 90)
    with pytest.raises(ValueError, match="n_train: 50 problems asked, heldout has 44 besides"):
        split_problems("heldout", "heldout", 0, 50, 40)
    with pytest.raises(ValueError, match="train_operands: expected one of"):
        split_problems("larger", "heldout", 0, 1, 1)


# --- selectors and best-of-N ------------------------------------------------------------


def test_selector_scores_by_hand():
    assert majority(Candidates((3, 5, 3, None))).tolist() == [2, 1, 2, 0]
    toy = Candidates((7, 7, 4), orm=np.array([0.2, 0.9, 0.5]), prm=np.array([0.3, 0.1, 0.6]))
    assert SELECTORS["orm"].score(toy).tolist() == [0.2, 0.9, 0.5]
    assert SELECTORS["prm"].score(toy).tolist() == [0.3, 0.1, 0.6]
    with pytest.raises(ValueError, match=r"candidates\.gold: selector 'oracle' needs it"):
        SELECTORS["oracle"].score(toy)
    with pytest.raises(ValueError, match="already registered"):
        register_selector("orm", own_score=True)(lambda c: c.orm)


def test_prm_score_is_the_product_of_step_probabilities():
    scores = prm_score([0.5, 0.8, 0.9], [0, 0, 1], 3)
    assert scores == pytest.approx([0.4, 0.9, 1.0])  # the third solution has no step
    with pytest.raises(ValueError, match="step_probs: must lie in"):
        prm_score([1.5], [0], 1)


def test_best_of_n_by_an_own_score_averages_every_subset():
    toy = Candidates((7, 7, 4), orm=np.array([0.2, 0.9, 0.5]))
    # pairs {0,1} -> 1, {0,2} -> 2, {1,2} -> 1
    assert pick_chances("orm", toy, 2) == pytest.approx([0, 2 / 3, 1 / 3])
    assert pick_chances("orm", toy, 1) == pytest.approx([1 / 3] * 3)
    assert pick_chances("orm", toy, 3) == pytest.approx([0, 1, 0])
    with pytest.raises(ValueError, match="n: must lie in \\[1, 3\\]"):
        pick_chances("orm", toy, 4)
    with pytest.raises(ValueError, match="unknown selector 'vote'"):
        pick_chances("vote", toy, 1)


def test_majority_voting_over_random_subsets():
    toy = Candidates((7, 7, 4))
    # pairs: {0,1} agree on 7; {0,2} and {1,2} tie, each side half the time
    chances = pick_chances("majority", toy, 2, subsets=6000, seed=0)
    assert chances.sum() == pytest.approx(1.0)
    assert chances[0] + chances[1] == pytest.approx(2 / 3, abs=0.02)
    assert pick_chances("majority", toy, 3, subsets=50).tolist()[2] == 0.0
    again = pick_chances("majority", toy, 2, subsets=6000, seed=0)
    assert again.tolist() == chances.tolist()  # same seed, same numbers


def test_best_of_n_values_and_the_wrong_steps_rate():
    # sample 0: right answer, wrong steps; 1: fully correct; 2: wrong
    toy = Candidates((8, 8, 9), orm=np.array([0.9, 0.6, 0.1]), prm=np.array([0.2, 0.7, 0.1]))
    right, sound = np.array([1, 1, 0]), np.array([0, 1, 0])
    values = {
        "accuracy": [right],
        "fully_correct": [right * sound],
        "wrong_steps": [right * (1 - sound)],
    }
    at2 = {name: best_of_n_values(name, [toy], values, 2) for name in ("orm", "prm")}
    # orm picks 0 from {0,1} and {0,2}, 1 from {1,2}; prm picks 1, 0, 1
    assert at2["orm"]["wrong_steps"][0] == pytest.approx(2 / 3)
    assert at2["prm"]["wrong_steps"][0] == pytest.approx(1 / 3)
    assert at2["orm"]["accuracy"][0] == pytest.approx(1.0)
    assert at2["prm"]["fully_correct"][0] == pytest.approx(2 / 3)


def test_reward_model_records():
    orm = outcome_records(["p", "q"], ["a .", " "], [True, False])
    assert [(r.prompt, r.response, r.label) for r in orm] == [("p", "a .", 1.0)]
    prm = process_records(["p"], [["a .", "a . b ."]], [[True, False]])
    assert [(r.response, r.label) for r in prm] == [("a .", 1.0), ("a . b .", 0.0)]
    with pytest.raises(ValueError, match="labels: 1 for 2 steps"):
        process_records(["p"], [["a .", "a . b ."]], [[True]])


# --- the experiment ------------------------------------------------------------------------


@pytest.mark.slow
def test_run_process_end_to_end_on_a_tiny_organism(tmp_path):
    from alignlab.experiments.oversight.process import ProcessConfig, run_process
    from alignlab.organisms.assistant.build import build
    from alignlab.report.panels import check_panel
    from test_organism_build import tiny_config

    build(tmp_path / "organism", seed=0, config=tiny_config(), use_cache=False, progress=False)
    settings = dict(
        organism=str(tmp_path / "organism"), output_dir=str(tmp_path / "out"), seeds=1,
        train_problems=3, test_problems=3, train_samples=2, n_max=4, ns=[1, 2, 4],
        epochs=1, subsets=8, progress=False, workers=1,
    )  # fmt: skip
    panel, report = run_process(ProcessConfig(**settings))
    check_panel(panel, "process")
    assert report.exists() and panel["setting"]["n"] == 3 and panel["setting"]["seeds"] == 1
    assert [row["selector"] for row in panel["table"]["rows"]] == [
        "PRM", "ORM", "majority", "oracle (gold)", "one sample (N=1)",
    ]  # fmt: skip
    oracle = panel["table"]["rows"][3]["final answer right at N=4"]
    assert 0 <= oracle["value"] <= 1 and oracle["n"] == 3
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["oversight"]["process"]["finding"] == panel["finding"]
    (model,) = (tmp_path / "out" / "process").glob("*/seed-0/prm-*/model/model.safetensors")
    trained = model.stat().st_mtime_ns
    again, _ = run_process(ProcessConfig(**{**settings, "seeds": 2, "workers": 2}))
    assert model.stat().st_mtime_ns == trained  # seed 0 reused, seed 1 new
    assert again["setting"]["seeds"] == 2 and again["setting"]["n"] == 6
    assert list(model.parents[3].glob("seed-1/prm-*/model"))
