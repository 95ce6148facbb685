"""Constitutional AI end to end on a tiny assistant world: revise, fine-tune, label, DPO."""

import pytest

from alignlab.config import from_dict
from alignlab.data import read_records
from alignlab.feedback import LabelConfig, ReviseConfig, rejected_path, run_label, run_revise
from alignlab.organisms.assistant.build import build
from test_organism_build import tiny_config


@pytest.mark.slow
def test_sl_cai_and_ai_feedback_run_on_the_organism(tmp_path):
    from alignlab.trainers import DPOConfig, SFTConfig, train_dpo, train_sft

    org = tmp_path / "organism"
    build(org, seed=5, config=tiny_config(), use_cache=False, progress=False)
    base, data = str(org / "base"), org / "data"
    common = {"threads": 1, "progress": False}
    revisions = tmp_path / "revisions.jsonl"
    counts = run_revise(
        from_dict(
            ReviseConfig,
            {
                **common,
                "prompts": str(data / "prompts_train.jsonl"),
                "output": str(revisions),
                "policy": {"model": base, "device": "cpu"},
                "constitution": "organism",
                "rounds": 2,
                "max_new_tokens": 12,
            },
        )
    )
    # The tiny base (6 pretraining steps) cannot critique yet: every critique it writes is
    # blank. Each answer is accounted for, and none of them is passed off as a revision.
    records = read_records(revisions, "demonstration")
    rejected = read_records(rejected_path(revisions), "sample")
    prompts = read_records(data / "prompts_train.jsonl", "sample")
    assert counts["total"] == len(records) + len(rejected) == len(prompts)
    assert counts["revised"] == len(records) == 0
    assert counts["failed"] == counts["empty"] == len(rejected)
    for r in rejected:
        assert r.meta["status"] == "failed" and r.meta["reason"] == "empty"
        assert len(r.meta["rounds"]) == 2 and r.meta["family"]
        assert {step["principle"] for step in r.meta["rounds"]} <= {
            "truth",
            "safety",
            "brevity",
            "honesty",
        }
    model = train_sft(
        from_dict(
            SFTConfig,
            {
                **common,
                "model": base,
                "train_file": str(data / "sft.jsonl"),
                "output_dir": str(tmp_path / "sl_cai"),
            },
        )
    )
    labels = tmp_path / "labels.jsonl"
    summary = run_label(
        from_dict(
            LabelConfig,
            {
                **common,
                "pairs": str(data / "prefs.jsonl"),
                "output": str(labels),
                "feedback": {"model": str(model), "device": "cpu"},
            },
        )
    )
    comparisons = read_records(labels, "comparison")
    assert summary["method"] == "logprobs" and len(comparisons) == summary["total"]
    assert all(0.5 <= c.weight <= 1.0 for c in comparisons)
    train_dpo(
        from_dict(
            DPOConfig,
            {
                **common,
                "model": base,
                "train_file": str(labels),
                "output_dir": str(tmp_path / "dpo"),
            },
        )
    )
    assert (tmp_path / "dpo" / "model").exists()
