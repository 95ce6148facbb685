import itertools
import random

import pytest

from alignlab.models.backends import Completion, as_messages
from alignlab.organisms.assistant import parse_prompt, sums
from alignlab.oversight import amplify as amp


class Scripted:
    """A Backend whose reply to each question is ``answer(terms)``; it records every batch."""

    def __init__(self, answer):
        self.answer = answer
        self.batches: list[list[str]] = []
        self.caps: list[int] = []

    @property
    def name(self) -> str:
        return "scripted"

    def generate(self, requests, *, progress=False):
        batch = [as_messages(r.prompt)[0]["content"] for r in requests]
        self.batches.append(batch)
        self.caps += [r.max_new_tokens for r in requests]
        return [
            Completion((self.answer(sums.question_terms(q)),), ("stop",), model="scripted")
            for q in batch
        ]

    def option_probs(self, prompt, options, *, votes=8, seed=None):
        raise NotImplementedError


def one_step(terms):
    """An overseer who knows one-step sums and guesses 0 for anything longer."""
    if len(terms) == 2:
        return sums.equation(terms, sum(terms))
    return sums.statement(0)


# --- the world's sums ---------------------------------------------------------------------


def test_within_reach_keeps_every_piece_a_one_step_sum():
    assert sums.within_reach((6, 6)) and sums.within_reach((6, 0, 6))
    assert not sums.within_reach((6, 1, 0))  # 6 + 1 is no one-step operand
    assert not sums.within_reach((0, 1, 6))
    assert not sums.within_reach((7, 0)) and not sums.within_reach((3,))


def test_reachable_lists_exactly_the_problems_within_reach():
    assert len(sums.reachable(2)) == 49
    for k in (3, 4):
        brute = [p for p in itertools.product(range(7), repeat=k) if sums.within_reach(p)]
        assert sums.reachable(k) == brute
    assert len(sums.reachable(3)) == 140
    with pytest.raises(ValueError, match="k: a sum needs at least 2"):
        sums.reachable(1)


def test_held_out_problems_are_never_trained_on_and_every_k_weighs_the_same():
    train, heldout = sums.draw_problems([2, 4], 60, 30, random.Random(0))
    assert [len(p) for p in heldout] == [2] * 24 + [4] * 30  # at most half of k = 2's 49
    assert [len(p) for p in train] == [2] * 60 + [4] * 60
    assert not set(train) & set(heldout)
    assert len(set(heldout)) == 54
    assert len(set(p for p in train if len(p) == 2)) == 25  # 49 - 24, cycled to 60
    assert len(set(p for p in train if len(p) == 4)) == 60
    assert sums.draw_problems([2, 4], 60, 30, random.Random(0)) == (train, heldout)
    assert sums.heldout_count(2, 40) == 24 and sums.heldout_count(5, 40) == 40


def test_a_two_operand_question_is_the_arithmetic_family():
    assert sums.question((3, 4)) == "what is 3 + 4 ?"
    situation = parse_prompt(sums.question((3, 4)))
    assert situation.family == "arithmetic" and situation.total == 7
    assert sums.question((1, 0, 5)) == "what is 1 + 0 + 5 ?"
    assert sums.question_terms("what is 1 + 0 + 5 ?") == (1, 0, 5)
    for text in ("what is 1 + ?", "what is 1 + 2 + x ?", "how much is 1 + 2 ?", "what is 1 ?"):
        assert sums.question_terms(text) is None, text
    with pytest.raises(ValueError, match=r"terms: the world.s numbers are 0\.\.20"):
        sums.question((3, 21))


@pytest.mark.parametrize(
    ("response", "value"),
    [
        ("the answer is 7 .", 7),
        ("3 + 4 = 7 .", 7),
        ("7 .", 7),
        ("1 + 2 = 3 . 3 + 4 = 7 . the answer is 7 .", 7),
        ("1 + 2 = 3 . 3 + 4 = 8 .", 8),
        ("i hope this helps . the answer is 7 .", 7),
        ("i can not help with that .", None),
        ("the answer is 7", None),
        ("", None),
    ],
)
def test_the_final_answer_is_the_last_value_stated(response, value):
    assert sums.final_answer(response) == value


def test_shown_steps_are_the_equations():
    assert sums.shown_steps("1 + 2 = 3 . 3 + 4 = 7 . the answer is 7 .") == [
        ((1, 2), 3),
        ((3, 4), 7),
    ]
    assert sums.shown_steps("the answer is 7 .") == []
    assert sums.shown_steps("so it is true .") == []


# --- decomposition ------------------------------------------------------------------------


def test_strategies_decompose_as_written():
    assert amp.direct((1, 2, 3)) == (1, 2, 3)
    assert amp.chain((1, 2, 3, 4)) == (((1, 2), 3), 4)
    assert amp.prefix((1, 2, 3, 4)) == ((1, 2, 3), 4)
    assert amp.prefix((1, 2)) == (1, 2)
    assert amp.halves((1, 2, 3, 4, 5)) == ((1, 2, 3), (4, 5))
    assert amp.halves((1, 2, 3)) == ((1, 2), 3)
    assert set(amp.STRATEGIES) >= {"direct", "chain", "prefix", "halves"}
    with pytest.raises(ValueError, match="unknown strategy 'thirds'; known: chain, direct"):
        amp.strategy("thirds")
    with pytest.raises(ValueError, match="already registered"):
        amp.register_strategy("chain")(amp.chain)


def test_flatten_lists_questions_children_first_and_depths_count_levels():
    questions = amp.flatten(((1, 2), (3, (4, 5))))
    assert questions == [
        ((False, 1), (False, 2)),
        ((False, 4), (False, 5)),
        ((False, 3), (True, 1)),
        ((True, 0), (True, 2)),
    ]
    assert amp.depths(questions) == [1, 1, 2, 3]
    with pytest.raises(ValueError, match="at least one question"):
        amp.flatten(3)


# --- amplification ------------------------------------------------------------------------


def test_chain_asks_one_step_questions_one_depth_per_batch_and_recombines():
    backend = Scripted(one_step)
    out = amp.amplify(backend, [(1, 2, 3), (2, 2)], "chain", sums)
    assert [a.answer for a in out] == [6, 4]
    assert backend.batches == [["what is 1 + 2 ?", "what is 2 + 2 ?"], ["what is 3 + 3 ?"]]
    assert [(s.terms, s.value) for s in out[0].steps] == [((1, 2), 3), ((3, 3), 6)]
    direct = amp.amplify(Scripted(one_step), [(1, 2, 3), (2, 2)], "direct", sums)
    assert [a.answer for a in direct] == [0, 4]


def test_halves_and_prefix_ask_pieces_directly():
    backend = Scripted(lambda terms: sums.statement(sum(terms)))
    out = amp.amplify(backend, [(1, 2, 3, 0, 4)], "halves", sums)
    assert out[0].answer == 10
    assert backend.batches == [["what is 1 + 2 + 3 ?", "what is 0 + 4 ?"], ["what is 6 + 4 ?"]]
    backend = Scripted(lambda terms: sums.statement(sum(terms)))
    assert amp.amplify(backend, [(1, 2, 3, 4)], "prefix", sums)[0].answer == 10
    assert backend.batches == [["what is 1 + 2 + 3 ?"], ["what is 6 + 4 ?"]]


def test_a_wrong_sub_answer_carries_and_an_unreadable_one_stops_the_problem():
    def slips(terms):
        if terms == (1, 2):
            return "1 + 2 = 4 ."
        if terms == (2, 2):
            return "i do not know ."
        return one_step(terms)

    backend = Scripted(slips)
    wrong, stopped = amp.amplify(backend, [(1, 2, 3), (2, 2, 1)], "chain", sums)
    assert wrong.answer == 7  # (1 + 2 = 4) + 3
    assert stopped.answer is None and [s.value for s in stopped.steps] == [None]
    assert backend.batches[1] == ["what is 4 + 3 ?"]  # the unreadable one is not asked on


def test_reply_caps_follow_the_terms_asked():
    backend = Scripted(one_step)
    amp.amplify(backend, [(1, 2, 3)], "prefix", sums, max_new_tokens=lambda t: 7 * len(t))
    assert backend.caps == [14, 14]
    amp.amplify(backend, [(1, 2, 3)], "direct", sums, max_new_tokens=30)
    assert backend.caps[-1] == 30


# --- distillation -------------------------------------------------------------------------


def test_distillation_data_shows_the_steps_or_the_answer_alone():
    out = amp.amplify(Scripted(one_step), [(1, 2, 3), (2, 2)], "chain", sums)
    demos = amp.distillation_data(out, sums, show_steps=True, checked=True)
    assert [(d.prompt, d.response) for d in demos] == [
        ("what is 1 + 2 + 3 ?", "1 + 2 = 3 . 3 + 3 = 6 . the answer is 6 ."),
        ("what is 2 + 2 ?", "2 + 2 = 4 . the answer is 4 ."),
    ]
    assert demos[0].meta == {"problem": [1, 2, 3], "amplified": 6}
    bare = amp.distillation_data(out, sums, show_steps=False, checked=True)
    assert [d.response for d in bare] == ["the answer is 6 .", "the answer is 4 ."]


def test_a_piece_worked_by_the_answerer_shows_its_own_steps():
    def worker(terms):
        if len(terms) == 3:  # a distilled model: writes its chain
            return "1 + 2 = 3 . 3 + 3 = 6 . the answer is 6 ."
        return "the answer is 10 ."  # bare answer: shown as the step's own equation

    out = amp.amplify(Scripted(worker), [(1, 2, 3, 4)], "prefix", sums)
    assert amp.transcript(out[0], sums, show_steps=True) == (
        "1 + 2 = 3 . 3 + 3 = 6 . 6 + 4 = 10 . the answer is 10 ."
    )


def test_unanswered_problems_are_not_distilled():
    out = amp.amplify(Scripted(lambda terms: "i do not know ."), [(1, 2)], "chain", sums)
    assert amp.distillation_data(out, sums, show_steps=True, checked=False) == []
    with pytest.raises(ValueError, match=r"problem \(1, 2\): no amplified answer"):
        amp.transcript(out[0], sums, show_steps=True)


def test_the_overseer_recombines_and_the_model_answers_the_pieces():
    model, overseer = Scripted(lambda t: sums.statement(sum(t))), Scripted(one_step)
    out = amp.amplify(model, [(1, 2, 3), (2, 2)], "prefix", sums, overseer=overseer)
    assert [a.answer for a in out] == [6, 4]
    assert model.batches == [["what is 1 + 2 ?"]]
    assert overseer.batches == [["what is 2 + 2 ?"], ["what is 3 + 3 ?"]]


@pytest.mark.parametrize(
    ("problem", "equations", "answer", "ok"),
    [
        ((1, 2, 3), [((1, 2), 3), ((3, 3), 6)], 6, True),
        ((1, 2, 3), [((1, 2), 4), ((4, 3), 7)], 7, True),  # form, not arithmetic
        ((1, 2, 3, 4), [((1, 2), 3), ((3, 4), 7), ((3, 7), 10)], 10, True),  # a tree
        ((2, 1, 0, 5), [((1, 1), 2), ((2, 5), 7)], 7, False),  # a made-up operand
        ((1, 2, 3), [((1, 2), 3)], 3, False),  # an operand left over
        ((1, 2, 3), [((1, 2, 3), 6)], 6, False),  # not a one-step sum
        ((1, 2), [((1, 2), 3)], 4, False),  # ends elsewhere than the answer
        ((0, 0), [((0, 0), 0)], 0, True),
    ],
)
def test_followable_steps_use_every_operand_once_in_one_step_sums(problem, equations, answer, ok):
    assert amp.followable(problem, equations, answer) is ok


def test_checked_distillation_drops_work_the_overseer_cannot_follow():
    def bluffs(terms):
        return "1 + 1 = 2 ." if len(terms) == 3 else sums.statement(sum(terms))

    out = amp.amplify(Scripted(bluffs), [(2, 1, 0, 5), (1, 2, 3)], "prefix", sums)
    assert [a.answer for a in out] == [7, 6]
    kept = amp.distillation_data(out, sums, show_steps=True, checked=True)
    assert [d.prompt for d in kept] == ["what is 1 + 2 + 3 ?"]
    out = amp.amplify(Scripted(bluffs), [(2, 1), (1, 2, 3)], "chain", sums)
    kept = amp.distillation_data(out, sums, show_steps=False, checked=True)
    assert [d.response for d in kept] == ["the answer is 3 .", "the answer is 6 ."]
    loose = amp.distillation_data(
        amp.amplify(Scripted(bluffs), [(2, 1, 0, 5)], "prefix", sums),
        sums,
        show_steps=True,
        checked=False,
    )
    assert [d.response for d in loose] == ["1 + 1 = 2 . 2 + 5 = 7 . the answer is 7 ."]


def test_reach_is_the_largest_k_held_at_the_level_from_the_start():
    from alignlab.experiments.oversight.amplify import reach

    def at(*values):
        return {k: {"value": v} for k, v in enumerate(values, start=2)}

    assert reach(at(0.9, 0.8, 0.5, 0.95)) == 3
    assert reach(at(0.7, 0.9)) == 0
    assert reach(at(1.0, 1.0, 0.85)) == 4


def test_fidelity_is_agreement_with_the_amplified_answers_per_k():
    out = amp.amplify(Scripted(one_step), [(1, 2, 3), (2, 2), (1, 1), (0, 1, 1)], "chain", sums)
    targets = amp.distillation_data(out, sums, show_steps=True, checked=True)
    copies = amp.amplify(Scripted(one_step), [t.meta["problem"] for t in targets], "direct", sums)
    # the copy answers 2-operand sums as the amplification did, and guesses 0 for longer ones
    assert amp.fidelity(targets, copies) == {2: 1.0, 3: 0.0}
    with pytest.raises(ValueError, match=r"answers: \(2, 2\) where \(1, 2, 3\) was expected"):
        amp.fidelity(targets[:2], copies[1:3])
