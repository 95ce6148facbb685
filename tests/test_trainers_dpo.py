import math

import pytest
import torch
from safetensors.torch import load_file

from alignlab.data.io import write_records
from alignlab.models.loading import load_causal_lm, load_tokenizer
from alignlab.models.sequences import collate, encode_pairs, sequence_logps
from alignlab.trainers import DPOConfig, read_metrics, train_dpo

PAIRS = [
    {
        "prompt": f"what is {a} + {b} ?",
        "chosen": f"{a} + {b} = {a + b} .",
        "rejected": f"i do not know {a} .",
    }
    for a in range(4)
    for b in range(3)
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_records(root / "prefs.jsonl", PAIRS)
    write_records(root / "soft.jsonl", [{**p, "weight": 0.75} for p in PAIRS])
    write_records(root / "prompts.jsonl", [{"input": p["prompt"]} for p in PAIRS[:4]])
    return root


def config(lm_dir, data, out, **overrides) -> DPOConfig:
    settings = dict(
        model=str(lm_dir),
        train_file=str(data / "prefs.jsonl"),
        output_dir=str(out),
        batch_size=4,
        lr=1e-3,
        max_steps=4,
        progress=False,
    )
    return DPOConfig(**{**settings, **overrides})


def logps_of(model_dir, responses, *, average=False):
    model, tokenizer = load_causal_lm(model_dir, device="cpu"), load_tokenizer(model_dir)
    pairs = encode_pairs(tokenizer, [p["prompt"] for p in PAIRS], responses, max_length=256)
    with torch.no_grad():
        return sequence_logps(model, collate(pairs, tokenizer.pad_token_id), average=average)


def test_dpo_run_starts_at_log_2_and_raises_the_chosen_margin(lm_dir, data, tmp_path):
    model_dir = train_dpo(config(lm_dir, data, tmp_path / "run"))
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    # At the first step the policy is the reference: every log-ratio is 0.
    assert rows[0]["loss"] == pytest.approx(math.log(2), abs=1e-6)
    assert rows[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    assert rows[-1]["rewards/margins"] > 0 and rows[-1]["loss"] < math.log(2)
    assert {"rewards/accuracies", "logps/chosen", "logps/rejected"} <= set(rows[0])

    chosen = [p["chosen"] for p in PAIRS]
    rejected = [p["rejected"] for p in PAIRS]
    margin_before = logps_of(lm_dir, chosen) - logps_of(lm_dir, rejected)
    margin_after = logps_of(model_dir, chosen) - logps_of(model_dir, rejected)
    assert (margin_after - margin_before).mean() > 0


def test_reference_logps_are_computed_once_from_the_starting_weights(lm_dir, data, tmp_path):
    train_dpo(config(lm_dir, data, tmp_path / "run", max_steps=1))
    saved = load_file(tmp_path / "run" / "reference_logps.safetensors")
    chosen = logps_of(lm_dir, [p["chosen"] for p in PAIRS])
    rejected = logps_of(lm_dir, [p["rejected"] for p in PAIRS])
    torch.testing.assert_close(saved["chosen"], chosen, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(saved["rejected"], rejected, rtol=1e-5, atol=1e-5)


def test_simpo_is_reference_free_on_length_normalized_logps(lm_dir, data, tmp_path):
    cfg = config(lm_dir, data, tmp_path / "run", loss_type="simpo", batch_size=12, max_steps=1)
    train_dpo(cfg)
    assert not (tmp_path / "run" / "reference_logps.safetensors").exists()
    row = read_metrics(tmp_path / "run")[0]
    chosen = logps_of(lm_dir, [p["chosen"] for p in PAIRS], average=True)
    rejected = logps_of(lm_dir, [p["rejected"] for p in PAIRS], average=True)
    assert row["logps/chosen"] == pytest.approx(float(chosen.mean()), abs=1e-5)
    gap = float((chosen - rejected).mean())
    assert row["rewards/margins"] == pytest.approx(cfg.beta * gap, abs=1e-5)


def test_ipo_with_soft_labels_and_eval_tracking(lm_dir, data, tmp_path):
    cfg = config(
        lm_dir,
        data,
        tmp_path / "run",
        loss_type="ipo",
        train_file=str(data / "soft.jsonl"),
        eval_prompts=str(data / "prompts.jsonl"),
        eval_max_new_tokens=4,
        eval_every=2,
        gold="test_trainers_dpo:short",
    )
    train_dpo(cfg)
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4]
    # IPO at h = 0 with p = 0.75: (0 - 0.25 / beta)^2.
    assert rows[1]["loss"] == pytest.approx((0.25 / cfg.beta) ** 2, rel=1e-5)
    evals = [r for r in rows if "gold/mean" in r]
    assert [r["step"] for r in evals] == [0, 2, 4]
    # Before the first step the policy is its reference.
    assert evals[0]["kl"] == 0.0 and "loss" not in evals[0]
    assert all(r["response/length"] <= 4 for r in evals)


def short(prompt, response: str) -> float:
    return -float(len(response.split()))


def test_hard_label_losses_refuse_soft_labels(lm_dir, data, tmp_path):
    cfg = config(lm_dir, data, tmp_path / "run", loss_type="hinge")
    cfg.train_file = str(data / "soft.jsonl")
    with pytest.raises(ValueError, match=r"soft\.jsonl: record 1 has weight 0\.75"):
        train_dpo(cfg)


def test_bad_dpo_settings_are_refused():
    with pytest.raises(ValueError, match=r"loss_type: unknown 'kto'; known: .*simpo"):
        DPOConfig(model="m", train_file="t.jsonl", loss_type="kto")
    with pytest.raises(ValueError, match="beta: must be > 0"):
        DPOConfig(model="m", train_file="t.jsonl", beta=0.0)
    with pytest.raises(ValueError, match="'hinge' does not use it"):
        DPOConfig(model="m", train_file="t.jsonl", loss_type="hinge", label_smoothing=0.1)
