"""PPO and DPO sweeps on a tiny random model: their points, their KL, and their resume."""

import pytest

import alignlab.trainers.dpo as dpo_module
from alignlab.config import from_dict
from alignlab.data.io import read_records, write_records
from alignlab.experiments.sweep.config import SweepConfig
from alignlab.experiments.sweep.dpo import gold_labelled
from alignlab.experiments.sweep.ppo import heldout_pressures
from alignlab.experiments.sweep.runner import run_sweep
from alignlab.goodhart.curves import read_curves
from alignlab.goodhart.points import PointStore
from alignlab.models.reward_fns import batched
from test_goodhart_sweep import run_until_interrupted


@batched
def says_yes(prompts, responses):
    return [r.split().count("yes") / max(1, len(r.split())) for r in responses]


@batched
def says_no(prompts, responses):
    return [r.split().count("no") / max(1, len(r.split())) for r in responses]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_records(root / "train.jsonl", [{"input": f"what is {a} + 1 ?"} for a in range(8)])
    write_records(root / "heldout.jsonl", [{"input": f"tell me {a} + 2 ?"} for a in range(4)])
    pairs = [
        {"prompt": f"what is {a} + 1 ?", "chosen": "yes yes", "rejected": "no"} for a in range(8)
    ]
    write_records(root / "pairs.jsonl", pairs)
    return root


def config(lm_dir, data, out, **fields) -> SweepConfig:
    settings = {
        "policy": str(lm_dir),
        "reward": "test_goodhart_optimizers:says_yes",
        "gold": "test_goodhart_optimizers:says_no",
        "judge": None,
        "prompts": str(data / "train.jsonl"),
        "heldout_prompts": str(data / "heldout.jsonl"),
        "max_prompts": 4,
        "max_new_tokens": 6,
        "batch_size": 4,
        "output_dir": str(out),
        "plots": False,
        **fields,
    }
    return from_dict(SweepConfig, settings)


def test_heldout_pressures():
    assert heldout_pressures(5, 2) == [0, 2, 4, 5]
    assert heldout_pressures(4, 2) == [0, 2, 4]


def test_ppo_sweep_makes_a_point_of_every_step(lm_dir, data, tmp_path):
    ppo = {
        "kl_coefs": [0.1, 0.0],
        "steps": 3,
        "measure_every": 2,
        "oracle": True,
        "settings": {"rollout_size": 4, "batch_size": 4, "max_new_tokens": 6, "lr": 1e-2},
    }
    body = read_curves(run_sweep(config(lm_dir, data, tmp_path, optimizer="ppo", ppo=ppo)))
    runs = {(c["run"], c["split"]): c for c in body["curves"]}
    assert set(runs) == {
        (run, split)
        for run in (
            "ppo/kl_coef=0.1",
            "ppo/kl_coef=0",
            "oracle/ppo/kl_coef=0.1",
            "oracle/ppo/kl_coef=0",
        )
        for split in ("train", "heldout")
    }
    for (_, split), curve in runs.items():
        steps = [p["settings"]["step"] for p in curve["points"]]
        assert steps == ([0, 1, 2] if split == "train" else [0, 2, 3])
        # Before the first update the policy is its reference: no KL at all.
        assert curve["points"][0]["kl"]["value"] == pytest.approx(0.0, abs=1e-5)
        assert curve["points"][0]["proxy"]["n"] == 4
        assert curve["expected_form"] == "rl"
    assert (tmp_path / "ppo" / "kl_coef=0.1" / "model" / "config.json").exists()
    # A finished sweep is not trained again.
    points = PointStore(tmp_path).points
    run_sweep(config(lm_dir, data, tmp_path, optimizer="ppo", ppo=ppo))
    assert PointStore(tmp_path).points == points


def test_dpo_sweep_measures_each_beta_and_resumes_without_retraining(
    lm_dir, data, tmp_path, monkeypatch
):
    dpo = {
        "betas": [0.5, 0.1],
        "train_file": str(data / "pairs.jsonl"),
        "samples_per_prompt": 2,
        "settings": {"max_steps": 2, "batch_size": 4, "lr": 1e-2},
    }
    trained = []
    train = dpo_module.train_dpo
    monkeypatch.setattr(dpo_module, "train_dpo", lambda c: trained.append(c.beta) or train(c))
    body = read_curves(run_sweep(config(lm_dir, data, tmp_path, optimizer="dpo", dpo=dpo)))
    assert trained == [0.5, 0.1]
    for curve in body["curves"]:
        assert curve["run"] == "dpo"
        assert [p["pressure"] for p in curve["points"]] == [0.0, 2.0, 10.0]
        assert [p["settings"]["beta"] for p in curve["points"]] == [None, 0.5, 0.1]
        start, *trained_points = curve["points"]
        assert start["kl"]["value"] == pytest.approx(0.0, abs=1e-5)
        assert start["proxy"]["n"] == 4
        assert all(p["kl"]["value"] != 0.0 for p in trained_points)
    # Drop one point, as if the sweep had been stopped before measuring it.
    store = PointStore(tmp_path)
    lines = store.path.read_text().splitlines()
    store.path.write_text("\n".join(lines[:-1]) + "\n")
    trained.clear()
    run_sweep(config(lm_dir, data, tmp_path, optimizer="dpo", dpo=dpo))
    assert trained == []  # the finished DPO run is reused, only its point is measured again
    assert len(PointStore(tmp_path)) == len(lines)


def test_gold_labelled_pairs_put_the_higher_gold_first_and_drop_ties(tmp_path):
    source = tmp_path / "pairs.jsonl"
    write_records(
        source,
        [
            {"prompt": "a", "chosen": "yes", "rejected": "no"},
            {"prompt": "b", "chosen": "no no", "rejected": "yes no"},
            {"prompt": "c", "chosen": "yes", "rejected": "hi there"},
        ],
    )
    out = gold_labelled(str(source), says_no, tmp_path / "gold.jsonl")
    pairs = read_records(out, "comparison")
    assert [(c.prompt, c.chosen, c.rejected) for c in pairs] == [
        ("a", "no", "yes"),
        ("b", "no no", "yes no"),
    ]


def test_an_interrupted_ppo_sweep_resumes_from_its_checkpoint(lm_dir, data, tmp_path, monkeypatch):
    from alignlab.trainers.ppo import PPOTrainer

    ppo = {
        "kl_coefs": [0.0],
        "steps": 4,
        "measure_every": 2,
        "settings": {"rollout_size": 4, "batch_size": 4, "max_new_tokens": 6, "lr": 1e-2},
    }
    sweep = config(lm_dir, data, tmp_path, optimizer="ppo", ppo=ppo)
    # Steps 1 and 2 store train points 0 and 1 and held-out point 0, and step 2 checkpoints;
    # the run dies while storing step 3's rollout.
    finished = run_until_interrupted(sweep, monkeypatch, points=3)
    assert [(p.split, p.pressure) for p in finished] == [
        ("train", 0),
        ("heldout", 0),
        ("train", 1),
    ]

    rolled = []
    rollout = PPOTrainer.rollout
    monkeypatch.setattr(
        PPOTrainer, "rollout", lambda self, step: rolled.append(step) or rollout(self, step)
    )
    body = read_curves(run_sweep(sweep))
    assert rolled == [3, 4]  # from the checkpoint after step 2: steps 1 and 2 are not redone
    store = PointStore(tmp_path)
    for p in finished:
        assert store.points[p.key] == p
    for curve in body["curves"]:
        steps = [p["settings"]["step"] for p in curve["points"]]
        assert steps == ([0, 1, 2, 3] if curve["split"] == "train" else [0, 2, 4])
