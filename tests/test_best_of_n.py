import itertools
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from alignlab.cli.bon import app as bon_app
from alignlab.data.io import read_records, write_records
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.models.reward_fns import batched
from alignlab.trainers.best_of_n import (
    best_of_n,
    best_of_n_curve,
    expected_best_of_n,
    order_weights,
    select,
)
from tiny_models import write_tiny_causal_lm

PROMPTS = ["what is 2 + 3 ?", "hi", "tell me a long story please"]


@batched
def length(prompts, responses):
    """Proxy: longer is better."""
    return [len(r.split()) for r in responses]


@batched
def brevity(prompts, responses):
    """Gold: shorter is better."""
    return [-len(r.split()) for r in responses]


def brute_force(proxy: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Average over every n-subset of the value of its pick (highest proxy, earliest on ties)."""
    out = []
    for row_proxy, row_values in zip(proxy, values, strict=True):
        picks = []
        for subset in itertools.combinations(range(len(row_proxy)), n):
            best = max(subset, key=lambda i: (row_proxy[i], -i))
            picks.append(row_values[best])
        out.append(np.mean(picks))
    return np.array(out)


@pytest.mark.parametrize("seed", range(12))
def test_estimator_equals_brute_force_over_all_subsets(seed):
    rng = np.random.default_rng(seed)
    n_max = int(rng.integers(1, 8))
    prompts = int(rng.integers(1, 4))
    # A few distinct values, so ties in the proxy are common.
    proxy = rng.integers(0, 3, size=(prompts, n_max)).astype(float)
    gold = rng.normal(size=(prompts, n_max))
    for n in range(1, n_max + 1):
        np.testing.assert_allclose(
            expected_best_of_n(proxy, gold, n), brute_force(proxy, gold, n), rtol=1e-12
        )
        np.testing.assert_allclose(
            expected_best_of_n(proxy, proxy, n), brute_force(proxy, proxy, n), rtol=1e-12
        )


def test_order_weights():
    assert order_weights(1, 4).tolist() == [0.25] * 4
    assert order_weights(4, 4).tolist() == [0, 0, 0, 1]
    # n = 2 of 4: the i-th smallest wins (i - 1) of the 6 pairs.
    np.testing.assert_allclose(order_weights(2, 4), [0, 1 / 6, 2 / 6, 3 / 6])
    np.testing.assert_allclose(order_weights(5, 40).sum(), 1.0)
    with pytest.raises(ValueError, match="n must lie in"):
        order_weights(5, 4)


def test_select_takes_the_best_of_the_first_n_and_the_earliest_on_ties():
    proxy = np.array([[1.0, 3.0, 3.0, 5.0], [2.0, 2.0, 0.0, 2.0]])
    assert select(proxy, 1).tolist() == [0, 0]
    assert select(proxy, 3).tolist() == [1, 0]
    assert select(proxy, 4).tolist() == [3, 0]


def test_curve_has_the_analytic_kl_and_intervals_over_prompts():
    rng = np.random.default_rng(0)
    proxy, gold = rng.normal(size=(20, 8)), rng.normal(size=(20, 8))
    points = best_of_n_curve(proxy, gold, [1, 2, 8])
    assert [p.n for p in points] == [1, 2, 8]
    assert [p.kl for p in points] == [math.log(n) - (n - 1) / n for n in (1, 2, 8)]
    assert points[0].kl == 0.0
    assert points[0].proxy.value == pytest.approx(proxy.mean())
    assert points[0].gold.value == pytest.approx(gold.mean())
    assert points[2].proxy.value == pytest.approx(proxy.max(axis=1).mean())
    assert all(p.proxy.n == 20 and p.proxy.lo <= p.proxy.value <= p.proxy.hi for p in points)
    assert [p.proxy.value for p in points] == sorted(p.proxy.value for p in points)


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    return write_tiny_causal_lm(tmp_path_factory.mktemp("policy"))


@pytest.fixture(scope="module")
def policy(policy_dir):
    return load_causal_lm(policy_dir, device="cpu"), load_tokenizer(policy_dir)


def test_best_of_n_samples_scores_and_selects(policy, tmp_path):
    model, tokenizer = policy
    result = best_of_n(
        model, tokenizer, PROMPTS, length, (1, 2, 4), gold_fn=brevity, max_new_tokens=6,
        seed=3, progress=False,
    )  # fmt: skip
    assert result.proxy.shape == result.gold.shape == (3, 4)
    assert [len(r) for r in result.responses] == [4, 4, 4]
    np.testing.assert_array_equal(result.gold, -result.proxy)
    for n in (1, 2, 4):
        picked = result.selected_responses(n)
        assert [len(r.split()) for r in picked] == result.proxy[:, :n].max(axis=1).tolist()
    # Pushing on length selects long responses, which the brevity gold dislikes.
    values = [p.proxy.value for p in result.points]
    assert values == sorted(values)
    assert [p.gold.value for p in result.points] == [-v for v in values]

    again = best_of_n(
        model, tokenizer, PROMPTS, length, (1, 2, 4), max_new_tokens=6, seed=3, progress=False
    )
    assert again.responses == result.responses and again.gold is None

    result.write(tmp_path)
    summary = json.loads((tmp_path / "bon.json").read_text())
    assert summary["n_prompts"] == 3 and summary["n_max"] == 4
    assert [p["n"] for p in summary["points"]] == [1, 2, 4]
    assert summary["points"][1]["proxy"]["value"] == pytest.approx(result.points[1].proxy.value)
    records = read_records(tmp_path / "samples.jsonl", "demonstration")
    assert len(records) == 12
    first = records[0].meta
    assert first["prompt_index"] == 0 and first["sample"] == 0 and 1 in first["best_of"]
    assert first["gold"] == -first["proxy"]


def test_best_of_n_refuses_bad_ns(policy):
    model, tokenizer = policy
    with pytest.raises(ValueError, match="positive integers"):
        best_of_n(model, tokenizer, PROMPTS, length, (0, 2))
    with pytest.raises(ValueError, match="n_max=2 is below"):
        best_of_n(model, tokenizer, PROMPTS, length, (1, 4), n_max=2)


def test_bon_command(policy_dir, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    write_records(prompts, [{"input": p} for p in PROMPTS])
    out = tmp_path / "out"
    args = ["--policy", str(policy_dir), "--reward", "test_best_of_n:length", "--prompts"]
    args += [str(prompts), "--out", str(out), "--n", "1,2", "--gold", "test_best_of_n:brevity"]
    result = CliRunner().invoke(bon_app, [*args, "--max-new-tokens", "4", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert [p["n"] for p in json.loads((out / "bon.json").read_text())["points"]] == [1, 2]
    assert len(read_records(out / "samples.jsonl")) == 6


def test_bon_command_reports_user_errors(policy_dir, tmp_path):
    base = ["--policy", str(policy_dir), "--reward", "test_best_of_n:length"]
    base += ["--out", str(tmp_path / "out")]
    missing = CliRunner().invoke(bon_app, [*base, "--prompts", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 1 and "none.jsonl" in missing.output
    assert "Traceback" not in missing.output
    bad_n = CliRunner().invoke(bon_app, [*base, "--prompts", "p.jsonl", "--n", "1,x"])
    assert bad_n.exit_code == 2 and "comma-separated integers" in bad_n.output
    prompts = tmp_path / "prompts.jsonl"
    write_records(prompts, [{"input": "hi"}])
    bad_reward = [*base[:2], "--reward", "nowhere/rm", *base[4:], "--prompts", str(prompts)]
    result = CliRunner().invoke(bon_app, bad_reward)
    assert result.exit_code == 1 and "names no reward" in result.output
