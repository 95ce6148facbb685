import json

import numpy as np
import pytest
import torch

from alignlab.data.io import write_records
from alignlab.data.records import Comparison
from alignlab.models.loading import LoraSpec, load_tokenizer
from alignlab.models.reward import RewardEnsemble, RewardModel
from alignlab.models.sequences import encode_pair
from alignlab.trainers import RewardConfig, read_metrics, train_reward
from alignlab.trainers.preferences import (
    PreferenceExample,
    collate_comparisons,
    encode_comparisons,
)

PAIRS = [
    {
        "prompt": f"what is {a} + {b} ?",
        "chosen": f"{a} + {b} = {a + b} .",
        "rejected": f"i do not know {a} .",
        "weight": 0.8 if a == 0 else 1.0,
    }
    for a in range(4)
    for b in range(4)
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_records(root / "prefs.jsonl", PAIRS[::2])
    write_records(root / "heldout.jsonl", PAIRS[1::2])
    return root


def config(lm_dir, data, out, **overrides) -> RewardConfig:
    settings = dict(
        model=str(lm_dir),
        train_file=str(data / "prefs.jsonl"),
        eval_file=str(data / "heldout.jsonl"),
        output_dir=str(out),
        batch_size=4,
        lr=3e-3,
        epochs=3,
        eval_every=3,
        progress=False,
    )
    return RewardConfig(**{**settings, **overrides})


def test_batches_hold_chosen_then_rejected_and_the_soft_labels(lm_dir):
    tokenizer = load_tokenizer(lm_dir)
    comparisons = [Comparison.from_dict(p) for p in PAIRS[:2]]
    examples = encode_comparisons(tokenizer, comparisons, max_length=64)
    assert examples[0] == PreferenceExample(
        encode_pair(tokenizer, PAIRS[0]["prompt"], PAIRS[0]["chosen"]),
        encode_pair(tokenizer, PAIRS[0]["prompt"], PAIRS[0]["rejected"]),
        0.8,
    )
    batch = collate_comparisons(examples, tokenizer.pad_token_id)
    assert batch["input_ids"].shape[0] == 4
    assert batch["labels"].tolist() == pytest.approx([0.8, 0.8])
    first_rejected = examples[0].rejected.input_ids
    assert batch["input_ids"][2, : len(first_rejected)].tolist() == first_rejected
    assert "ref_chosen_logps" not in batch


def test_reward_run_learns_the_preference_and_reports_held_out_accuracy(lm_dir, data, tmp_path):
    model_dir = train_reward(config(lm_dir, data, tmp_path / "run"))
    model = RewardModel.load(model_dir, device="cpu")
    chosen = model.score([p["prompt"] for p in PAIRS], [p["chosen"] for p in PAIRS])
    rejected = model.score([p["prompt"] for p in PAIRS], [p["rejected"] for p in PAIRS])
    assert (chosen > rejected).float().mean() > 0.9

    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == list(range(7))  # 8 pairs / 4 = 2 steps per epoch
    assert {"accuracy", "margin", "rewards/chosen", "rewards/rejected"} <= set(rows[1])
    evals = [r for r in rows if "eval/accuracy" in r]
    assert [r["step"] for r in evals] == [0, 3, 6]
    assert evals[-1]["eval/n"] == 8.0
    assert evals[-1]["eval/accuracy_lo"] <= evals[-1]["eval/accuracy"] <= 1.0

    summary = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert summary["eval_file"] == str(data / "heldout.jsonl")
    assert summary["accuracy"]["n"] == 8
    assert summary["accuracy"]["value"] == pytest.approx(evals[-1]["eval/accuracy"])


def test_ensemble_members_train_on_resamples_with_their_own_seeds(lm_dir, data, tmp_path):
    run = tmp_path / "run"
    model_dir = train_reward(config(lm_dir, data, run, ensemble=2, epochs=1, eval_every=0))
    ensemble = RewardEnsemble.load(model_dir, device="cpu")
    assert len(ensemble) == 2
    heads = [m.model.score.weight for m in ensemble.members]
    assert not torch.equal(*heads)
    for k in range(2):
        rows = read_metrics(run / f"member_{k}")
        assert [r["step"] for r in rows] == [0, 1, 2] and "eval/accuracy" in rows[-1]
    losses = [read_metrics(run / f"member_{k}")[1]["loss"] for k in range(2)]
    assert losses[0] != losses[1]

    summary = json.loads((run / "eval.json").read_text())
    assert len(summary["members"]) == 2
    assert {"mean", "min", "mean-1.0std"} <= set(summary)
    scores = ensemble.score([p["prompt"] for p in PAIRS[1::2]], [p["chosen"] for p in PAIRS[1::2]])
    assert scores.members.shape == (2, 8)


def test_lora_reward_model_saves_a_plain_classifier(lm_dir, data, tmp_path):
    cfg = config(lm_dir, data, tmp_path / "run", lora=LoraSpec(r=4), epochs=1, eval_file=None)
    model_dir = train_reward(cfg)
    model = RewardModel.load(model_dir, device="cpu")
    start = RewardModel.from_causal_lm(lm_dir, device="cpu", seed=0)
    # The head is trained in full; the backbone through merged adapters.
    assert not torch.equal(model.model.score.weight, start.model.score.weight)
    q_proj = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(model.model.state_dict()[q_proj], start.model.state_dict()[q_proj])
    assert not (tmp_path / "run" / "eval.json").exists()
    assert np.isfinite(model.score(["hi"], ["hello"]).numpy()).all()


def test_bad_ensemble_and_label_smoothing_are_refused():
    with pytest.raises(ValueError, match="ensemble and eval_batch_size"):
        RewardConfig(model="m", train_file="t.jsonl", ensemble=0)
    with pytest.raises(ValueError, match="label_smoothing"):
        RewardConfig(model="m", train_file="t.jsonl", label_smoothing=0.5)
