"""Sweeps end to end on a tiny random model with toy rewards: points, curves, plots, the
CLI, and resuming an interrupted sweep without recomputing its finished points."""

import importlib
import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

import alignlab.experiments.sweep.best_of_n as bon_module
from alignlab.cli.goodhart import app
from alignlab.config import from_dict
from alignlab.data.io import write_records
from alignlab.experiments.sweep.config import SweepConfig
from alignlab.experiments.sweep.runner import report, run_sweep
from alignlab.goodhart.curves import read_curves
from alignlab.goodhart.points import PointStore
from alignlab.models.reward import RewardModel
from alignlab.models.reward_fns import batched

# The module (not the function trainers exports under its name) whose draws call generate.
generation = importlib.import_module("alignlab.trainers.best_of_n")

NS = [1, 2, 4, 8]
CALLS = {"proxy": 0}


@batched
def longer(prompts, responses):
    """Proxy: more words is better."""
    CALLS["proxy"] += len(responses)
    return [len(r.split()) for r in responses]


@batched
def near_three(prompts, responses):
    """Gold: three words is best."""
    return [-abs(len(r.split()) - 3) for r in responses]


def judge(prompt, response):
    words = len(response.split())
    return SimpleNamespace(category="long" if words > 3 else "short", padded=words > 5)


@pytest.fixture(scope="module")
def prompt_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("prompts")
    write_records(root / "train.jsonl", [{"input": f"what is {a} + 1 ?"} for a in range(4)])
    write_records(root / "heldout.jsonl", [{"input": f"tell me {a} + 2 ?"} for a in range(4)])
    return root / "train.jsonl", root / "heldout.jsonl"


def sweep_config(lm_dir, prompt_files, out, **fields) -> SweepConfig:
    data = {
        "policy": str(lm_dir),
        "reward": "test_goodhart_sweep:longer",
        "gold": "test_goodhart_sweep:near_three",
        "judge": "test_goodhart_sweep:judge",
        "prompts": str(prompt_files[0]),
        "heldout_prompts": str(prompt_files[1]),
        "max_prompts": 4,
        "max_new_tokens": 6,
        "batch_size": 2,
        "output_dir": str(out),
        "best_of_n": {"ns": NS},
        "plots": False,
        **fields,
    }
    return from_dict(SweepConfig, data)


def test_best_of_n_sweep_writes_points_curves_and_plots(lm_dir, prompt_files, tmp_path):
    path = run_sweep(sweep_config(lm_dir, prompt_files, tmp_path, plots=True))
    body = read_curves(path)
    assert {(c["run"], c["split"]) for c in body["curves"]} == {
        (run, split) for run in ("best_of_n", "oracle/best_of_n") for split in ("train", "heldout")
    }
    for name in ("goodhart-train.png", "goodhart-train.svg", "goodhart-heldout.svg"):
        assert (tmp_path / name).stat().st_size > 0
    by_key = {(c["run"], c["split"]): c for c in body["curves"]}
    for split in ("train", "heldout"):
        proxy_run = by_key[("best_of_n", split)]
        oracle_run = by_key[("oracle/best_of_n", split)]
        assert [p["settings"]["n"] for p in proxy_run["points"]] == NS
        assert proxy_run["proxy_monotone"]
        assert proxy_run["points"][0]["kl"]["value"] == 0.0
        assert proxy_run["points"][-1]["sqrt_kl"] == pytest.approx(np.sqrt(np.log(8) - 7 / 8))
        for p, o in zip(proxy_run["points"], oracle_run["points"], strict=True):
            # Picking by gold can only do better on gold than picking by the proxy.
            assert o["gold"]["value"] >= p["gold"]["value"] - 1e-12
            assert p["proxy"]["n"] == 4
        failures = proxy_run["points"][-1]["failures"]
        assert set(failures) <= {"long", "short", "padded"}
        # The proxy likes length, so selection raises the judged "long" rate.
        long_rate = [
            p["failures"].get("long", {"value": 0.0})["value"] for p in proxy_run["points"]
        ]
        assert long_rate[-1] >= long_rate[0]
        assert "best_of_n" in proxy_run["fits"] and proxy_run["expected_form"] == "best_of_n"


def run_until_interrupted(config: SweepConfig, monkeypatch, *, points: int) -> list:
    """Run ``config``'s sweep until it has stored ``points`` points, then interrupt it while
    it stores the next, as a kill would; return the points it stored."""
    add, finished = PointStore.add, []

    def crash_after(store, point):
        if len(finished) == points:
            raise KeyboardInterrupt
        finished.append(point)
        add(store, point)

    monkeypatch.setattr(PointStore, "add", crash_after)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(config)
    monkeypatch.setattr(PointStore, "add", add)
    return finished


def test_an_interrupted_sweep_resumes_without_recomputing_finished_points(
    lm_dir, prompt_files, tmp_path, monkeypatch
):
    config = sweep_config(lm_dir, prompt_files, tmp_path, best_of_n={"ns": NS, "oracle": False})
    finished = run_until_interrupted(config, monkeypatch, points=3)
    assert len(PointStore(tmp_path)) == 3

    made, generated = [], []
    point, generate = bon_module.point, generation.generate
    monkeypatch.setattr(bon_module, "point", lambda *a, **k: made.append(k) or point(*a, **k))
    monkeypatch.setattr(
        generation, "generate", lambda *a, **k: generated.append(a[2]) or generate(*a, **k)
    )
    CALLS["proxy"] = 0
    run_sweep(config)
    store = PointStore(tmp_path)
    assert len(store) == 2 * len(NS)
    # Only the 5 missing points are computed, and only the held-out split is sampled and
    # scored: the train split's samples and scores come back from their caches.
    assert sorted((k["split"], k["pressure"]) for k in made) == [("heldout", n) for n in NS] + [
        ("train", 8)
    ]
    assert [p for batch in generated for p in batch] == [f"tell me {a} + 2 ?" for a in range(4)]
    assert CALLS["proxy"] == 4 * max(NS)
    for p in finished:
        assert store.points[p.key] == p
    # Nothing is left to do: a third run computes nothing at all.
    made.clear()
    run_sweep(config)
    assert made == []


def test_sampling_continues_past_a_torn_journal_line(lm_dir, prompt_files, tmp_path):
    from alignlab.models.loading import load_causal_lm, load_tokenizer

    config = sweep_config(lm_dir, prompt_files, tmp_path, best_of_n={"ns": NS, "oracle": False})
    config.batch_size = 2

    def load():
        return load_causal_lm(lm_dir, device="cpu"), load_tokenizer(lm_dir)

    first = bon_module.sample(config, "train", tmp_path / "samples", load)
    journal = tmp_path / "samples" / "train.jsonl"
    lines = journal.read_text().splitlines()
    # A run killed while writing its second batch: one whole row and half of the next.
    journal.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])
    again = bon_module.sample(config, "train", tmp_path / "samples", load)
    assert again == first
    # Every line parses again; the torn batch was sampled anew, its whole row repeated.
    rows = [json.loads(line) for line in journal.read_text().splitlines()]
    assert {row["index"] for row in rows} == set(range(len(first)))


def test_a_sweep_refuses_the_points_of_another_config(lm_dir, prompt_files, tmp_path):
    run_sweep(sweep_config(lm_dir, prompt_files, tmp_path, heldout_prompts=None))
    with pytest.raises(ValueError, match="reward"):
        run_sweep(
            sweep_config(
                lm_dir,
                prompt_files,
                tmp_path,
                heldout_prompts=None,
                reward="test_goodhart_sweep:near_three",
            )
        )
    # Runtime settings (threads, plots, the warning rule) may change, and the sweep may move.
    run_sweep(sweep_config(lm_dir, prompt_files, tmp_path, heldout_prompts=None, threads=2))
    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    shutil.copytree(tmp_path, moved)
    made = len(PointStore(moved))
    run_sweep(sweep_config(lm_dir, prompt_files, moved, heldout_prompts=None))
    assert len(PointStore(moved)) == made


def test_cli_sweep_and_report(lm_dir, prompt_files, tmp_path):
    out = tmp_path / "sweep"
    config = tmp_path / "sweep.toml"
    config.write_text(
        f'policy = "{lm_dir}"\nreward = "test_goodhart_sweep:longer"\n'
        f'gold = "test_goodhart_sweep:near_three"\njudge = "test_goodhart_sweep:judge"\n'
        f'prompts = "{prompt_files[0]}"\nheldout_prompts = "{prompt_files[1]}"\n'
        f'max_prompts = 4\nmax_new_tokens = 6\nbatch_size = 2\noutput_dir = "{out}"\n'
        "[best_of_n]\nns = [1, 2, 4]\n"
    )
    runner = CliRunner()
    result = runner.invoke(app, ["sweep", "--config", str(config), "--set", "plots=false"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("curves.json")
    assert "best_of_n" in result.output and "R²" in result.output
    assert not (out / "goodhart-train.png").exists()
    (out / "curves.json").unlink()
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "curves.json").read_text())["config"]["plots"] is False
    bad = runner.invoke(app, ["sweep", "--config", str(config), "--set", "optimizer=sgd"])
    assert bad.exit_code == 2 and "optimizer" in bad.output
    missing = runner.invoke(
        app,
        [
            "sweep",
            "--config",
            str(config),
            "--set",
            "reward=nowhere",
            "--set",
            f"output_dir='{tmp_path / 'other'}'",
        ],
    )
    assert missing.exit_code == 1 and "nowhere" in missing.output
    assert not (tmp_path / "other").exists()
    empty = runner.invoke(app, ["report", str(tmp_path / "none")])
    assert empty.exit_code == 1


def test_report_needs_points(tmp_path):
    (tmp_path / "sweep.json").write_text('{"optimizer": "best_of_n"}')
    with pytest.raises(ValueError, match="no points"):
        report(tmp_path)


def test_a_cached_ensemble_never_stands_in_for_another_proxy(lm_dir, prompt_files, tmp_path):
    ensemble = tmp_path / "ensemble"
    for k in range(2):
        RewardModel.from_causal_lm(lm_dir, seed=k).save(ensemble / f"member_{k}")
    common = {
        "ensemble": str(ensemble),
        "heldout_prompts": None,
        "best_of_n": {"ns": [1, 2], "oracle": False, "samples_dir": str(tmp_path / "samples")},
    }
    mean = read_curves(
        run_sweep(
            sweep_config(lm_dir, prompt_files, tmp_path / "mean", reward=str(ensemble), **common)
        )
    )
    member = read_curves(
        run_sweep(
            sweep_config(
                lm_dir,
                prompt_files,
                tmp_path / "member",
                reward=str(ensemble / "member_0"),
                **common,
            )
        )
    )
    samples = [
        json.loads(line) for line in next((tmp_path / "samples").glob("*/train.jsonl")).open()
    ]
    prompts = [row["prompt"] for row in samples for _ in row["responses"]]
    texts = [t for row in samples for t in row["responses"]]
    first = RewardModel.load(ensemble / "member_0").score(prompts, texts).numpy()
    second = RewardModel.load(ensemble / "member_1").score(prompts, texts).numpy()
    start = {c["run"]: c["points"][0] for c in mean["curves"]}["best_of_n"]
    assert start["proxy"]["value"] == pytest.approx(((first + second) / 2).mean(), abs=1e-5)
    start = {c["run"]: c["points"][0] for c in member["curves"]}["best_of_n"]
    assert start["proxy"]["value"] == pytest.approx(first.mean(), abs=1e-5)
    assert "disagreement" in start["signals"]
