"""Truth probes against hand-computed values, topics really held out, hidden states read at
the right token from any model directory (adapters too), and the probe experiment end to
end on a tiny model."""

import json

import numpy as np
import pytest
import torch

from alignlab.experiments.interp.probe import RANKED, STATED, ProbeConfig, run_probe
from alignlab.interp.probes import (
    C_GRID,
    PACKAGE_STATEMENTS,
    Features,
    ccs_loss,
    ccs_objective,
    choose_c,
    contrast_texts,
    cross_fit,
    fit_ccs,
    fit_logistic,
    fit_mean_difference,
    read_statements,
    topic_folds,
    world_statements,
)
from alignlab.models import hidden
from alignlab.models.backends import hf
from alignlab.models.hidden import collect_hidden_states, hidden_states
from alignlab.models.loading import LoraSpec, load_causal_lm, load_tokenizer
from alignlab.report.panels import check_panel
from alignlab.trainers.policy import save_policy

# --- the probes, by hand ---------------------------------------------------------------------


def test_mean_difference_is_the_class_means_difference_through_their_midpoint():
    x = np.array([[2.0, 0.0], [4.0, 2.0], [0.0, 0.0], [2.0, -2.0]])
    labels = np.array([True, True, False, False])
    probe = fit_mean_difference(Features(x), labels, np.array(list("abab")), 0)
    # mu_true = (3, 1), mu_false = (1, -1): w = (2, 2), b = -w . (2, 0) = -4
    np.testing.assert_allclose(probe.w, [2.0, 2.0])
    assert probe.b == pytest.approx(-4.0)
    np.testing.assert_allclose(probe.score(Features(np.array([[3.0, 1.0], [2.0, 0.0]]))), [4, 0])


def test_logistic_on_symmetric_data_has_no_offset_and_c_comes_from_the_grid():
    x = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    labels = np.array([False, False, True, True])
    probe = fit_logistic(Features(x), labels, np.array(list("abab")), 0)
    assert probe.w[0] > 0 and abs(probe.b) < 1e-6  # the optimum is symmetric about 0
    assert choose_c(x, labels, np.array(list("abab"))) == 1.0  # two topics: nothing to fold
    rng = np.random.default_rng(0)
    many = rng.normal(size=(60, 3)) + np.repeat([[1.0, 0, 0], [-1.0, 0, 0]], 30, axis=0)
    many_labels = np.repeat([True, False], 30)
    assert choose_c(many, many_labels, np.tile(np.arange(6), 10)) in C_GRID


def test_ccs_loss_by_hand():
    # consistency (0.8 - 0.7)^2 = 0.01, confidence min(0.8, 0.3)^2 = 0.09
    assert ccs_loss(np.array([0.8]), np.array([0.3])) == pytest.approx(0.1)
    # consistent pairs cost nothing but their least confident side: (0.25 + 0.01) / 2
    assert ccs_loss(np.array([0.5, 0.9]), np.array([0.5, 0.1])) == pytest.approx(0.13)


def test_ccs_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    pos, neg, params = rng.normal(size=(7, 3)), rng.normal(size=(7, 3)), rng.normal(size=4)
    _, grad = ccs_objective(params, pos, neg, 0.05)
    step = 1e-6
    numeric = [
        (ccs_objective(params + step * e, pos, neg, 0.05)[0]
         - ccs_objective(params - step * e, pos, neg, 0.05)[0]) / (2 * step)
        for e in np.eye(4)
    ]  # fmt: skip
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


def test_ccs_finds_the_contrast_direction_and_takes_its_sign_from_the_labels():
    rng = np.random.default_rng(2)
    labels = np.arange(40) % 2 == 0
    sign = np.where(labels, 1.0, -1.0)[:, None]
    noise = lambda: rng.normal(scale=0.1, size=(40, 3))  # noqa: E731
    # the affirmed statement points one way when true, the denied one the other way
    features = Features(noise(), sign * [1.0, 0, 0] + noise(), -sign * [1.0, 0, 0] + noise())
    probe = fit_ccs(features, labels, np.arange(40) % 4, 0)
    assert np.mean((probe.score(features) > 0) == labels) == 1.0
    flipped = fit_ccs(features, ~labels, np.arange(40) % 4, 0)
    assert np.mean((flipped.score(features) > 0) == ~labels) == 1.0


def test_contrast_pairs_and_world_statements():
    assert contrast_texts(["1 + 2 = 3 is"], "world") == (
        ["1 + 2 = 3 is true"],
        ["1 + 2 = 3 is false"],
    )
    pos, neg = contrast_texts(["Snow is cold."], "english")
    assert pos == ["Snow is cold. This is true."] and neg == ["Snow is cold. This is false."]
    statements = world_statements(false_per_true=2)
    assert len(statements) == 49 * 3 and len({s.topic for s in statements}) == 28
    for s in statements:
        a, b, claim = s.claim
        assert s.text == f"{a} + {b} = {claim}" and s.topic == f"{min(a, b)} + {max(a, b)}"
        assert s.label == (claim == a + b) and (s.label or 1 <= abs(claim - a - b) <= 3)


# --- held-out topics ---------------------------------------------------------------------------


def test_topic_folds_deal_every_topic_to_one_fold():
    folds = topic_folds(list("aabbccddeeff"), 4, seed=3)
    assert sorted(folds) == list("abcdef") and set(folds.values()) == {0, 1, 2, 3}
    assert folds == topic_folds(list("fedcba"), 4, seed=3)
    with pytest.raises(ValueError, match="folds"):
        topic_folds(["a", "a"], 5)


def _topic_data(shared: bool):
    """Six topics of 20 items; the label lies on one dimension for all topics (shared) or on
    each topic's own dimension (what a probe cannot carry to an unseen topic)."""
    rng = np.random.default_rng(4)
    topics = np.repeat(np.arange(6), 20).astype(str)
    labels = np.tile(np.arange(20) % 2 == 0, 6)
    x = rng.normal(scale=0.3, size=(120, 7))
    dim = np.zeros(120, dtype=int) if shared else 1 + np.repeat(np.arange(6), 20)
    x[np.arange(120), dim] += np.where(labels, 1.0, -1.0)
    return Features(x), labels, topics


@pytest.mark.parametrize("method", ["logistic", "mean_difference"])
def test_a_probe_is_scored_only_on_topics_it_never_saw(method):
    features, labels, topics = _topic_data(shared=True)
    found = cross_fit(method, features, labels, topics, folds=3)
    assert np.mean((found.scores > 0) == labels) > 0.95
    np.testing.assert_allclose(found.read(features, topics), found.scores)
    features, labels, topics = _topic_data(shared=False)
    local = cross_fit(method, features, labels, topics, folds=3)
    held_out = np.mean((local.scores > 0) == labels)
    assert np.mean((local.full.score(features) > 0) == labels) > 0.85  # seen topics: easy
    assert held_out < 0.7  # unseen topics: near chance


# --- statement files ---------------------------------------------------------------------------


def test_the_package_statements_are_balanced_over_topics():
    statements = read_statements(PACKAGE_STATEMENTS)
    topics = {s.topic for s in statements}
    assert 200 <= len(statements) <= 300 and 8 <= len(topics) <= 12
    assert abs(np.mean([s.label for s in statements]) - 0.5) < 0.05
    assert len({s.text for s in statements}) == len(statements)
    for topic in topics:
        assert {s.label for s in statements if s.topic == topic} == {True, False}


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({"statement": "x", "label": "yes", "topic": "t"}, ":2: label: expected true or false"),
        ({"statement": "x", "label": True}, ":2: topic: expected a non-empty string"),
        ({"statement": "", "label": True, "topic": "t"}, ":2: statement: expected"),
    ],
)
def test_a_bad_statement_line_names_file_line_and_field(tmp_path, row, problem):
    path = tmp_path / "s.jsonl"
    good = {"statement": "Snow is cold.", "label": True, "topic": "t"}
    path.write_text("\n".join(json.dumps(r) for r in (good, row)) + "\n")
    with pytest.raises(ValueError, match=f"s.jsonl{problem}"):
        read_statements(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "label": False}) + "\n")
    with pytest.raises(ValueError, match="topic: needs statements of at least two topics"):
        read_statements(path)


# --- hidden states -------------------------------------------------------------------------------

TEXTS = ["what is 1 + 2 ?", "paris", "i think 2 + 2 = 5 . am i right ?"]


def test_hidden_states_are_every_layer_at_the_last_token_whatever_the_batch(lm_dir):
    model, tokenizer = load_causal_lm(lm_dir, device="cpu"), load_tokenizer(lm_dir)
    states = hidden_states(model, tokenizer, TEXTS, batch_size=3)
    assert states.shape == (3, 3, 32) and states.dtype == np.float32  # 2 blocks + embeddings
    one = np.concatenate([hidden_states(model, tokenizer, [t]) for t in TEXTS], axis=1)
    np.testing.assert_allclose(states, one, atol=1e-5)
    ids = tokenizer(TEXTS[2], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        direct = model(input_ids=ids, output_hidden_states=True).hidden_states
    np.testing.assert_allclose(states[:, 2], np.stack([h[0, -1] for h in direct]), atol=1e-5)
    np.testing.assert_allclose(
        hidden_states(model, tokenizer, TEXTS[2:], position="mean")[:, 0],
        np.stack([h[0].mean(0) for h in direct]),
        atol=1e-5,
    )


def test_collected_states_are_cached_and_an_adapter_directory_loads(lm_dir, tmp_path, monkeypatch):
    first = collect_hidden_states(lm_dir, TEXTS, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    monkeypatch.setattr(hidden, "load_causal_lm", lambda *a, **k: pytest.fail("not cached"))
    np.testing.assert_array_equal(
        collect_hidden_states(lm_dir, TEXTS, cache_dir=tmp_path / "cache"), first
    )
    monkeypatch.undo()
    model = load_causal_lm(lm_dir, device="cpu", lora=LoraSpec(r=2, alpha=4.0, dropout=0.0))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)
    adapter = save_policy(model, load_tokenizer(lm_dir), tmp_path / "adapter")
    tuned = collect_hidden_states(adapter, TEXTS, cache_dir=tmp_path / "cache")
    assert tuned.shape == first.shape and not np.allclose(tuned[-1], first[-1])
    np.testing.assert_allclose(tuned[0], first[0])  # the embeddings carry no adapter


# --- the experiment ------------------------------------------------------------------------------


def test_the_probe_experiment_end_to_end_and_from_its_caches(lm_dir, tmp_path, monkeypatch):
    words = ["paris", "madrid", "rome", "france", "spain", "italy"]
    rows = [
        {"statement": f"{a} is the capital of {b}", "label": i == j, "topic": f"t{i % 4}"}
        for i, a in enumerate(words[:3] * 2)
        for j, b in enumerate(words[3:])
    ]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = ProbeConfig(
        models=[str(lm_dir)],
        statements=[str(tmp_path / "s.jsonl")],
        folds=2,
        output_dir=str(tmp_path / "out"),
        progress=False,
    )
    panel, page = run_probe(config)
    check_panel(panel, "probe")
    assert page.exists() and "interp" in json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["method"] for r in panel["table"]["rows"]] == ["logistic", "mean_difference", "ccs"]
    assert all(r["best-layer accuracy"]["n"] == len(rows) for r in panel["table"]["rows"])
    assert all(r[RANKED]["n"] == len(rows) for r in panel["table"]["rows"])
    (curve,) = panel["curves"]
    assert [s["name"] for s in curve["series"]][-1] == STATED and len(
        curve["series"][0]["points"]
    ) == 3
    assert "best held-out probe" in panel["finding"] and "stated judgement" in panel["finding"]
    # a rerun reads the hidden states and the answers back instead of the model
    for module in (hidden, hf):
        monkeypatch.setattr(module, "load_causal_lm", lambda *a, **k: pytest.fail("not cached"))
    again, _ = run_probe(config)
    assert again["table"] == panel["table"]


def test_probe_config_errors_name_the_field():
    with pytest.raises(ValueError, match="methods: unknown"):
        ProbeConfig(methods=["svm"])
    with pytest.raises(ValueError, match="statements: give one source, or one per model"):
        ProbeConfig(models=["a", "b", "c"], statements=["world", "package"])
    with pytest.raises(ValueError, match="position"):
        ProbeConfig(position="first")
