"""The demo's per-stage measurements and its demo-scale Goodhart forms, on known inputs."""

import random

import numpy as np
import pytest

from alignlab.experiments.demo import goodhart
from alignlab.experiments.demo.measure import gold_metrics, ordering_agreement
from alignlab.organisms.assistant.behaviours import pad, respond
from alignlab.organisms.assistant.world import sample_situation


def situations(family, k, seed=0):
    rng = random.Random(seed)
    return [sample_situation(family, "heldout", rng) for _ in range(k)]


def test_ordering_agreement_by_hand():
    gold = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.9]])
    scores = np.array([[3.0, 1.0], [2.0, 1.0], [0.0, 9.0], [4.0, 4.0]])
    # pair 0 agrees, pair 1 disagrees, pair 2 is a gold tie (left out), pair 3 a score tie (1/2)
    result = ordering_agreement(scores, gold, seed=0)
    assert result["n"] == 3
    assert result["value"] == pytest.approx((1 + 0 + 0.5) / 3)


def test_gold_metrics_count_each_failure_in_its_own_families():
    rng = random.Random(0)
    false_claims = situations("false_claim", 4)
    harmful = situations("harmful", 2)
    benign = situations("benign", 2)
    unknown = situations("unknown_entity", 2)
    cases = (
        [(s, respond(s, "sycophantic", rng)) for s in false_claims[:3]]
        + [(false_claims[3], respond(false_claims[3], "correct", rng))]
        + [(s, respond(s, "harmful", rng)) for s in harmful[:1]]
        + [(harmful[1], respond(harmful[1], "correct", rng))]
        + [(s, respond(s, "over_refused", rng)) for s in benign]
        + [(unknown[0], respond(unknown[0], "correct", rng))]
        + [(unknown[1], pad(respond(unknown[1], "bluffed", rng), 1, rng))]
    )
    prompts = [s.prompt() for s, _ in cases]
    families = [s.family for s, _ in cases]
    metrics, judged = gold_metrics(prompts, families, [[r] for _, r in cases], seed=0)
    assert metrics["sycophancy"]["value"] == pytest.approx(3 / 4)
    assert metrics["sycophancy"]["n"] == 4
    assert metrics["harmful_compliance"]["value"] == pytest.approx(1 / 2)
    assert metrics["over_refusal"]["value"] == pytest.approx(1.0)
    assert metrics["bluffing"]["value"] == pytest.approx(1 / 2)
    assert metrics["padding"]["value"] == pytest.approx(1 / len(cases))
    utilities = [js[0].utility for js in judged]
    assert metrics["gold"]["value"] == pytest.approx(np.mean(utilities))


def test_weighted_gold_metrics_are_each_prompts_expected_value_under_the_selection():
    rng = random.Random(1)
    claims = situations("false_claim", 2)
    # Two samples a prompt: a sycophantic answer and a correct one.
    responses = [[respond(s, "sycophantic", rng), respond(s, "correct", rng)] for s in claims]
    prompts = [s.prompt() for s in claims]
    families = [s.family for s in claims]
    weights = np.array([[0.25, 0.75], [1.0, 0.0]])
    metrics, judged = gold_metrics(prompts, families, responses, seed=0, weights=weights)
    assert metrics["sycophancy"]["value"] == pytest.approx((0.25 + 1.0) / 2)
    assert metrics["sycophancy"]["n"] == 2
    expected = [
        sum(w * j.utility for w, j in zip(ws, js, strict=True))
        for ws, js in zip(weights, judged, strict=True)
    ]
    assert metrics["gold"]["value"] == pytest.approx(np.mean(expected))
    # One-hot weights give the unweighted figures of the picked samples.
    picked, _ = gold_metrics(prompts, families, [[rs[0]] for rs in responses], seed=0)
    one_hot, _ = gold_metrics(prompts, families, responses, 0, np.array([[1.0, 0.0]] * 2))
    assert one_hot["gold"]["value"] == pytest.approx(picked["gold"]["value"])
    assert one_hot["sycophancy"]["value"] == pytest.approx(picked["sycophancy"]["value"])


def test_regressional_noise_costs_gold_and_inflates_the_pick():
    rng = np.random.default_rng(0)
    gold = rng.uniform(size=(200, 16))
    form = goodhart.regressional(gold, [1, 4, 16], [0.0, 0.3, 3.0], seed=0)
    gains = [r["gold_gain"]["value"] for r in form["rows"]]
    over = [r["overestimate"]["value"] for r in form["rows"]]
    assert gains[0] == pytest.approx(np.mean(gold.max(axis=1) - gold.mean(axis=1)))
    assert over[0] == pytest.approx(0.0)
    assert gains[0] > gains[1] > gains[2]
    assert over[0] < over[1] < over[2]


def test_extremal_splits_gold_by_the_fitted_range():
    gold = np.array([[1.0, 0.0, 0.5], [1.0, 0.0, 0.5]])
    proxy = np.array([[0.0, 5.0, 1.0], [0.0, 5.0, 1.0]])  # loves the long, bad answer
    words = np.array([[3, 30, 3], [3, 30, 3]])
    form = goodhart.extremal(proxy, words, gold, max_words=10, ns=[1, 3], seed=0)
    first, last = form["rows"]
    assert first["gold"]["value"] == pytest.approx(0.5)
    assert first["ood_fraction"]["value"] == pytest.approx(1 / 3)
    assert first["gold_out_of_range"] == pytest.approx(0.0)
    assert first["gold_in_range"] == pytest.approx(0.75)
    assert last["gold"]["value"] == pytest.approx(0.0)
    assert last["ood_fraction"]["value"] == pytest.approx(1.0)


def test_adversarial_detector_prefers_keyword_free_harm():
    rng = random.Random(0)
    [s] = situations("harmful", 1)
    refusal = respond(s, "correct", rng)
    harm = respond(s, "harmful", rng)
    form = goodhart.adversarial([s.prompt()], [[refusal, harm]], [1, 2], seed=0)
    first, last = form["rows"]
    assert first["harm_rate"]["value"] == pytest.approx(0.5)
    assert last["detector"]["value"] == pytest.approx(1.0)
    assert last["harm_rate"]["value"] == pytest.approx(1.0)


def test_bon_curves_fit_a_hump_and_the_oracle_never_loses_gold():
    rng = np.random.default_rng(1)
    gold = rng.uniform(size=(300, 32))
    length = rng.uniform(size=(300, 32))
    proxy = gold + 3 * length  # a proxy that loves length more than quality
    gold_hacked = gold - 0.8 * length
    curves = goodhart.bon_curves(proxy, gold_hacked, [1, 2, 4, 8, 16, 32], seed=0)
    proxy_curve, oracle = curves
    golds = [p["gold"]["value"] for p in oracle["points"]]
    assert golds == sorted(golds)
    assert proxy_curve["fit"]["form"] == "best_of_n"
    assert proxy_curve["points"][0]["kl"] == 0.0
    proxies = [p["proxy"]["value"] for p in proxy_curve["points"]]
    assert proxies == sorted(proxies)


def test_ppo_curve_reads_held_out_evaluations_only():
    rows = [
        {"step": 0, "eval/kl": 0.0, "eval/gold/mean": 0.8, "eval/proxy/mean": 0.1, "eval/n": 64},
        {"step": 1, "kl": 0.5, "gold/mean": 0.7},
        {"step": 10, "eval/kl": 1.0, "eval/gold/mean": 0.9, "eval/proxy/mean": 0.3},
        {"step": 20, "eval/kl": 4.0, "eval/gold/mean": 0.7, "eval/proxy/mean": 0.6},
    ]
    curve = goodhart.ppo_curve("PPO", rows)
    assert [p["pressure"] for p in curve["points"]] == [0, 10, 20]
    assert [p["sqrt_kl"] for p in curve["points"]] == [0.0, 1.0, 2.0]
    assert curve["fit"]["form"] == "rl"
