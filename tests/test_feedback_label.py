import pytest

from alignlab.data import Comparison, read_records, write_records
from alignlab.feedback import (
    Journal,
    LabelConfig,
    ModelSpec,
    PairItem,
    label_pairs,
    parse_constitution,
    read_pairs,
    sample_pairs,
)
from alignlab.feedback.label import label_chunk
from alignlab.models.backends import OptionProbs
from test_feedback_revise import CONSTITUTION, Scripted, _shown, items

REQUIRED = {"pairs": "pairs.jsonl", "feedback": ModelSpec("m")}
PAIRS = [PairItem(f"pair-{i}", f"q{i} ?", f"good {i} .", f"bad {i} .", {"n": i}) for i in range(6)]


def label(tmp_path, backend, pairs=PAIRS, **settings):
    config = LabelConfig(**{**REQUIRED, "progress": False, **settings})
    journal = Journal(tmp_path / "labels.jsonl", "comparison", {}, resume=False)
    summary = label_pairs(pairs, backend, parse_constitution(CONSTITUTION), config, journal)
    return summary, read_records(tmp_path / "labels.jsonl", "comparison")


def test_a_model_that_always_picks_the_first_option_gives_half_labels(tmp_path):
    summary, records = label(tmp_path, Scripted(prefer=lambda first, second: 1.0))
    assert [r.weight for r in records] == [0.5] * len(PAIRS)
    assert summary["first_position"] == 1.0 and summary["method"] == "logprobs"
    assert all(r.meta["p_by_principle"] == [0.5] * 4 for r in records)


def test_position_bias_cancels_and_the_preference_remains(tmp_path):
    # Likes the first position (+0.3) and good responses (+0.1 either way).
    def prefer(first, second):
        return 0.5 + 0.3 + (0.1 if first.startswith("good") else -0.1)

    summary, records = label(tmp_path, Scripted(prefer=prefer))
    for pair, r in zip(PAIRS, records, strict=True):
        assert (r.chosen, r.rejected) == (pair.first, pair.second)
        assert r.weight == pytest.approx(0.6)
        assert r.meta["first_position"] == pytest.approx(0.8)
    assert summary["first_position"] == pytest.approx(0.8)


def test_clamping_bounds_the_label_not_the_evidence(tmp_path):
    def prefer(first, second):
        return 0.99 if first.startswith("good") else 0.01

    _, records = label(tmp_path, Scripted(prefer=prefer), clamp=0.6)
    assert all(r.chosen.startswith("good") and r.weight == pytest.approx(0.6) for r in records)
    assert all(r.meta["p_by_principle"] == [pytest.approx(0.99)] * 4 for r in records)
    with pytest.raises(ValueError, match="clamp"):
        LabelConfig(**REQUIRED, clamp=0.5)


def test_labels_average_the_sampled_principles(tmp_path):
    questions = []

    class ByPrinciple(Scripted):
        def option_probs(self, prompt, options, *, votes=8, seed=None):
            text = prompt[-1]["content"]
            questions.append(text)
            good_first = _shown(prompt)[0].startswith("good")
            p = {"p1": 0.9, "p2": 0.7}["p1" if "by p1" in text else "p2"]
            p = p if good_first else 1 - p
            return OptionProbs(tuple(options), (p, 1 - p), "votes", 0.5, votes)

    _, records = label(tmp_path, ByPrinciple(), principles_per_pair=2)
    for r in records:
        assert sorted(r.meta["principles"]) == ["p1", "p2"]
        assert r.chosen.startswith("good") and r.weight == pytest.approx(0.8)
        by = dict(zip(r.meta["principles"], r.meta["p_by_principle"], strict=True))
        assert by == {"p1": pytest.approx(0.9), "p2": pytest.approx(0.7)}
        assert r.meta["method"] == "votes" and r.meta["coverage"] == 0.5
        assert r.annotator == "scripted" and r.meta["n"] == int(r.meta["id"].split("-")[1])
    assert len(questions) == len(PAIRS) * 2 * 2


def test_preferring_the_second_response_makes_it_chosen(tmp_path):
    def prefer(first, second):
        return 0.2 if first.startswith("good") else 0.8

    _, records = label(tmp_path, Scripted(prefer=prefer))
    assert all(r.chosen.startswith("bad") and r.weight == pytest.approx(0.8) for r in records)
    assert all(r.meta["p_by_principle"] == [pytest.approx(0.8)] * 4 for r in records)


def test_labelling_resumes_by_pair(tmp_path):
    backend = Scripted(prefer=lambda first, second: 0.7 if first.startswith("good") else 0.3)
    config = LabelConfig(**REQUIRED, progress=False, chunk_size=4)
    constitution = parse_constitution(CONSTITUTION)
    journal = Journal(tmp_path / "labels.jsonl", "comparison", {}, resume=False)
    journal.append(label_chunk(PAIRS[:4], backend, constitution, config))
    backend.asked.clear()
    resumed = Journal(tmp_path / "labels.jsonl", "comparison", {}, resume=True)
    summary = label_pairs(PAIRS, backend, constitution, config, resumed)
    assert summary["written"] == 2 and summary["total"] == 6
    # 2 pairs, each asked its 2 distinct questions (4 principles drawn of 2) in 2 orders.
    assert len(backend.asked) == 2 * 2 * 2
    assert [r.meta["id"] for r in read_records(tmp_path / "labels.jsonl")] == [p.id for p in PAIRS]


def test_pairs_are_read_once_however_often_they_were_labelled(tmp_path):
    path = tmp_path / "prefs.jsonl"
    write_records(
        path,
        [
            Comparison("q ?", "a .", "b .", "ann-1", meta={"pair": 0}),
            Comparison("q ?", "b .", "a .", "ann-2", meta={"pair": 0}),
            Comparison("q ?", "a .", "c .", "ann-1"),
        ],
    )
    pairs = read_pairs(path)
    assert [(p.id, p.first, p.second) for p in pairs] == [
        ("pair-0", "a .", "b ."),
        ("pair-1", "a .", "c ."),
    ]
    assert pairs[0].meta == {"pair": 0}


def test_sampled_pairs_are_two_different_responses(tmp_path):
    calls = []

    def answer(text):
        calls.append(text)
        return f"take {len(calls) % 3} ." if "0" in text else "always the same ."

    seen = []

    class Seeds(Scripted):
        def generate(self, requests, *, progress=False):
            seen.extend(r.seed for r in requests)
            return super().generate(requests)

    pairs = sample_pairs(items(2), Seeds(answer=answer), max_new_tokens=8, temperature=1.0, seed=0)
    assert [p.id for p in pairs] == ["q0"]
    assert pairs[0].first != pairs[0].second
    # Every request of every try draws with a seed of its own.
    assert len(seen) > 4 and len(set(seen)) == len(seen)
    with pytest.raises(ValueError, match="sampling"):
        sample_pairs(items(1), Scripted(), max_new_tokens=8, temperature=0.0, seed=0)


def test_label_config_needs_pairs_or_prompts_with_a_policy():
    with pytest.raises(ValueError, match=r"LabelConfig.pairs or LabelConfig.prompts is required"):
        LabelConfig(feedback=ModelSpec("m"))
    with pytest.raises(ValueError, match="exactly one"):
        LabelConfig(feedback=ModelSpec("m"), pairs="a.jsonl", prompts="p.jsonl")
    with pytest.raises(ValueError, match=r"LabelConfig.feedback is required \(--set feedback"):
        LabelConfig(pairs="a.jsonl")
    assert LabelConfig(**REQUIRED).constitution == "default"
    with pytest.raises(ValueError, match="policy"):
        LabelConfig(feedback=ModelSpec("m"), pairs=None, prompts="p.jsonl")
